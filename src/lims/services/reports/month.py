"""The monthly quick-test report: every figure of a district's (or the province's) month and year so far, from SQL
aggregates, with 同比 (the same month a year before) and 环比 (the month before) for each headline figure.

What counts, and when:
- a *test* is a result a reviewer approved (for station staff: a published one), judged negative or positive, not a
  repeat run (a repeat belongs to its result) and not a version a correction replaced; it counts in the local month
  of its test time. *Passed* is a negative; the pass rate is passed / tests.
- a *batch* is a sample, in the local month it was collected (as the plan's progress counts it).
- a positive's case counts in its result's month, in the state the public is told now (confirmed, cleared, …).
- a disposal counts in the month it was recorded; urgent complaint tests in the month the complaint was received;
  warnings in the month they were published; control runs on their local day.
Months are the district's local months (`clock`); a province adds up its districts, each in its own time zone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, case, func, literal
from sqlmodel import Session, col, select

import schedules
from lims.i18n import _N
from lims.models import (
    ControlRun,
    District,
    FoodCategory,
    KitLot,
    KitStock,
    PlanTask,
    PlanVersion,
    PositiveCase,
    PublicWarning,
    Sample,
    SamplingPoint,
    StockMovement,
    TestItem,
    TestResult,
)
from lims.models.common import CaseState, JudgementOutcome, ResultStatus, Role
from lims.services.access import districts
from lims.services.access.auth import require_role
from lims.services.cases import procedure
from lims.services.core import clock, dates, visibility
from lims.services.core.audit import Actor
from schedules import PlanError

# A disposal's quantity in kilograms, by the unit it was recorded in; other units (pieces, boxes) are shown apart.
KG_PER_UNIT = {"kg": 1.0, "千克": 1.0, "公斤": 1.0, "g": 0.001, "克": 0.001, "斤": 0.5, "t": 1000.0, "吨": 1000.0}
# How many months the pass-rate chart shows, ending with the report's month.
TREND_MONTHS = 12
# How many failing foods the report names.
TOP_FOODS = 10
VALID = (JudgementOutcome.NEGATIVE.value, JudgementOutcome.POSITIVE.value)


def month_key(year: int, month: int) -> str:
    """`YYYY-MM`."""
    return f"{year:04d}-{month:02d}"


def shift(year: int, month: int, months: int) -> tuple[int, int]:
    """The month `months` after (or before, when negative) year-month."""
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


@dataclass
class Tally:
    """What one local month holds, for the headline figures."""

    batches: int = 0
    tests: int = 0
    passed: int = 0
    positives: int = 0
    confirmed: int = 0
    cleared: int = 0
    no_retest: int = 0
    in_retest: int = 0
    disposed: int = 0
    disposed_kg: float = 0.0
    urgent: int = 0
    urgent_met: int = 0
    warnings: int = 0
    qc_runs: int = 0
    qc_failed: int = 0

    def add(self, other: Tally) -> Tally:
        """The sum of two tallies (a new one)."""
        return Tally(**{name: getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__})

    @property
    def pass_rate(self) -> float | None:
        """Passed per test; None without a test."""
        return self.passed / self.tests if self.tests else None


# The headline figures, in the order the report shows them: key, label, kind (count, kg or rate).
HEADLINES: tuple[tuple[str, str, str], ...] = (
    ("batches", _N("Batches sampled"), "count"),
    ("tests", _N("Tests"), "count"),
    ("passed", _N("Passed"), "count"),
    ("pass_rate", _N("Pass rate"), "rate"),
    ("positives", _N("Screening positives"), "count"),
    ("confirmed", _N("Confirmed by a laboratory"), "count"),
    ("no_retest", _N("Stood without a retest"), "count"),
    ("cleared", _N("Cleared by a laboratory"), "count"),
    ("disposed", _N("Batches disposed of"), "count"),
    ("disposed_kg", _N("Quantity disposed of (kg)"), "kg"),
    ("urgent", _N("Urgent complaint tests"), "count"),
    ("urgent_met", _N("Urgent tests on site in time"), "count"),
    ("warnings", _N("Warnings issued"), "count"),
    ("qc_failed", _N("Failed control runs"), "count"),
)


@dataclass(frozen=True)
class Figure:
    """One headline figure: the month, the month before, the same month a year before, and the year so far."""

    key: str
    label: str
    kind: str
    value: float | None
    previous: float | None
    last_year: float | None
    ytd: float | None
    ytd_last_year: float | None

    @staticmethod
    def _change(now: float | None, then: float | None, kind: str) -> float | None:
        if now is None or then is None:
            return None
        if kind == "rate":
            return now - then  # a change of a rate is told in percentage points
        return (now - then) / then if then else None

    @property
    def mom(self) -> float | None:
        """环比: the change against the month before (a fraction; points for a rate); None without data then."""
        return self._change(self.value, self.previous, self.kind)

    @property
    def yoy(self) -> float | None:
        """同比: the change against the same month a year before; None without data then."""
        return self._change(self.value, self.last_year, self.kind)

    @property
    def ytd_yoy(self) -> float | None:
        """同比 of the year so far."""
        return self._change(self.ytd, self.ytd_last_year, self.kind)


@dataclass(frozen=True)
class Row:
    """Tests and positives of one key (an item, a point, a food), in the month and the year so far."""

    key: str
    name_zh: str
    name_en: str
    tests: int = 0
    positives: int = 0
    ytd_tests: int = 0
    ytd_positives: int = 0
    extra: str = ""

    @property
    def passed(self) -> int:
        """Negatives of the month."""
        return self.tests - self.positives

    @property
    def rate(self) -> float | None:
        """Positive rate of the month."""
        return self.positives / self.tests if self.tests else None

    @property
    def pass_rate(self) -> float | None:
        """Pass rate of the month."""
        return self.passed / self.tests if self.tests else None

    @property
    def ytd_rate(self) -> float | None:
        """Positive rate of the year so far."""
        return self.ytd_positives / self.ytd_tests if self.ytd_tests else None


@dataclass(frozen=True)
class CoverageRow:
    """Planned against tested batches of one point, food category and item in the month."""

    point: str
    point_name: str
    category: str
    category_zh: str
    category_en: str
    item: str
    item_zh: str
    item_en: str
    planned: int
    tested: int

    @property
    def shortfall(self) -> int:
        """Planned batches not tested."""
        return max(self.planned - self.tested, 0)


@dataclass(frozen=True)
class Coverage:
    """The month's plan against what was tested; `plans` names the plan versions used (none: no plan stored)."""

    plans: list[str]
    rows: list[CoverageRow]

    @property
    def planned(self) -> int:
        """Planned batch-items."""
        return sum(r.planned for r in self.rows)

    @property
    def covered(self) -> int:
        """Planned batch-items that were tested (a point's extra tests do not make up another's shortfall)."""
        return sum(min(r.planned, r.tested) for r in self.rows)

    @property
    def rate(self) -> float | None:
        """Covered per planned."""
        return self.covered / self.planned if self.planned else None

    @property
    def shortfalls(self) -> list[CoverageRow]:
        """The rows short of their plan, largest shortfall first."""
        return sorted((r for r in self.rows if r.shortfall), key=lambda r: (-r.shortfall, r.point, r.category, r.item))


