"""Colloidal gold card judgement (competitive immunochromatography) from T- and C-line intensities.

In the competitive format used for veterinary drugs (clenbuterol, ractopamine, salbutamol,
chloramphenicol, nitrofuran metabolites, malachite green) and mycotoxins (aflatoxin B1), the analyte
in the sample takes up the gold-labelled antibody before it reaches the test line, so the more
analyte, the fainter the T line.  The C (control) line must appear whatever the sample holds; without
it the strip did not run and the test is invalid.  A reader reports both intensities and the kit lot
gives a cut-off on T/C: below the cut-off the sample is positive (suspected, to be confirmed), at or
above it negative.  The cut-off belongs to the kit lot (its instructions for use) and to the matrix the
leaflet validated it for, not to this code: without a kit lot, or with a lot that gives no figures for the
sample's food category, the card is judged invalid.  The lot's detection limit for the matrix goes into the
details (``detection_limit``, ``detection_limit_unit``) so that a public result can state it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from lims.judgement._numbers import at_least, clean, finite, fmt
from lims.judgement.outcome import Judgement, Outcome
from lims.judgement.raw import CannotJudge, FiniteFloat, JudgeContext, KitFigures, RawFigures

__all__ = ["USES_KIT_LOT", "GoldKit", "Raw", "example_raw", "judge_gold", "judge_raw", "kit_for", "matrix_figures"]

USES_KIT_LOT = True
"""A card's cut-off belongs to its kit lot and the matrix: a result without them is invalid."""


VALUE_PARAM = "ratio"
"""The reason parameter that shows the judged figure (shown as reported, rounded by the method)."""


@dataclass(frozen=True)
class GoldKit:
    """A kit lot's reading rules: T/C cut-off and the weakest C line that counts as present."""

    cutoff_tc: float
    min_c_intensity: float

    def __post_init__(self) -> None:
        """Refuse a cut-off or C-line minimum no kit could have."""
        if not finite(self.cutoff_tc) or self.cutoff_tc <= 0.0:
            raise ValueError(f"cutoff_tc must be a positive number, got {self.cutoff_tc!r}")
        if not finite(self.min_c_intensity) or self.min_c_intensity <= 0.0:
            raise ValueError(f"min_c_intensity must be a positive number, got {self.min_c_intensity!r}")


def judge_gold(*, t_intensity: float, c_intensity: float, kit: GoldKit) -> Judgement:
    """Judge a card: no C line → invalid; T/C below the kit's cut-off → positive; else negative."""
    details: dict[str, float | str | None] = {
        "t_intensity": clean(t_intensity),
        "c_intensity": clean(c_intensity),
        "cutoff_tc": kit.cutoff_tc,
        "min_c_intensity": kit.min_c_intensity,
        "tc_ratio": None,
    }
    if not finite(t_intensity, c_intensity):
        bad = ", ".join(f"{k}={v}" for k, v in details.items() if isinstance(v, str))
        return Judgement(
            outcome=Outcome.INVALID,
            value=None,
            unit="T/C",
            reason_code="non_finite_input",
            reason_params={"values": bad},
            details=details,
        )
    if t_intensity < 0.0 or c_intensity < 0.0:
        return Judgement(
            outcome=Outcome.INVALID,
            value=None,
            unit="T/C",
            reason_code="negative_intensity",
            reason_params={"t": fmt(t_intensity), "c": fmt(c_intensity)},
            details=details,
        )
    if not at_least(c_intensity, kit.min_c_intensity):
        return Judgement(
            outcome=Outcome.INVALID,
            value=None,
            unit="T/C",
            reason_code="no_c_line",
            reason_params={"c": fmt(c_intensity), "min_c": fmt(kit.min_c_intensity)},
            details=details,
        )

    ratio = t_intensity / c_intensity
    details["tc_ratio"] = ratio
    if not finite(ratio):  # only reachable with absurd intensities near the float range
        details["tc_ratio"] = clean(ratio)
        return Judgement(
            outcome=Outcome.INVALID,
            value=None,
            unit="T/C",
            reason_code="non_finite_input",
            reason_params={"values": f"T/C of T {fmt(t_intensity)}, C {fmt(c_intensity)}"},
            details=details,
        )
    shown, cutoff = fmt(ratio), fmt(kit.cutoff_tc)
    if at_least(ratio, kit.cutoff_tc):
        return Judgement(
            outcome=Outcome.NEGATIVE,
            value=ratio,
            unit="T/C",
            reason_code="tc_at_or_above_cutoff",
            reason_params={"ratio": shown, "cutoff": cutoff},
            details=details,
        )
    return Judgement(
        outcome=Outcome.POSITIVE,
        value=ratio,
        unit="T/C",
        reason_code="tc_below_cutoff",
        reason_params={"ratio": shown, "cutoff": cutoff},
        details=details,
    )


