"""Spectrophotometric judgement: calibration curve, dilution and mass → content, compared with a limit.

Items measured this way on a multi-parameter analyzer: nitrite (as NaNO₂; limits in GB 2760 for cured
meat and GB 2762 for pickled vegetables), sulfur dioxide (as SO₂; GB 2760), and substances that may
not be in food at all (formaldehyde, borax, rongalite/吊白块: listed by the authorities as non-food
substances illegally added to food, so any detection is positive).  The limit, its unit, whether the
substance is banned, the detection limit and the source clause come from reference data
(``ItemLimit``); this module only does the arithmetic and the comparison.

Calculation:

1. net absorbance = absorbance − reagent blank;
2. solution concentration from the linear curve A = slope × c + intercept fitted to the standards,
   c = (A_net − intercept) / slope, valid only between the lowest and the highest standard;
3. content in the sample = c × extract volume (mL) × dilution / sample mass (g), converted from
   (solution unit · mL / g) to the limit's unit with the table in ``lims.judgement.units``.

Comparison with the limit uses the full, unrounded value (全数值比较法, GB/T 8170-2008 4.3), and a
content equal to the limit complies (limits are maxima, "≤").

Basis of expression: a limit is written "as" a substance (nitrite 以亚硝酸钠计, as NaNO₂).  When the
curve's standards are of another substance (``method.measured_as: NO2-`` with ``method.expressed_as: NaNO2``)
the content is converted with the ratio of molar masses (``lims.judgement.units.basis_factor``) and the basis
is recorded in the details.  Absorbances (reading and blank) outside the photometer's range
(``method.absorbance_range``, default ``DEFAULT_ABSORBANCE_RANGE``) make the reading invalid.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from lims.judgement._numbers import above, at_least, clean, finite, fmt
from lims.judgement.outcome import Judgement, Outcome
from lims.judgement.raw import FiniteFloat, JudgeContext, RawFigures
from lims.judgement.units import CONTENT_UNITS_MG_PER_KG, basis_factor, content_factor, normalise_unit

__all__ = [
    "DEFAULT_ABSORBANCE_RANGE",
    "MIN_R_SQUARED",
    "CalibrationCurve",
    "ItemLimit",
    "Raw",
    "example_raw",
    "judge_raw",
    "judge_spectro",
]

DEFAULT_ABSORBANCE_RANGE = (-0.1, 3.0)
"""Absorbances a photometer reads reliably when the item names no range (a blank may read slightly below 0)."""

MIN_R_SQUARED = 0.99
"""Least coefficient of determination accepted for a calibration curve."""


VALUE_PARAM = "content"
"""The reason parameter that shows the judged figure (shown as reported, rounded by the method)."""


@dataclass(frozen=True)
class CalibrationCurve:
    """Linear curve A = slope × c + intercept, calibrated for c in [min_conc, max_conc] conc_unit."""

    slope: float
    intercept: float
    min_conc: float
    max_conc: float
    conc_unit: str

    def __post_init__(self) -> None:
        """Refuse a curve that cannot turn an absorbance into a concentration."""
        if not finite(self.slope) or self.slope == 0.0:
            raise ValueError(f"slope must be a non-zero number, got {self.slope!r}")
        if not finite(self.intercept):
            raise ValueError(f"intercept must be a number, got {self.intercept!r}")
        if not finite(self.min_conc, self.max_conc) or not 0.0 <= self.min_conc < self.max_conc:
            raise ValueError(
                f"calibrated range must satisfy 0 <= min_conc < max_conc, got {self.min_conc!r}..{self.max_conc!r}"
            )
        content_factor(self.conc_unit, "mg/kg")  # raises ValueError for an unknown unit

    @classmethod
    def from_standards(
        cls,
        points: Sequence[tuple[float, float]],
        conc_unit: str,
        *,
        min_r_squared: float = MIN_R_SQUARED,
    ) -> CalibrationCurve:
        """Fit a curve by least squares to (concentration, absorbance) standards; refuse a poor fit."""
        slope, intercept, r_squared = fit_line(points)
        if r_squared < min_r_squared:
            raise ValueError(
                f"calibration curve rejected: r² = {r_squared:.4f} is below {fmt(min_r_squared)}; "
                "prepare the standards again"
            )
        concs = [c for c, _ in points]
        return cls(slope=slope, intercept=intercept, min_conc=min(concs), max_conc=max(concs), conc_unit=conc_unit)

    def concentration(self, net_absorbance: float) -> float:
        """Concentration of the measured solution for a blank-corrected absorbance."""
        return (net_absorbance - self.intercept) / self.slope


def fit_line(points: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
    """Least-squares line y = slope × x + intercept through (x, y) points: (slope, intercept, r²)."""
    pts = [(float(x), float(y)) for x, y in points]
    if len(pts) < 2:
        raise ValueError(f"a calibration curve needs at least 2 standards, got {len(pts)}")
    if not all(finite(x, y) for x, y in pts):
        raise ValueError("calibration standards must be finite numbers")
    if any(x < 0.0 for x, _ in pts):
        raise ValueError("calibration standards cannot have a negative concentration")
    n = len(pts)
    mean_x = math.fsum(x for x, _ in pts) / n
    mean_y = math.fsum(y for _, y in pts) / n
    sxx = math.fsum((x - mean_x) ** 2 for x, _ in pts)
    if sxx == 0.0:
        raise ValueError("calibration standards need at least 2 different concentrations")
    sxy = math.fsum((x - mean_x) * (y - mean_y) for x, y in pts)
    syy = math.fsum((y - mean_y) ** 2 for _, y in pts)
    if syy == 0.0:
        raise ValueError("calibration standards all have the same absorbance: the curve has no slope")
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    ss_res = math.fsum((y - (slope * x + intercept)) ** 2 for x, y in pts)
    r_squared = max(0.0, 1.0 - ss_res / syy)
    return slope, intercept, r_squared


@dataclass(frozen=True)
class ItemLimit:
    """Limit of an item in a food category: maximum (or banned), unit, detection limit, source clause."""

    limit: float | None
    unit: str
    banned: bool
    detection_limit: float
    source: str

    def __post_init__(self) -> None:
        """Refuse a limit that cannot be judged against."""
        if normalise_unit(self.unit) not in CONTENT_UNITS_MG_PER_KG:
            known = ", ".join(CONTENT_UNITS_MG_PER_KG)
            raise ValueError(f"unknown limit unit {self.unit!r} (known: {known})")
        if not finite(self.detection_limit) or self.detection_limit < 0.0:
            raise ValueError(f"detection_limit must be a number >= 0, got {self.detection_limit!r}")
        if self.banned and self.detection_limit <= 0.0:
            # "positive whenever detected" needs a detection limit above zero, or every reading is positive
            raise ValueError("a banned item needs a detection limit above zero")
        if self.limit is None:
            if not self.banned:
                raise ValueError("an item that is not banned needs a limit")
        elif not finite(self.limit) or self.limit < 0.0:
            raise ValueError(f"limit must be a number >= 0, got {self.limit!r}")
        if not self.source.strip():
            raise ValueError("a limit must cite its source")


def judge_spectro(
    *,
    absorbance: float,
    blank: float,
    curve: CalibrationCurve,
    dilution: float,
    sample_mass_g: float,
    extract_volume_ml: float,
    limit: ItemLimit,
    absorbance_range: tuple[float, float] = DEFAULT_ABSORBANCE_RANGE,
    basis: float = 1.0,
) -> Judgement:
    """Judge a colorimetric reading: content from curve, volume, dilution and mass against the limit.

    `basis` converts the curve's substance into the one the limit is expressed as (1.0: the same)."""
    for name, figure in (
        ("sample_mass_g", sample_mass_g),
        ("dilution", dilution),
        ("extract_volume_ml", extract_volume_ml),
    ):
        if not finite(figure) or figure <= 0.0:
            raise ValueError(f"{name} must be a positive number, got {figure!r}")
    factor = content_factor(curve.conc_unit, limit.unit)
    unit = normalise_unit(limit.unit)
    # content of the sample for a solution concentration c, in the limit's unit
    scale = extract_volume_ml * dilution / sample_mass_g * factor * basis

    details: dict[str, float | str | None] = {
        "absorbance": clean(absorbance),
        "blank": clean(blank),
        "net_absorbance": None,
        "slope": curve.slope,
        "intercept": curve.intercept,
        "min_conc": curve.min_conc,
        "max_conc": curve.max_conc,
        "conc_unit": curve.conc_unit,
        "solution_conc": None,
        "dilution": dilution,
        "sample_mass_g": sample_mass_g,
        "extract_volume_ml": extract_volume_ml,
        "unit_factor": factor,
        "basis_factor": basis,
        "sample_conc": None,
        "limit": limit.limit,
        "unit": unit,
        "banned": "yes" if limit.banned else "no",
        "detection_limit": limit.detection_limit,
        "detection_limit_unit": unit,
        "source": limit.source,
    }

    if not finite(absorbance, blank):
        bad = ", ".join(f"{k}={details[k]}" for k in ("absorbance", "blank") if isinstance(details[k], str))
        return _invalid_non_finite(bad, unit, details)
    low, high = absorbance_range
    outside = [
        f"{k}={fmt(v)}" for k, v in (("absorbance", absorbance), ("blank", blank)) if above(low, v) or above(v, high)
    ]
    if outside:
        return Judgement(
            outcome=Outcome.INVALID,
            value=None,
            unit=unit,
            reason_code="absorbance_out_of_range",
            reason_params={"values": ", ".join(outside), "low": fmt(low), "high": fmt(high)},
            details=details,
        )
    net = absorbance - blank
    conc = curve.concentration(net)
    content = conc * scale
    details.update(net_absorbance=clean(net), solution_conc=clean(conc), sample_conc=clean(content))
    if not finite(net, conc, content):
        return _invalid_non_finite(f"net absorbance {fmt(net)}", unit, details)

    cu = curve.conc_unit
    if above(conc, curve.max_conc):
        return Judgement(
            outcome=Outcome.INVALID,
            value=None,
            unit=unit,
            reason_code="above_range_dilute",
            reason_params={"conc": fmt(conc), "conc_unit": cu, "max_conc": fmt(curve.max_conc)},
            details=details,
        )

    reporting_limit = max(limit.detection_limit, curve.min_conc * scale)
    details["reporting_limit"] = reporting_limit
    below_range = not at_least(conc, curve.min_conc)
    if below_range or not at_least(content, limit.detection_limit):
        why = (
            {
                "code": "below_lowest_standard",
                "params": {"conc": fmt(conc), "conc_unit": cu, "min_conc": fmt(curve.min_conc)},
            }
            if below_range
            else {
                "code": "below_detection_limit",
                "params": {"content": fmt(content), "unit": unit, "detection_limit": fmt(limit.detection_limit)},
            }
        )
        return Judgement(
            outcome=Outcome.NEGATIVE,
            value=None,
            unit=unit,
            reason_code="not_detected",
            reason_params={"why": why, "reporting_limit": fmt(reporting_limit), "unit": unit},
            details=details,
        )

    shown = fmt(content)
    if limit.banned:
        return Judgement(
            outcome=Outcome.POSITIVE,
            value=content,
            unit=unit,
            reason_code="banned_detected",
            reason_params={
                "content": shown,
                "unit": unit,
                "detection_limit": fmt(limit.detection_limit),
                "source": limit.source,
            },
            details=details,
        )
    if limit.limit is None:  # unreachable: ItemLimit requires a limit for items that are not banned
        raise ValueError("an item that is not banned needs a limit")
    if above(content, limit.limit):
        return Judgement(
            outcome=Outcome.POSITIVE,
            value=content,
            unit=unit,
            reason_code="above_limit",
            reason_params={"content": shown, "unit": unit, "limit": fmt(limit.limit), "source": limit.source},
            details=details,
        )
    return Judgement(
        outcome=Outcome.NEGATIVE,
        value=content,
        unit=unit,
        reason_code="within_limit",
        reason_params={"content": shown, "unit": unit, "limit": fmt(limit.limit), "source": limit.source},
        details=details,
    )