@dataclass(frozen=True)
class DisposalRow:
    """Disposals of one kind in the month."""

    action: str
    batches: int
    kg: float
    other_units: dict[str, float]


@dataclass(frozen=True)
class UrgentRow:
    """Urgent complaint tests of the month at points of one area, against its on-site target (20 or 40 minutes)."""

    area: str
    target_minutes: int
    received: int
    met: int
    late: int
    not_arrived: int


@dataclass(frozen=True)
class WarningRow:
    """A warning published in the month."""

    day: date
    title_zh: str
    title_en: str
    withdrawn: bool


@dataclass(frozen=True)
class QcRow:
    """Control runs of one item in the month, and the results its failed controls held until they were repeated."""

    item: str
    item_zh: str
    item_en: str
    runs: int
    failed: int
    held: int


@dataclass(frozen=True)
class StockRow:
    """Units of one kit lot that moved in the month."""

    item: str
    lot: str
    unit: str
    received: int
    by_tests: int
    qc: int
    written_off: int


@dataclass
class MonthReport:
    """Everything the monthly report shows, as plain data."""

    month: str
    scope_code: str
    scope_zh: str
    scope_en: str
    basis: str  # reviewed | published
    zone: str  # the time zone the report's times are shown in (its district's; the default zone for several)
    generated_at: datetime
    districts: list[str]
    monthly: dict[str, Tally]
    figures: list[Figure]
    trend: list[tuple[str, Tally]]
    items: list[Row]
    points: list[Row]
    heat: dict[tuple[str, str], tuple[int, int]]
    foods: list[Row]
    coverage: Coverage
    cases: dict[str, int]
    disposals: list[DisposalRow]
    urgent: list[UrgentRow]
    warnings: list[WarningRow]
    qc: list[QcRow]
    awaiting_review: int
    stock: list[StockRow]
    month_start: date = field(default_factory=date.today)
    month_end: date = field(default_factory=date.today)

    @property
    def tally(self) -> Tally:
        """The month's tally."""
        return self.monthly.get(self.month, Tally())

    def figure(self, key: str) -> Figure:
        """The headline figure named `key`."""
        return next(f for f in self.figures if f.key == key)

    @property
    def held(self) -> int:
        """Results held by a failed control in the month."""
        return sum(r.held for r in self.qc)


