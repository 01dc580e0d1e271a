"""Hotspot analysis: positive rates of reviewed quick tests by item, food category, sampling point and month."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from lims.models import District, FoodCategory, Sample, SamplingPoint, TestItem, TestResult
from lims.models.common import JudgementOutcome, Role
from lims.services.access.auth import require_role
from lims.services.core import clock, dates, visibility
from lims.services.core.audit import Actor

# Results that count: reviewed ones only (a pending or rejected result is not a finding yet).
DIMENSIONS = ("item", "category", "point", "month")


@dataclass(frozen=True)
class Rate:
    """Valid tests and positives for one key of a dimension (invalid runs are not counted)."""

    key: str
    label_zh: str
    label_en: str
    tested: int
    positive: int

    @property
    def rate(self) -> float:
        """Positives per valid test, 0 when nothing was tested."""
        return self.positive / self.tested if self.tested else 0.0


@dataclass(frozen=True)
class Hotspots:
    """Positive rates along each dimension, with the totals."""

    tested: int
    positive: int
    by: dict[str, list[Rate]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """The overall positive rate."""
        return self.positive / self.tested if self.tested else 0.0


def _rates(counts: dict[str, list[int]], labels: dict[str, tuple[str, str]], chronological: bool) -> list[Rate]:
    rows = [Rate(k, *labels.get(k, (k, k)), tested=v[0], positive=v[1]) for k, v in counts.items()]
    if chronological:
        return sorted(rows, key=lambda r: r.key)
    return sorted(rows, key=lambda r: (-r.rate, -r.tested, r.key))


def valid_tests(actor: Actor, *keys: Any, every_district: bool = False) -> Any:
    """The counting every rate rests on: valid tests (negative or positive) grouped by `keys`, counted as `n`.

    Joined to their sample, item, point, district and food category. Reviewers, testers and administrators count
    their district's reviewed results; station users count published ones, of their own district unless
    `every_district` (shared results). Add conditions with `.where`; the grouping is already set."""
    statement: Any = (
        select(*keys, func.count().label("n"))
        .join(Sample, col(Sample.id) == col(TestResult.sample_id))
        .join(TestItem, col(TestItem.id) == col(TestResult.item_id))
        .join(SamplingPoint, col(SamplingPoint.id) == col(Sample.point_id))
        .join(District, col(District.id) == col(SamplingPoint.district_id))
        .join(FoodCategory, col(FoodCategory.code) == col(Sample.category_code))
        .where(col(TestResult.judgement).in_([JudgementOutcome.NEGATIVE.value, JudgementOutcome.POSITIVE.value]))
    )
    if actor.role == Role.STATION:
        statement = statement.where(visibility.public_only())
        if not every_district:
            statement = statement.where(col(TestResult.district_id) == actor.district_id)
    else:
        statement = statement.where(visibility.reviewed_only(), col(TestResult.district_id) == actor.district_id)
    return statement.group_by(*keys)


def positive_rates(
    session: Session,
    actor: Actor,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    point_code: str | None = None,
    item_code: str | None = None,
) -> Hotspots:
    """Positive rates the actor may see: station users over published results of every district.

    A result counts in the month of its own district's local date; the from/to days are the reader's."""
    require_role(actor, Role.STATION, Role.REVIEWER, Role.ADMIN, Role.TESTER)
    month = clock.local_month_sql(session, col(TestResult.tested_at), col(District.time_zone)).label("month")
    keys: tuple[Any, ...] = (
        col(TestResult.judgement),
        month,
        col(TestItem.code).label("item"),
        col(TestItem.name_zh).label("item_zh"),
        col(TestItem.name_en).label("item_en"),
        col(FoodCategory.code).label("category"),
        col(FoodCategory.name_zh).label("category_zh"),
        col(FoodCategory.name_en).label("category_en"),
        col(SamplingPoint.code).label("point"),
        col(SamplingPoint.name).label("point_zh"),
        col(SamplingPoint.name_en).label("point_en"),
        col(District.code).label("district"),
    )
    statement = valid_tests(actor, *keys, every_district=True)
    within = dates.window(date_from, date_to, clock.zone_of(session, actor.district_id))
    statement = statement.where(*within.where(col(TestResult.tested_at)))
    if item_code:
        statement = statement.where(col(TestItem.code) == item_code)
    if point_code:  # a point of the reader's district (codes are unique per district)
        statement = statement.where(
            col(SamplingPoint.district_id) == actor.district_id, col(SamplingPoint.code) == point_code
        )
    rows = [dict(r._mapping) for r in session.execute(statement).all()]
    home = session.get(District, actor.district_id) if actor.district_id else None
    for r in rows:  # another district may use the same point codes: name its points with the district
        if home is None or r["district"] != home.code:
            r["point"] = f"{r['district']} {r['point']}"
    return aggregate(rows)


def aggregate(rows: Iterable[Mapping[Any, Any]]) -> Hotspots:
    """Add up grouped counts (`n` valid tests of one judgement per item, category, point and month)."""
    counts: dict[str, dict[str, list[int]]] = {d: defaultdict(lambda: [0, 0]) for d in DIMENSIONS}
    labels: dict[str, dict[str, tuple[str, str]]] = {d: {} for d in DIMENSIONS}
    tested = positive = 0
    for r in rows:
        n = int(r["n"])
        hit = n if r["judgement"] == JudgementOutcome.POSITIVE.value else 0
        tested += n
        positive += hit
        month = str(r["month"])
        keys = {
            "item": (r["item"], r["item_zh"], r["item_en"]),
            "category": (r["category"], r["category_zh"], r["category_en"]),
            "point": (r["point"], f"{r['point']} {r['point_zh']}", f"{r['point']} {r['point_en'] or r['point_zh']}"),
            "month": (month, month, month),
        }
        for dimension, (key, zh, en) in keys.items():
            counts[dimension][key][0] += n
            counts[dimension][key][1] += hit
            labels[dimension][key] = (zh, en)
    return Hotspots(
        tested=tested,
        positive=positive,
        by={d: _rates(counts[d], labels[d], chronological=d == "month") for d in DIMENSIONS},
    )


# The map colours each point by its reviewed results of the last days (the district's local days, today included).
MAP_DAYS = 30


@dataclass(frozen=True)
class PointStatus:
    """A sampling point of the district with its coordinates and its recent valid tests and positives."""

    code: str
    name_zh: str
    name_en: str
    latitude: float | None
    longitude: float | None
    tested: int
    positive: int

    @property
    def rate(self) -> float:
        """Positives per valid test, 0 when nothing was tested."""
        return self.positive / self.tested if self.tested else 0.0


def point_map(session: Session, actor: Actor, days: int = MAP_DAYS) -> list[PointStatus]:
    """The actor's district's points with their results of the last `days` local days: published ones for station
    users, reviewed ones for the lab; repeat runs count within their result."""
    require_role(actor, Role.STATION, Role.REVIEWER, Role.ADMIN, Role.TESTER)
    start, end = clock.last_days(max(1, min(days, 366)), clock.zone_of(session, actor.district_id))
    statement: Any = (
        select(col(SamplingPoint.id), col(TestResult.judgement), func.count().label("n"))
        .join(Sample, col(Sample.point_id) == col(SamplingPoint.id))
        .join(TestResult, col(TestResult.sample_id) == col(Sample.id))
        .where(
            col(SamplingPoint.district_id) == actor.district_id,
            col(TestResult.repeat_of_id).is_(None),
            col(TestResult.judgement).in_([JudgementOutcome.NEGATIVE.value, JudgementOutcome.POSITIVE.value]),
            col(TestResult.tested_at) >= start,
            col(TestResult.tested_at) < end,
            visibility.public_only() if actor.role == Role.STATION else visibility.reviewed_only(),
        )
        .group_by(col(SamplingPoint.id), col(TestResult.judgement))
    )
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for point_id, judgement, n in session.execute(statement).all():
        counts[point_id][0] += int(n)
        if judgement == JudgementOutcome.POSITIVE.value:
            counts[point_id][1] += int(n)
    points = session.scalars(
        select(SamplingPoint)
        .where(col(SamplingPoint.district_id) == actor.district_id)
        .order_by(col(SamplingPoint.code))
    ).all()
    return [
        PointStatus(
            p.code,
            p.name,
            p.name_en or p.name,
            p.latitude,
            p.longitude,
            *counts.get(int(p.id or 0), [0, 0]),
        )
        for p in points
    ]