def _invalid_non_finite(what: str, unit: str, details: dict[str, float | str | None]) -> Judgement:
    """An invalid judgement for readings that are not finite numbers."""
    return Judgement(
        outcome=Outcome.INVALID,
        value=None,
        unit=unit,
        reason_code="non_finite_input",
        reason_params={"values": what},
        details=details,
    )


# --- the spectro family's raw figures -----------------------------------------------------------------


class Raw(RawFigures):
    """Absorbance, reagent blank, dilution and sample mass; optionally the run's own curve (else the item's)."""

    absorbance: FiniteFloat
    blank: FiniteFloat
    dilution: FiniteFloat
    mass_g: FiniteFloat
    slope: FiniteFloat | None = None
    intercept: FiniteFloat | None = None


def curve_for(raw: Raw, context: JudgeContext) -> CalibrationCurve:
    """The run's own curve when it sent slope and intercept, else the one fitted to the item's standards."""
    method = context.method
    conc_unit = str(method.get("conc_unit", "mg/L"))
    if raw.slope is not None and raw.intercept is not None:
        return CalibrationCurve(
            slope=raw.slope,
            intercept=raw.intercept,
            min_conc=float(method["standards"][0][0]),
            max_conc=float(method["standards"][-1][0]),
            conc_unit=conc_unit,
        )
    return CalibrationCurve.from_standards([(float(c), float(a)) for c, a in method["standards"]], conc_unit)