# ------------------------------------------------------------------------------------------------ the queries


@dataclass(frozen=True)
class _Scope:
    """Districts that share a time zone, with the month's bounds in it."""

    ids: list[int]
    zone: str
    lo: datetime  # the start of January of the year before
    ytd: datetime  # the start of January
    start: datetime  # the start of the month
    end: datetime  # the end of the month
    public: bool


class _Collector:
    """Adds up the queries of each zone group into the report's figures."""

    def __init__(self, session: Session, year: int, month: int, public: bool) -> None:
        self.session = session
        self.year, self.month = year, month
        self.public = public
        self.now = clock.now()
        self.monthly: dict[str, Tally] = defaultdict(Tally)
        self.items: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        self.points: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        self.heat: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
        self.foods: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        self.tested: dict[tuple[int, str, int], int] = defaultdict(int)
        self.cases: dict[str, int] = defaultdict(int)
        self.disposals: dict[str, list[Any]] = {}
        self.urgent: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        self.warnings: list[WarningRow] = []
        self.qc: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
        self.awaiting = 0
        self.stock: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def month_of(self, column: Any, scope: _Scope) -> Any:
        """SQL for the local `YYYY-MM` of a UTC time column."""
        return clock.local_month_sql(self.session, column, literal(scope.zone)).label("m")

    def results(self, scope: _Scope, start: datetime, end: datetime, *, by_test_time: bool = True) -> list[Any]:
        """Conditions of a counted test (see the module's docstring) in the districts, tested in [start, end)."""
        conditions = [
            col(TestResult.district_id).in_(scope.ids),
            col(TestResult.repeat_of_id).is_(None),
            col(TestResult.judgement).in_(VALID),
            visibility.public_only() if scope.public else visibility.reviewed_only(),
        ]
        if by_test_time:
            conditions += [col(TestResult.tested_at) >= start, col(TestResult.tested_at) < end]
        return conditions

    def run(self, scope: _Scope) -> None:
        """Every query of the report for one zone group."""
        self._trend(scope)
        self._breakdowns(scope)
        self._coverage_tested(scope)
        self._cases(scope)
        self._disposals(scope)
        self._urgent(scope)
        self._warnings(scope)
        self._qc(scope)
        self._stock(scope)

    def _trend(self, scope: _Scope) -> None:
        m = self.month_of(col(TestResult.tested_at), scope)
        for key, judgement, n in self.session.execute(
            sa.select(m, col(TestResult.judgement), func.count())
            .where(*self.results(scope, scope.lo, scope.end))
            .group_by(m, col(TestResult.judgement))
        ):
            tally = self.monthly[str(key)]
            tally.tests += int(n)
            if judgement == JudgementOutcome.POSITIVE.value:
                tally.positives += int(n)
            else:
                tally.passed += int(n)
        m = self.month_of(col(Sample.collected_at), scope)
        for key, n in self.session.execute(
            sa.select(m, func.count())
            .where(
                col(Sample.district_id).in_(scope.ids),
                col(Sample.collected_at) >= scope.lo,
                col(Sample.collected_at) < scope.end,
            )
            .group_by(m)
        ):
            self.monthly[str(key)].batches += int(n)

    def _breakdowns(self, scope: _Scope) -> None:
        in_month = case((col(TestResult.tested_at) >= scope.start, 1), else_=0).label("in_month")
        positive = case((col(TestResult.judgement) == JudgementOutcome.POSITIVE.value, 1), else_=0).label("pos")
        keys = (col(TestResult.item_id), col(Sample.point_id), in_month, positive)
        for item_id, point_id, month_flag, hit, n in self.session.execute(
            sa.select(*keys, func.count())
            .join(Sample, col(Sample.id) == col(TestResult.sample_id))
            .where(*self.results(scope, scope.ytd, scope.end))
            .group_by(*keys)
        ):
            n = int(n)
            for bucket in (self.items[int(item_id)], self.points[int(point_id)]):
                bucket[2] += n
                bucket[3] += n if hit else 0
                if month_flag:
                    bucket[0] += n
                    bucket[1] += n if hit else 0
            if month_flag:
                cell = self.heat[(int(point_id), int(item_id))]
                cell[0] += n
                cell[1] += n if hit else 0
        food_keys = (col(Sample.product_name), col(Sample.category_code), positive)
        for product, category, hit, n in self.session.execute(
            sa.select(*food_keys, func.count())
            .join(Sample, col(Sample.id) == col(TestResult.sample_id))
            .where(*self.results(scope, scope.start, scope.end))
            .group_by(*food_keys)
        ):
            bucket = self.foods[(str(product), str(category))]
            bucket[0] += int(n)
            bucket[1] += int(n) if hit else 0

    def _coverage_tested(self, scope: _Scope) -> None:
        keys = (col(Sample.point_id), col(Sample.category_code), col(TestResult.item_id))
        for point_id, category, item_id, n in self.session.execute(
            sa.select(*keys, func.count())
            .join(Sample, col(Sample.id) == col(TestResult.sample_id))
            .where(
                *self.results(scope, scope.start, scope.end, by_test_time=False),
                col(Sample.collected_at) >= scope.start,
                col(Sample.collected_at) < scope.end,
            )
            .group_by(*keys)
        ):
            self.tested[(int(point_id), str(category), int(item_id))] += int(n)

    def _cases(self, scope: _Scope) -> None:
        """Cases by their result's month and the facts their public state is told from (`procedure.public_state`)."""
        m = self.month_of(col(TestResult.tested_at), scope)
        lapsed = and_(col(PositiveCase.retest_deadline).is_not(None), col(PositiveCase.retest_deadline) <= self.now)
        facts = (
            col(PositiveCase.referral_outcome),
            col(PositiveCase.retest_requested_at).is_not(None).label("asked"),
            col(PositiveCase.referred_at).is_not(None).label("referred"),
            col(PositiveCase.party_accepted_at).is_not(None).label("accepted"),
            case((lapsed, 1), else_=0).label("lapsed"),
        )
        for key, outcome, asked, referred, accepted, window_over, n in self.session.execute(
            sa.select(m, *facts, func.count())
            .join(TestResult, col(TestResult.id) == col(PositiveCase.result_id))
            .where(*self.results(scope, scope.lo, scope.end))
            .group_by(m, *facts)
        ):
            earlier = self.now - timedelta(seconds=1)
            state = procedure.public_state(
                PositiveCase(
                    result_id=0,
                    district_id=0,
                    point_id=0,
                    referral_outcome=outcome,
                    retest_requested_at=earlier if asked else None,
                    referred_at=earlier if referred else None,
                    party_accepted_at=earlier if accepted else None,
                    retest_deadline=earlier if window_over else None,
                ),
                self.now,
            )
            tally = self.monthly[str(key)]
            tally.confirmed += int(n) if state == CaseState.CONFIRMED else 0
            tally.cleared += int(n) if state == CaseState.CLEARED else 0
            tally.no_retest += int(n) if state == CaseState.NO_RETEST else 0
            tally.in_retest += int(n) if state == CaseState.RETEST_IN_PROGRESS else 0
            if str(key) == month_key(self.year, self.month):
                self.cases[state.value] += int(n)

    def _disposals(self, scope: _Scope) -> None:
        m = self.month_of(col(PositiveCase.disposal_at), scope)
        keys = (m, col(PositiveCase.disposal_action), col(PositiveCase.disposal_unit))
        for key, action, unit, n, quantity in self.session.execute(
            sa.select(*keys, func.count(), func.sum(col(PositiveCase.disposal_quantity)))
            .where(
                col(PositiveCase.district_id).in_(scope.ids),
                col(PositiveCase.disposal_at) >= scope.lo,
                col(PositiveCase.disposal_at) < scope.end,
            )
            .group_by(*keys)
        ):
            factor = KG_PER_UNIT.get(str(unit or "").strip().lower())
            kg = float(quantity or 0) * factor if factor is not None else 0.0
            tally = self.monthly[str(key)]
            tally.disposed += int(n)
            tally.disposed_kg += kg
            if str(key) == month_key(self.year, self.month):
                row = self.disposals.setdefault(str(action), [0, 0.0, defaultdict(float)])
                row[0] += int(n)
                row[1] += kg
                if factor is None and quantity:
                    row[2][str(unit)] += float(quantity)

    def _urgent(self, scope: _Scope) -> None:
        m = self.month_of(col(PlanTask.received_at), scope)
        arrived = col(PlanTask.arrived_at).is_not(None).label("arrived")
        in_time = case((col(PlanTask.arrived_at) <= col(PlanTask.due_at), 1), else_=0).label("in_time")
        keys = (m, col(SamplingPoint.area), arrived, in_time)
        for key, area, came, met, n in self.session.execute(
            sa.select(*keys, func.count())
            .join(SamplingPoint, col(SamplingPoint.id) == col(PlanTask.point_id))
            .where(
                col(PlanTask.district_id).in_(scope.ids),
                col(PlanTask.kind) == "urgent",
                col(PlanTask.received_at) >= scope.lo,
                col(PlanTask.received_at) < scope.end,
            )
            .group_by(*keys)
        ):
            tally = self.monthly[str(key)]
            tally.urgent += int(n)
            tally.urgent_met += int(n) if came and met else 0
            if str(key) == month_key(self.year, self.month):
                row = self.urgent[str(area)]
                row[0] += int(n)
                row[1 if came and met else 2 if came else 3] += int(n)

    def _warnings(self, scope: _Scope) -> None:
        m = self.month_of(col(PublicWarning.published_at), scope)
        for key, n in self.session.execute(
            sa.select(m, func.count())
            .where(
                col(PublicWarning.district_id).in_(scope.ids),
                col(PublicWarning.published_at) >= scope.lo,
                col(PublicWarning.published_at) < scope.end,
            )
            .group_by(m)
        ):
            self.monthly[str(key)].warnings += int(n)
        tz = clock.zone(scope.zone)
        for published, title_zh, title_en, withdrawn in self.session.execute(
            select(
                col(PublicWarning.published_at),
                col(PublicWarning.title_zh),
                col(PublicWarning.title_en),
                col(PublicWarning.withdrawn_at),
            )
            .where(
                col(PublicWarning.district_id).in_(scope.ids),
                col(PublicWarning.published_at) >= scope.start,
                col(PublicWarning.published_at) < scope.end,
            )
            .order_by(col(PublicWarning.published_at))
        ):
            self.warnings.append(WarningRow(clock.local_date(published, tz), title_zh, title_en, withdrawn is not None))

    def _qc(self, scope: _Scope) -> None:
        """Control runs by local day; the month's failed runs by item, and the results they held (same district,
        item, kit lot and local day) until a control passed; results still awaiting review."""
        tz = clock.zone(scope.zone)
        first, last = clock.local_date(scope.lo, tz), clock.local_date(scope.end - timedelta(microseconds=1), tz)
        start_day = clock.local_date(scope.start, tz)
        keys = (col(ControlRun.day), col(ControlRun.item_id), col(ControlRun.passed))
        for day, item_id, passed, n in self.session.execute(
            sa.select(*keys, func.count())
            .where(
                col(ControlRun.district_id).in_(scope.ids), col(ControlRun.day) >= first, col(ControlRun.day) <= last
            )
            .group_by(*keys)
        ):
            tally = self.monthly[f"{day:%Y-%m}"]
            tally.qc_runs += int(n)
            tally.qc_failed += 0 if passed else int(n)
            if day >= start_day:
                self.qc[int(item_id)][0] += int(n)
                self.qc[int(item_id)][1] += 0 if passed else int(n)
        failing = self.session.execute(
            sa.select(
                col(ControlRun.district_id), col(ControlRun.item_id), col(ControlRun.kit_lot_id), col(ControlRun.day)
            )
            .where(
                col(ControlRun.district_id).in_(scope.ids),
                col(ControlRun.day) >= start_day,
                col(ControlRun.day) <= last,
                col(ControlRun.passed).is_(False),
            )
            .distinct()
        ).all()
        for district_id, item_id, lot_id, day in failing:
            begin, finish = clock.day_bounds(day, tz)
            held = self.session.execute(
                sa.select(func.count()).where(
                    col(TestResult.district_id) == district_id,
                    col(TestResult.item_id) == item_id,
                    col(TestResult.kit_lot_id).is_(None) if lot_id is None else col(TestResult.kit_lot_id) == lot_id,
                    col(TestResult.repeat_of_id).is_(None),
                    col(TestResult.status) != ResultStatus.SUPERSEDED.value,
                    col(TestResult.tested_at) >= begin,
                    col(TestResult.tested_at) < finish,
                )
            ).scalar_one()
            self.qc[int(item_id)][2] += int(held)
        self.awaiting += int(
            self.session.execute(
                sa.select(func.count()).where(
                    col(TestResult.district_id).in_(scope.ids),
                    col(TestResult.repeat_of_id).is_(None),
                    col(TestResult.status) == ResultStatus.TESTED.value,
                    col(TestResult.tested_at) >= scope.start,
                    col(TestResult.tested_at) < scope.end,
                )
            ).scalar_one()
        )

    def _stock(self, scope: _Scope) -> None:
        keys = (col(TestItem.code), col(KitLot.lot), col(TestItem.stock_unit), col(StockMovement.kind))
        for item, lot, unit, kind, amount in self.session.execute(
            sa.select(*keys, func.sum(col(StockMovement.quantity)))
            .join(KitStock, col(KitStock.id) == col(StockMovement.kit_stock_id))
            .join(KitLot, col(KitLot.id) == col(KitStock.kit_lot_id))
            .join(TestItem, col(TestItem.id) == col(KitLot.item_id))
            .where(
                col(StockMovement.district_id).in_(scope.ids),
                col(StockMovement.at) >= scope.start,
                col(StockMovement.at) < scope.end,
            )
            .group_by(*keys)
        ):
            self.stock[(str(item), str(lot), str(unit))][str(kind)] += int(amount or 0)


