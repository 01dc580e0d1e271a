"""Method verification: how each item's quick test, per kit maker, agrees with what a laboratory found.

Pairs come from what the LIMS already holds:
* the referral outcome of each approved screening positive (services/cases/procedure.py): the lab confirmed
  it (a true positive) or did not (a false positive);
* the scored blind samples, whose truth an administrator recorded: each gives a true or false positive or
  negative.

The figures are those the quick-test method evaluation asks for (灵敏度, 特异性, 假阳性率, 假阴性率):
sensitivity = TP / (TP + FN), specificity = TN / (TN + FP), false-positive rate = FP / (TN + FP) and
false-negative rate = FN / (TP + FN), each with its Wilson score interval at 95 % (Wilson 1927), which stays
inside [0, 1] and is sensible for the small counts a district has. A figure without any pair is None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, SQLModel, col, select

from lims.models import KitLot, PositiveCase, TestItem, TestResult
from lims.models.common import Role
from lims.models.qc import BlindSample
from lims.services.access.auth import require_role
from lims.services.core import clock
from lims.services.core.audit import Actor
from lims.services.reference import reference_data

Z_95 = 1.959963984540054  # the two-sided 95 % normal quantile
UNKNOWN_MAKER = ""  # results read without a kit lot (the enzyme and colorimetric methods often have none)


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion `successes / n`; None when n is 0."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in 0..{n}, got {successes}")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


class Rate(SQLModel):
    """A proportion with its counts and 95 % Wilson interval."""

    value: float | None
    numerator: int
    denominator: int
    low: float | None
    high: float | None


def rate(numerator: int, denominator: int) -> Rate:
    """`numerator / denominator` with its interval (None without any pair)."""
    interval = wilson(numerator, denominator)
    return Rate(
        value=numerator / denominator if denominator else None,
        numerator=numerator,
        denominator=denominator,
        low=interval[0] if interval else None,
        high=interval[1] if interval else None,
    )


class Verification(SQLModel):
    """The verification figures of one item and kit maker."""

    item_code: str
    manufacturer: str
    true_positive: int
    false_positive: int
    true_negative: int
    false_negative: int
    sensitivity: Rate
    specificity: Rate
    false_positive_rate: Rate
    false_negative_rate: Rate


@dataclass
class _Counts:
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    def add(self, quick_positive: bool, lab_positive: bool) -> None:
        if quick_positive and lab_positive:
            self.tp += 1
        elif quick_positive:
            self.fp += 1
        elif lab_positive:
            self.fn += 1
        else:
            self.tn += 1


def compute(
    session: Session, actor: Actor, *, item_code: str | None = None, since: date | None = None
) -> list[Verification]:
    """Verification figures per item and kit maker for the actor's district, from `since` (a local date) on."""
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    district = actor.district_id
    item_filter = [TestResult.item_id == reference_data.item(session, item_code).id] if item_code else []
    time_filter = []
    if since is not None:
        start, _ = clock.day_bounds(since, clock.zone_of(session, district))
        time_filter = [col(TestResult.tested_at) >= start]
    counts: dict[tuple[int, int | None], _Counts] = {}
    referred = session.exec(
        select(TestResult.item_id, TestResult.kit_lot_id, PositiveCase.referral_outcome)
        .join(PositiveCase, col(PositiveCase.result_id) == col(TestResult.id))
        .where(
            PositiveCase.district_id == district,
            col(PositiveCase.referral_outcome).in_(["confirmed", "not_confirmed"]),
            *item_filter,
            *time_filter,
        )
    ).all()
    for item_id, lot_id, outcome in referred:
        counts.setdefault((item_id, lot_id), _Counts()).add(True, outcome == "confirmed")
    blind = session.exec(
        select(TestResult.item_id, TestResult.kit_lot_id, TestResult.judgement, BlindSample.true_outcome)
        .join(BlindSample, col(BlindSample.result_id) == col(TestResult.id))
        .where(
            BlindSample.district_id == district,
            col(BlindSample.scored_at).is_not(None),
            col(TestResult.judgement).in_(["positive", "negative"]),
            *item_filter,
            *time_filter,
        )
    ).all()
    for item_id, lot_id, judgement, truth in blind:
        counts.setdefault((item_id, lot_id), _Counts()).add(judgement == "positive", truth == "positive")
    items = {i.id: i.code for i in session.exec(select(TestItem))}
    lot_ids = {lot for _, lot in counts if lot is not None}
    makers = (
        {k.id: k.manufacturer for k in session.exec(select(KitLot).where(col(KitLot.id).in_(lot_ids)))}
        if lot_ids
        else {}
    )
    merged: dict[tuple[str, str], _Counts] = {}
    for (item_id, lot_id), c in counts.items():
        key = (items.get(item_id, ""), makers.get(lot_id, UNKNOWN_MAKER) if lot_id is not None else UNKNOWN_MAKER)
        total = merged.setdefault(key, _Counts())
        total.tp, total.fp, total.tn, total.fn = total.tp + c.tp, total.fp + c.fp, total.tn + c.tn, total.fn + c.fn
    return [
        Verification(
            item_code=code,
            manufacturer=maker,
            true_positive=c.tp,
            false_positive=c.fp,
            true_negative=c.tn,
            false_negative=c.fn,
            sensitivity=rate(c.tp, c.tp + c.fn),
            specificity=rate(c.tn, c.tn + c.fp),
            false_positive_rate=rate(c.fp, c.tn + c.fp),
            false_negative_rate=rate(c.fn, c.tp + c.fn),
        )
        for (code, maker), c in sorted(merged.items())
    ]