def judge_raw(raw: Raw, context: JudgeContext) -> Judgement:
    """Judge a reading against the limit of the sample's food category."""
    method = context.method
    item_limit = ItemLimit(
        limit=context.limit,
        unit=context.limit_unit,
        banned=context.banned or context.limit is None,
        detection_limit=float(method.get("detection_limit", 0.0)),
        source=context.limit_source,
    )
    low, high = method.get("absorbance_range", DEFAULT_ABSORBANCE_RANGE)
    expressed = str(method.get("expressed_as", ""))
    measured = str(method.get("measured_as", expressed))
    judged = judge_spectro(
        absorbance=raw.absorbance,
        blank=raw.blank,
        curve=curve_for(raw, context),
        dilution=raw.dilution,
        sample_mass_g=raw.mass_g,
        extract_volume_ml=float(method.get("extract_volume_ml", 50.0)),
        limit=item_limit,
        absorbance_range=(float(low), float(high)),
        basis=basis_factor(measured, expressed),
    )
    if not expressed:
        return judged
    return replace(judged, details={**judged.details, "expressed_as": expressed, "measured_as": measured})


def example_raw(context: JudgeContext, positive: bool, rng: random.Random) -> dict[str, float]:
    """Figures a real run with this outcome would give (kept on the item's calibrated range)."""
    method = context.method
    standards = method["standards"]
    slope = (standards[-1][1] - standards[0][1]) / (standards[-1][0] - standards[0][0])
    nominal = float(method.get("sample_mass_g", 5.0))  # the mass the curve is laid out for
    mass, dilution, volume = round(nominal * rng.uniform(0.96, 1.04), 3), 1.0, float(method["extract_volume_ml"])
    top = standards[-1][0] * 0.85
    expressed = str(method.get("expressed_as", ""))
    basis = basis_factor(str(method.get("measured_as", expressed)), expressed)
    factor = volume * dilution / mass * content_factor(method["conc_unit"], context.limit_unit) * basis
    limit = context.limit
    if positive:
        content = (limit * rng.uniform(1.3, 2.5)) if limit else method["detection_limit"] * rng.uniform(1.5, 3)
    else:
        content = (limit * rng.uniform(0.1, 0.6)) if limit else 0.0
    conc = min(content / factor, top)
    blank = round(rng.uniform(0.01, 0.03), 4)
    absorbance = round(blank + slope * conc + standards[0][1], 4)
    return {"absorbance": absorbance, "blank": blank, "dilution": dilution, "mass_g": mass}