# ------------------------------------------------------------------------------------------------ the report


def _scopes(session: Session, chosen: list[District], year: int, month: int, public: bool) -> list[_Scope]:
    by_zone: dict[str, list[int]] = defaultdict(list)
    for district in chosen:
        by_zone[district.time_zone or clock.DEFAULT_ZONE].append(int(district.id or 0))
    out = []
    for zone_name, ids in sorted(by_zone.items()):
        tz = clock.zone(zone_name)
        start, end = clock.month_bounds(year, month, tz)
        out.append(
            _Scope(
                ids=ids,
                zone=zone_name,
                lo=clock.month_bounds(year - 1, 1, tz)[0],
                ytd=clock.month_bounds(year, 1, tz)[0],
                start=start,
                end=end,
                public=public,
            )
        )
    return out


def _sum(monthly: dict[str, Tally], keys: list[str]) -> Tally:
    total = Tally()
    for key in keys:
        total = total.add(monthly.get(key, Tally()))
    return total


def _value(tally: Tally, key: str, has_data: bool) -> float | None:
    if not has_data:
        return None
    if key == "pass_rate":
        return tally.pass_rate
    return float(getattr(tally, key))


def _has_data(tally: Tally) -> bool:
    """Whether a period holds any record at all (a month before the lab's first test has none: no 同比 then)."""
    return any(getattr(tally, name) for name in tally.__dataclass_fields__)