# --- the gold family's raw figures --------------------------------------------------------------------


class Raw(RawFigures):
    """The T- and C-line intensities the reader measured."""

    t: FiniteFloat
    c: FiniteFloat


def kit_for(context: JudgeContext) -> GoldKit | Judgement:
    """The cut-off and C-line minimum of the kit lot for the sample's matrix, or the invalid judgement saying why not.

    There is no default cut-off: a card is read against its own lot's leaflet, for the matrix tested (aflatoxin
    B1 at T/C 0.7 is not the same finding in maize, limit 20 µg/kg, as in wheat, limit 5 µg/kg)."""
    kit = context.kit
    if kit is None:
        return _invalid("no_kit_lot", {"item_code": context.item_code}, {})
    figures = matrix_figures(kit, context.category_code)
    details: dict[str, float | str | None] = {"kit_lot": kit.lot, "matrix": context.category_code}
    cutoff, min_c = figures.get("cutoff_tc"), figures.get("min_c_intensity")
    if figures.get("listed") is None or cutoff is None or min_c is None:
        return _invalid("kit_lot_no_matrix", {"lot": kit.lot, "matrix": context.category_code}, details)
    try:
        return GoldKit(cutoff_tc=float(cutoff), min_c_intensity=float(min_c))
    except (TypeError, ValueError):
        return _invalid("kit_lot_no_matrix", {"lot": kit.lot, "matrix": context.category_code}, details)


def matrix_figures(kit: KitFigures, matrix: str) -> dict[str, Any]:
    """The lot's figures for `matrix`: its own entry over the lot-wide ones.

    A lot that lists matrices covers those only (``listed`` is None for any other); a lot that lists none gives
    one set of figures for every matrix."""
    entry = kit.matrices.get(matrix) if matrix else None
    own: Mapping[str, Any] = entry if isinstance(entry, Mapping) else {}
    return {
        "listed": True if entry is not None or not kit.matrices else None,
        "cutoff_tc": own.get("cutoff_tc", kit.cutoff_tc),
        "min_c_intensity": own.get("min_c_intensity", kit.min_c_intensity),
        "detection_limit": own.get("detection_limit", kit.detection_limit),
        "detection_limit_unit": own.get("detection_limit_unit", kit.detection_limit_unit),
    }


def _invalid(code: str, params: dict[str, Any], details: dict[str, float | str | None]) -> Judgement:
    return Judgement(
        outcome=Outcome.INVALID, value=None, unit="T/C", reason_code=code, reason_params=params, details=details
    )


def judge_raw(raw: Raw, context: JudgeContext) -> Judgement:
    """Judge a card line against its kit lot's figures for the sample's matrix (invalid without them)."""
    kit = kit_for(context)
    if isinstance(kit, Judgement):
        return kit
    assert context.kit is not None
    figures = matrix_figures(context.kit, context.category_code)
    judged = judge_gold(t_intensity=raw.t, c_intensity=raw.c, kit=kit)
    limit = figures["detection_limit"]
    details = {
        **judged.details,
        "kit_lot": context.kit.lot,
        "matrix": context.category_code,
        "detection_limit": float(limit) if limit is not None else None,
        "detection_limit_unit": str(figures["detection_limit_unit"] or context.limit_unit),
    }
    return replace(judged, details=details)


def example_raw(context: JudgeContext, positive: bool, rng: random.Random) -> dict[str, float]:
    """T and C intensities a real card with this outcome would give (needs the lot's figures for the matrix)."""
    kit = kit_for(context)
    if isinstance(kit, Judgement):
        raise CannotJudge(kit.reason)
    c = rng.uniform(0.7, 1.3)
    ratio = rng.uniform(0.25, 0.7) * kit.cutoff_tc if positive else rng.uniform(1.1, 1.8) * kit.cutoff_tc
    return {"t": round(c * ratio, 4), "c": round(c, 4)}
