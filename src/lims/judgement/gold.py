"""Colloidal gold card judgement (competitive immunochromatography) from T- and C-line intensities.

In the competitive format used for veterinary drugs (clenbuterol, ractopamine, salbutamol,
chloramphenicol, nitrofuran metabolites, malachite green) and mycotoxins (aflatoxin B1), the analyte
in the sample takes up the gold-labelled antibody before it reaches the test line, so the more
analyte, the fainter the T line.  The C (control) line must appear whatever the sample holds; without
it the strip did not run and the test is invalid.  A reader reports both intensities and the kit lot
gives a cut-off on T/C: below the cut-off the sample is positive (suspected, to be confirmed), at or
above it negative.  The cut-off belongs to the kit lot (its instructions for use), not to this code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from lims.judgement._numbers import at_least, clean, finite, fmt
from lims.judgement.outcome import Judgement, Outcome
from lims.judgement.raw import FiniteFloat, JudgeContext, NeedsKitLot, RawFigures

__all__ = ["USES_KIT_LOT", "GoldKit", "Raw", "example_raw", "judge_gold", "judge_raw", "kit_for"]

USES_KIT_LOT = True
"""A card's cut-off belongs to its kit lot: a result without one is flagged for the reviewer."""


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


def kit_for(context: JudgeContext) -> GoldKit:
    """The kit lot's cut-off and C-line minimum, else the item's defaults; `NeedsKitLot` without either."""
    kit = context.kit
    cutoff = kit.cutoff_tc if kit and kit.cutoff_tc is not None else context.method.get("default_cutoff_tc")
    min_c = kit.min_c_intensity if kit and kit.min_c_intensity is not None else context.method.get("default_min_c")
    if cutoff is None or min_c is None:
        raise NeedsKitLot(context.item_code)
    return GoldKit(cutoff_tc=float(cutoff), min_c_intensity=float(min_c))


def judge_raw(raw: Raw, context: JudgeContext) -> Judgement:
    """Judge a card line against its kit lot."""
    return judge_gold(t_intensity=raw.t, c_intensity=raw.c, kit=kit_for(context))


def example_raw(context: JudgeContext, positive: bool, rng: random.Random) -> dict[str, float]:
    """T and C intensities a real card with this outcome would give."""
    kit = context.kit
    cutoff = kit.cutoff_tc if kit and kit.cutoff_tc else context.method["default_cutoff_tc"]
    c = rng.uniform(0.7, 1.3)
    ratio = rng.uniform(0.25, 0.7) * cutoff if positive else rng.uniform(1.1, 1.8) * cutoff
    return {"t": round(c * ratio, 4), "c": round(c, 4)}