def _figures(monthly: dict[str, Tally], year: int, month: int) -> list[Figure]:
    this = monthly.get(month_key(year, month), Tally())
    before = monthly.get(month_key(*shift(year, month, -1)), Tally())
    year_ago = monthly.get(month_key(year - 1, month), Tally())
    ytd = _sum(monthly, [month_key(year, m) for m in range(1, month + 1)])
    ytd_ago = _sum(monthly, [month_key(year - 1, m) for m in range(1, month + 1)])
    return [
        Figure(
            key,
            label,
            kind,
            _value(this, key, True),
            _value(before, key, _has_data(before)),
            _value(year_ago, key, _has_data(year_ago)),
            _value(ytd, key, True),
            _value(ytd_ago, key, _has_data(ytd_ago)),
        )
        for key, label, kind in HEADLINES
    ]


def _chosen(session: Session, actor: Actor, district_code: str | None, province: bool) -> list[District]:
    """The districts the report covers: the actor's own; the console names one (default: the first) or all."""
    if actor.role != "system":
        own = session.get(District, actor.district_id) if actor.district_id else None
        return [own] if own is not None else []
    if province:
        return list(session.exec(select(District).order_by(col(District.code))).all())
    return [districts.named_or_first(session, district_code)]


def _coverage(session: Session, collector: _Collector, chosen: list[District], month: str) -> Coverage:
    """Planned batches per point, category and item from the stored tasks of each district's latest plan version."""
    planned: dict[tuple[int, str, int], int] = defaultdict(int)
    names: list[str] = []
    item_ids = {i.code: int(i.id or 0) for i in session.exec(select(TestItem)).all()}
    for district in chosen:
        version = session.exec(
            select(PlanVersion)
            .where(col(PlanVersion.district_id) == district.id, col(PlanVersion.month) == month)
            .order_by(col(PlanVersion.number).desc())
        ).first()
        if version is None:
            continue
        names.append(f"{district.code} {version.name} v{version.number}")
        try:
            applies = schedules.parse_plan(version.plan).category_items()
        except PlanError:
            applies = {}
        for task in session.exec(
            select(PlanTask).where(col(PlanTask.plan_version_id) == version.id, col(PlanTask.kind) == "planned")
        ).all():
            for category, n in task.batches.items():
                for code in task.items:
                    if code in applies.get(category, ()) and code in item_ids:
                        planned[(task.point_id, category, item_ids[code])] += int(n)
    points = _point_names(session, chosen)
    items = _item_names(session)
    categories = {c.code: c for c in session.exec(select(FoodCategory)).all()}
    rows = []
    for key in sorted(set(planned) | (set(collector.tested) if names else set())):
        point_id, category, item_id = key
        point_code, point_name, _en = points.get(point_id, (str(point_id), "", ""))
        food = categories.get(category)
        item = items.get(item_id)
        rows.append(
            CoverageRow(
                point=point_code,
                point_name=point_name,
                category=category,
                category_zh=food.name_zh if food else category,
                category_en=food.name_en if food else category,
                item=item.code if item else str(item_id),
                item_zh=item.name_zh if item else "",
                item_en=item.name_en if item else "",
                planned=planned.get(key, 0),
                tested=collector.tested.get(key, 0),
            )
        )
    rows.sort(key=lambda r: (r.point, r.category, r.item))
    return Coverage(names, rows)


