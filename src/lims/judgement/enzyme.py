"""Enzyme inhibition judgement for organophosphate and carbamate residues (GB/T 5009.199-2003).

Method: GB/T 5009.199-2003《蔬菜中有机磷和氨基甲酸酯类农药残留量的快速检测》, second method,
酶抑制率法（分光光度法）; the same calculation is used by NY/T 448-2001.  Acetylcholinesterase
hydrolyses the substrate and the product develops colour with DTNB, read at 412 nm at the start (A0)
and after 3 min (A3).  What the text of the standard says, and what this module does with it:

* ΔA = A3 − A0 for the control (no sample) and for the sample extract.
* 抑制率(%) = (ΔA_control − ΔA_sample) / ΔA_control × 100.
* The control's ΔA over the 3 min "应控制在 0.3 以上" (should be kept at 0.3 or above; in Chinese
  standards 以上 includes the figure itself).  A control below it means the enzyme or substrate was
  too weak, so the run is invalid rather than negative: ``min_control_dA = 0.3``, and exactly 0.3 is
  accepted.
* 抑制率 ≥ 50 % means a high dose of organophosphate or carbamate pesticide: the sample is positive
  (``threshold_pct = 50``, and exactly 50 % is positive).  The standard asks for a positive to be
  tested again at least twice; as with every quick test, the positive is suspected (疑似阳性) until
  confirmed.
* A sample can react faster than the control (some vegetables carry substances that do), which gives
  a negative inhibition.  It is reported as calculated and judged negative.
* A sample whose absorbance falls over the 3 min (ΔA below zero, inhibition above 100 %) is physically
  impossible for an enzyme that was inhibited: colour or turbidity of the extract interfered.  The run is
  invalid (``inhibition_above_100``) and must be repeated, after clarifying the extract.
* Absorbances outside the photometer's range cannot be trusted: the item's ``absorbance_range: [min, max]``
  (default ``DEFAULT_ABSORBANCE_RANGE``) bounds every absorbance read; a ΔA cannot exceed the range's span.
  Outside it the run is invalid (``absorbance_out_of_range``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from lims.judgement._numbers import above, at_least, clean, finite, fmt, tol
from lims.judgement.outcome import Judgement, Outcome
from lims.judgement.raw import FiniteFloat, JudgeContext, RawFigures

__all__ = [
    "DEFAULT_ABSORBANCE_RANGE",
    "DEFAULT_ENZYME_METHOD",
    "ENZYME_METHOD_SOURCE",
    "Absorbances",
    "DeltaPair",
    "EnzymeMethod",
    "example_raw",
    "judge_enzyme",
    "judge_enzyme_deltas",
    "judge_raw",
]

ENZYME_METHOD_SOURCE = "GB/T 5009.199-2003, 第二法 酶抑制率法（分光光度法）; NY/T 448-2001"


DEFAULT_ABSORBANCE_RANGE = (0.0, 3.0)
"""Absorbances a photometer reads reliably when the item names no range of its own (0 to 3 A; an instrument
with a narrower linear range says so in the item's ``absorbance_range``)."""


VALUE_PARAM = "inhibition"
"""The reason parameter that shows the judged figure (shown as reported, rounded by the method)."""


@dataclass(frozen=True)
class EnzymeMethod:
    """Parameters of an enzyme inhibition method: positive threshold, minimum control ΔA, absorbance range."""

    threshold_pct: float = 50.0
    min_control_dA: float = 0.3
    absorbance_range: tuple[float, float] = DEFAULT_ABSORBANCE_RANGE

    def __post_init__(self) -> None:
        """Refuse parameters no method could have."""
        if not finite(self.threshold_pct) or not 0.0 < self.threshold_pct <= 100.0:
            raise ValueError(f"threshold_pct must be in (0, 100], got {self.threshold_pct!r}")
        if not finite(self.min_control_dA) or self.min_control_dA <= 0.0:
            raise ValueError(f"min_control_dA must be a positive number, got {self.min_control_dA!r}")
        low, high = self.absorbance_range
        if not finite(low, high) or low >= high:
            raise ValueError(f"absorbance_range must be [min, max] with min < max, got {self.absorbance_range!r}")


DEFAULT_ENZYME_METHOD = EnzymeMethod()
"""The figures of GB/T 5009.199-2003: positive at ≥ 50 % inhibition, control ΔA at least 0.3."""


def judge_enzyme(
    *,
    control_a0: float,
    control_a3: float,
    sample_a0: float,
    sample_a3: float,
    method: EnzymeMethod,
) -> Judgement:
    """Judge one channel from the control's and the sample's absorbances at 0 and 3 minutes."""
    raw: dict[str, float | str | None] = {
        "control_a0": clean(control_a0),
        "control_a3": clean(control_a3),
        "sample_a0": clean(sample_a0),
        "sample_a3": clean(sample_a3),
    }
    if not finite(control_a0, control_a3, sample_a0, sample_a3):
        return _non_finite(raw, method)
    low, high = method.absorbance_range
    outside = {k: v for k, v in raw.items() if isinstance(v, float) and (above(low, v) or above(v, high))}
    if outside:
        return _out_of_range(outside, method, raw)
    result = judge_enzyme_deltas(control_dA=control_a3 - control_a0, sample_dA=sample_a3 - sample_a0, method=method)
    return Judgement(
        outcome=result.outcome,
        value=result.value,
        unit=result.unit,
        reason_code=result.reason_code,
        reason_params=result.reason_params,
        details={**raw, **result.details},
    )


def judge_enzyme_deltas(*, control_dA: float, sample_dA: float, method: EnzymeMethod) -> Judgement:
    """Judge one channel from the control's and the sample's 3-minute absorbance changes."""
    details: dict[str, float | str | None] = {
        "control_dA": clean(control_dA),
        "sample_dA": clean(sample_dA),
        "threshold_pct": method.threshold_pct,
        "min_control_dA": method.min_control_dA,
        "inhibition_pct": None,
    }
    if not finite(control_dA, sample_dA):
        return _non_finite(details, method)
    low, high = method.absorbance_range
    span = high - low
    too_big = {k: v for k, v in (("control_dA", control_dA), ("sample_dA", sample_dA)) if above(abs(v), span)}
    if too_big:
        return _out_of_range(too_big, method, details)

    if not at_least(control_dA, method.min_control_dA):
        return Judgement(
            outcome=Outcome.INVALID,
            value=None,
            unit="%",
            reason_code="control_dA_too_small",
            reason_params={"control_dA": fmt(control_dA), "min_control_dA": fmt(method.min_control_dA)},
            details=details,
        )

    if sample_dA < -tol(0.0):  # the sample's colour fell: more than 100 % inhibition cannot happen
        details["inhibition_pct"] = clean((control_dA - sample_dA) / control_dA * 100.0)
        return Judgement(
            outcome=Outcome.INVALID,
            value=None,
            unit="%",
            reason_code="inhibition_above_100",
            reason_params={"sample_dA": fmt(sample_dA), "control_dA": fmt(control_dA)},
            details=details,
        )

    inhibition = (control_dA - sample_dA) / control_dA * 100.0
    if not finite(inhibition):  # only reachable with absurd readings near the float range
        return _non_finite({**details, "inhibition_pct": clean(inhibition)}, method)
    details["inhibition_pct"] = inhibition
    shown, threshold = fmt(inhibition), fmt(method.threshold_pct)

    if at_least(inhibition, method.threshold_pct):
        return Judgement(
            outcome=Outcome.POSITIVE,
            value=inhibition,
            unit="%",
            reason_code="inhibition_above_threshold",
            reason_params={
                "inhibition": shown,
                "threshold": threshold,
                "control_dA": fmt(control_dA),
                "sample_dA": fmt(sample_dA),
            },
            details=details,
        )
    if inhibition < 0.0:
        return Judgement(
            outcome=Outcome.NEGATIVE,
            value=inhibition,
            unit="%",
            reason_code="inhibition_negative",
            reason_params={"inhibition": shown, "control_dA": fmt(control_dA), "sample_dA": fmt(sample_dA)},
            details=details,
        )
    return Judgement(
        outcome=Outcome.NEGATIVE,
        value=inhibition,
        unit="%",
        reason_code="inhibition_below_threshold",
        reason_params={
            "inhibition": shown,
            "threshold": threshold,
            "control_dA": fmt(control_dA),
            "sample_dA": fmt(sample_dA),
        },
        details=details,
    )


def _non_finite(details: dict[str, float | str | None], method: EnzymeMethod) -> Judgement:
    """An invalid judgement for readings that are not finite numbers."""
    bad = ", ".join(f"{k}={v}" for k, v in details.items() if isinstance(v, str))
    return Judgement(
        outcome=Outcome.INVALID,
        value=None,
        unit="%",
        reason_code="non_finite_input",
        reason_params={"values": bad},
        details={
            **details,
            "threshold_pct": method.threshold_pct,
            "min_control_dA": method.min_control_dA,
            "inhibition_pct": None,
        },
    )


def _out_of_range(outside: dict[str, float], method: EnzymeMethod, details: dict[str, float | str | None]) -> Judgement:
    """An invalid judgement for absorbances the photometer cannot read reliably."""
    low, high = method.absorbance_range
    return Judgement(
        outcome=Outcome.INVALID,
        value=None,
        unit="%",
        reason_code="absorbance_out_of_range",
        reason_params={
            "values": ", ".join(f"{k}={fmt(v)}" for k, v in outside.items()),
            "low": fmt(low),
            "high": fmt(high),
        },
        details={
            **details,
            "threshold_pct": method.threshold_pct,
            "min_control_dA": method.min_control_dA,
            "inhibition_pct": None,
        },
    )


# --- the pesticide family's raw figures ---------------------------------------------------------------


class DeltaPair(RawFigures):
    """The 3-minute absorbance changes of the control and of the sample (what the analyzer reports)."""

    control_dA: FiniteFloat
    sample_dA: FiniteFloat


class Absorbances(RawFigures):
    """The absorbances of the control and of the sample at 0 and at 3 minutes."""

    control_a0: FiniteFloat
    control_a3: FiniteFloat
    sample_a0: FiniteFloat
    sample_a3: FiniteFloat


Raw = (DeltaPair, Absorbances)


def method_for(context: JudgeContext) -> EnzymeMethod:
    """The method: the limit is the positive threshold (else the item's), the item gives the control minimum
    and the photometer's absorbance range."""
    threshold = context.limit if context.limit is not None else context.method.get("threshold_pct", 50.0)
    low, high = context.method.get("absorbance_range", DEFAULT_ABSORBANCE_RANGE)
    return EnzymeMethod(
        threshold_pct=float(threshold),
        min_control_dA=float(context.method.get("min_control_dA", 0.3)),
        absorbance_range=(float(low), float(high)),
    )


def judge_raw(raw: RawFigures, context: JudgeContext) -> Judgement:
    """Judge a channel from either set of raw figures."""
    method = method_for(context)
    if isinstance(raw, DeltaPair):
        judged = judge_enzyme_deltas(control_dA=raw.control_dA, sample_dA=raw.sample_dA, method=method)
    else:
        assert isinstance(raw, Absorbances)
        judged = judge_enzyme(
            control_a0=raw.control_a0,
            control_a3=raw.control_a3,
            sample_a0=raw.sample_a0,
            sample_a3=raw.sample_a3,
            method=method,
        )
    limit = context.method.get("detection_limit")
    return replace(
        judged,
        details={
            **judged.details,
            "detection_limit": clean(float(limit)) if isinstance(limit, int | float) else None,
            "detection_limit_unit": str(context.method.get("detection_limit_unit", "")),
        },
    )


def example_raw(context: JudgeContext, positive: bool, rng: random.Random) -> dict[str, float]:
    """ΔA figures a real run with this outcome would give."""
    control = rng.uniform(0.45, 0.75)
    inhibition = rng.uniform(55, 85) if positive else rng.uniform(-5, 35)
    return {"control_dA": round(control, 4), "sample_dA": round(control * (1 - inhibition / 100), 4)}