def _point_names(session: Session, chosen: list[District]) -> dict[int, tuple[str, str, str]]:
    """point id → (code, name, English name); with several districts the code carries its district's."""
    several = len(chosen) > 1
    codes = {d.id: d.code for d in chosen}
    out = {}
    for p in session.exec(select(SamplingPoint).where(col(SamplingPoint.district_id).in_(list(codes)))).all():
        code = f"{codes[p.district_id]} {p.code}" if several else p.code
        out[int(p.id or 0)] = (code, p.name, p.name_en or p.name)
    return out


def _item_names(session: Session) -> dict[int, TestItem]:
    return {int(i.id or 0): i for i in session.exec(select(TestItem)).all()}


def _rows(counts: dict[int, list[int]], names: dict[int, tuple[str, str, str]]) -> list[Row]:
    rows = [
        Row(names.get(key, (str(key), "", ""))[0], *names.get(key, (str(key), "", ""))[1:], *values)  # type: ignore[arg-type]
        for key, values in counts.items()
    ]
    return sorted(rows, key=lambda r: r.key)


def _stock_rows(moves: dict[tuple[str, str, str], dict[str, int]]) -> list[StockRow]:
    rows = [
        StockRow(
            item,
            lot,
            unit,
            received=moved.get("received", 0),
            by_tests=-moved.get("consumed", 0),
            qc=-moved.get("qc", 0),
            written_off=-(moved.get("broken", 0) + moved.get("spoiled", 0) + moved.get("other", 0)),
        )
        for (item, lot, unit), moved in moves.items()
    ]
    return sorted(rows, key=lambda r: (r.item, r.lot))


def monthly_report(
    session: Session, actor: Actor, month: str, *, district_code: str | None = None, province: bool = False
) -> MonthReport:
    """The monthly report of `month` (`YYYY-MM`) for the actor's district (reviewers: their results as approved;
    station staff: as published); the console names a district (default: the first) or takes every district."""
    require_role(actor, Role.REVIEWER, Role.STATION)
    year, number = dates.month(month)
    chosen = _chosen(session, actor, district_code, province)
    public = actor.role == Role.STATION
    collector = _Collector(session, year, number, public)
    for scope in _scopes(session, chosen, year, number, public):
        collector.run(scope)
    key = month_key(year, number)
    items = _item_names(session)
    item_names = {i: (t.code, t.name_zh, t.name_en) for i, t in items.items()}
    point_names = _point_names(session, chosen)
    categories = {c.code: c for c in session.exec(select(FoodCategory)).all()}
    foods = [
        Row(
            product,
            categories[category].name_zh if category in categories else category,
            categories[category].name_en if category in categories else category,
            tests,
            positives,
            extra=category,
        )
        for (product, category), (tests, positives) in collector.foods.items()
        if positives
    ]
    foods.sort(key=lambda r: (-r.positives, -(r.rate or 0), r.key))
    trend_keys = [month_key(*shift(year, number, back)) for back in range(-TREND_MONTHS + 1, 1)]
    area_minutes = {"urban": 20, "rural": 40}
    scope_code = "/".join(d.code for d in chosen) if len(chosen) <= 1 else "*"
    first_day = date(year, number, 1)
    next_month = date(*shift(year, number, 1), 1)
    return MonthReport(
        month=key,
        scope_code=scope_code,
        scope_zh=chosen[0].name if len(chosen) == 1 else "",
        scope_en=(chosen[0].name_en or chosen[0].name) if len(chosen) == 1 else "",
        basis="published" if public else "reviewed",
        zone=chosen[0].time_zone if len(chosen) == 1 else clock.DEFAULT_ZONE,
        generated_at=collector.now,
        districts=[d.code for d in chosen],
        monthly=dict(collector.monthly),
        figures=_figures(collector.monthly, year, number),
        trend=[(k, collector.monthly.get(k, Tally())) for k in trend_keys],
        items=_rows(collector.items, item_names),
        points=_rows(collector.points, point_names),
        heat={
            (point_names.get(p, (str(p),))[0], item_names.get(i, (str(i),))[0]): (v[0], v[1])
            for (p, i), v in collector.heat.items()
        },
        foods=foods[:TOP_FOODS],
        coverage=_coverage(session, collector, chosen, key),
        cases=dict(collector.cases),
        disposals=[
            DisposalRow(action, int(v[0]), float(v[1]), dict(v[2])) for action, v in sorted(collector.disposals.items())
        ],
        urgent=[
            UrgentRow(area, area_minutes.get(area, 20), *values) for area, values in sorted(collector.urgent.items())
        ],
        warnings=collector.warnings,
        qc=sorted(
            (
                QcRow(item_names[i][0], item_names[i][1], item_names[i][2], *values)
                for i, values in collector.qc.items()
                if i in item_names
            ),
            key=lambda r: r.item,
        ),
        awaiting_review=collector.awaiting,
        stock=_stock_rows(collector.stock),
        month_start=first_day,
        month_end=next_month - timedelta(days=1),
    )
