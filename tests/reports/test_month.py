"""The monthly report's figures against counts written here in plain SQL, on a small demo history across a month's end.

The history: `lims demo` for two local days ending 2026-12-01 (30 November and 1 December), then urgent complaint
tests (one on site in time, one late, one never reached), a warning and the disposal of the confirmed positive.
November has nothing before it (no 环比, no 同比); December compares with November.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.models import PositiveCase, User
from lims.models.cases import Disposal, WarningBase
from lims.models.plans import UrgentTaskCreate
from lims.services.access import auth
from lims.services.cases import procedure, warnings
from lims.services.core.audit import SYSTEM, Actor
from lims.services.core.errors import Forbidden, Invalid
from lims.services.demo import builder
from lims.services.reports import month
from lims.services.samples import plans
from tests.conftest import restore

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=SHANGHAI).astimezone(UTC)
COUNTED = "r.repeat_of_id IS NULL AND r.judgement IN ('negative', 'positive') AND r.status IN ({statuses})"
REVIEWED = "'approved', 'published', 'archived'"
PUBLISHED = "'published', 'archived'"
# The history is built through the services once per backend, in the first test of the module.
pytestmark = pytest.mark.timeout(600)


def _actor(session: Session, name: str) -> Actor:
    user = session.exec(select(User).where(User.username == name)).one()
    return auth.actor_for(user)


def _extras(engine: Engine) -> None:
    """Urgent tests (in time, late, not reached), a warning, and the disposal of the confirmed case."""
    with Session(engine, expire_on_commit=False) as session:
        tester, reviewer = _actor(session, "tester"), _actor(session, "reviewer")
        with time_machine.travel(NOW + timedelta(hours=1), tick=False):
            quick = plans.create_urgent(session, tester, UrgentTaskCreate(point_code="P02", complaint="酸味的豆腐"))
            slow = plans.create_urgent(session, tester, UrgentTaskCreate(point_code="P03", complaint="发黏的米粉"))
            plans.create_urgent(session, tester, UrgentTaskCreate(point_code="P09", complaint="颜色异常的猪肉"))
            warnings.publish(
                session, reviewer, WarningBase(title_zh="谨慎购买散装湿米粉", body_zh="近期快检发现问题，请谨慎购买。")
            )
        with time_machine.travel(NOW + timedelta(hours=1, minutes=12), tick=False):
            plans.mark_arrived(session, tester, int(quick.id or 0))
        with time_machine.travel(NOW + timedelta(hours=1, minutes=35), tick=False):
            plans.mark_arrived(session, tester, int(slow.id or 0))
            confirmed = session.exec(select(PositiveCase).where(PositiveCase.referral_outcome == "confirmed")).one()
            procedure.record_disposal(
                session, reviewer, int(confirmed.id or 0), Disposal(action="destruction", quantity=2.5, unit="kg")
            )
        session.commit()


@pytest.fixture(scope="module")
def history(base_engine: Engine) -> Iterator[Engine]:
    """The demo's two days and the extras, built once per backend."""
    restore(base_engine)
    with time_machine.travel(NOW, tick=True):
        builder.run_demo(base_engine, days=2, samples_per_day=12)
    _extras(base_engine)
    yield base_engine
    restore(base_engine)


def _report(engine: Engine, month_text: str, as_user: str = "reviewer") -> month.MonthReport:
    with Session(engine) as session, time_machine.travel(NOW + timedelta(hours=2), tick=False):
        return month.monthly_report(session, _actor(session, as_user), month_text)


def _bounds(year: int, number: int) -> tuple[Any, Any]:
    """The local month as UTC bounds, as each backend compares its stored times."""
    start = datetime(year, number, 1, tzinfo=SHANGHAI).astimezone(UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    return start, end


def _sql(engine: Engine, query: str, year: int, number: int, **params: Any) -> list[Any]:
    start, end = _bounds(year, number)
    if engine.dialect.name == "sqlite":  # stored as UTC text without an offset
        params |= {"start": start.strftime("%Y-%m-%d %H:%M:%S.%f"), "end": end.strftime("%Y-%m-%d %H:%M:%S.%f")}
    else:
        params |= {"start": start, "end": end}
    with engine.connect() as conn:
        return list(conn.execute(text(query), params).all())


def _one(engine: Engine, query: str, year: int, number: int, **params: Any) -> Any:
    return _sql(engine, query, year, number, **params)[0][0]


def _tests(engine: Engine, year: int, number: int, statuses: str = REVIEWED, positive: bool | None = None) -> int:
    judged = "" if positive is None else f" AND r.judgement = '{'positive' if positive else 'negative'}'"
    return int(
        _one(
            engine,
            f"SELECT count(*) FROM test_result r WHERE {COUNTED.format(statuses=statuses)}{judged}"
            " AND r.tested_at >= :start AND r.tested_at < :end",
            year,
            number,
        )
    )


def test_headline_figures_match_sql_counts_and_compare_months(history: Engine) -> None:
    december, november = _report(history, "2026-12"), _report(history, "2026-11")
    for report, (year, number) in ((december, (2026, 12)), (november, (2026, 11))):
        tally = report.tally
        assert tally.tests == _tests(history, year, number) > 0
        assert tally.positives == _tests(history, year, number, positive=True) > 0
        assert tally.passed == _tests(history, year, number, positive=False)
        assert report.figure("pass_rate").value == pytest.approx(tally.passed / tally.tests)
        assert tally.batches == _one(
            history, "SELECT count(*) FROM sample WHERE collected_at >= :start AND collected_at < :end", year, number
        )
    # November is the first month: nothing to compare with, so no 环比 and no 同比 (shown as a dash)
    for figure in november.figures:
        assert figure.previous is None and figure.mom is None
        assert figure.last_year is None and figure.yoy is None and figure.ytd_yoy is None
    assert november.figure("tests").ytd == november.tally.tests
    # December against November (环比); the year so far is both months
    tests = december.figure("tests")
    assert tests.previous == november.tally.tests
    assert tests.mom == pytest.approx((december.tally.tests - november.tally.tests) / november.tally.tests)
    assert tests.ytd == december.tally.tests + november.tally.tests
    assert tests.last_year is None and tests.yoy is None
    rate = december.figure("pass_rate")
    assert rate.mom == pytest.approx(december.tally.pass_rate - november.tally.pass_rate)  # percentage points
    assert [key for key, _t in december.trend][-2:] == ["2026-11", "2026-12"] and len(december.trend) == 12


def test_breakdowns_by_item_point_and_heat_match_sql(history: Engine) -> None:
    report = _report(history, "2026-12")
    rows = _sql(
        history,
        "SELECT i.code, p.code, r.judgement, count(*) FROM test_result r JOIN sample s ON s.id = r.sample_id"
        " JOIN test_item i ON i.id = r.item_id JOIN sampling_point p ON p.id = s.point_id"
        f" WHERE {COUNTED.format(statuses=REVIEWED)} AND r.tested_at >= :start AND r.tested_at < :end"
        " GROUP BY i.code, p.code, r.judgement",
        2026,
        12,
    )
    by_item: dict[str, list[int]] = {}
    by_point: dict[str, list[int]] = {}
    heat: dict[tuple[str, str], list[int]] = {}
    for item, point, judgement, n in rows:
        buckets = (
            by_item.setdefault(item, [0, 0]),
            by_point.setdefault(point, [0, 0]),
            heat.setdefault((point, item), [0, 0]),
        )
        for bucket in buckets:
            bucket[0] += n
            bucket[1] += n if judgement == "positive" else 0
    assert {r.key: [r.tests, r.positives] for r in report.items if r.tests} == by_item
    assert {r.key: [r.tests, r.positives] for r in report.points if r.tests} == by_point
    assert {k: list(v) for k, v in report.heat.items()} == heat
    # the year so far holds November too
    assert sum(r.ytd_tests for r in report.items) == _tests(history, 2026, 11) + _tests(history, 2026, 12)
    foods = _sql(
        history,
        "SELECT s.product_name, count(*) FROM test_result r JOIN sample s ON s.id = r.sample_id"
        f" WHERE {COUNTED.format(statuses=REVIEWED)} AND r.judgement = 'positive'"
        " AND r.tested_at >= :start AND r.tested_at < :end GROUP BY s.product_name ORDER BY count(*) DESC",
        2026,
        12,
    )
    positives = dict(foods)
    assert report.foods and report.foods[0].positives == max(positives.values())
    assert all(f.positives == positives[f.key] for f in report.foods)


def test_cases_disposal_urgent_warnings_qc_and_stock_match_sql(history: Engine) -> None:
    report = _report(history, "2026-12")
    tally = report.tally
    outcomes = dict(
        _sql(
            history,
            "SELECT c.referral_outcome, count(*) FROM positive_case c JOIN test_result r ON r.id = c.result_id"
            " WHERE r.tested_at >= :start AND r.tested_at < :end AND c.referral_outcome IS NOT NULL"
            " GROUP BY c.referral_outcome",
            2026,
            12,
        )
    )
    assert tally.confirmed == outcomes.get("confirmed", 0) == 1
    assert tally.cleared == outcomes.get("not_confirmed", 0) == 1
    assert sum(report.cases.values()) == tally.positives  # every approved positive has its case
    disposed = _sql(
        history,
        "SELECT count(*), sum(disposal_quantity) FROM positive_case WHERE disposal_at >= :start AND disposal_at < :end",
        2026,
        12,
    )[0]
    assert (tally.disposed, tally.disposed_kg) == (disposed[0], pytest.approx(disposed[1])) == (1, pytest.approx(2.5))
    assert [(d.action, d.batches) for d in report.disposals] == [("destruction", 1)]
    urgent = _sql(
        history,
        "SELECT count(*), sum(CASE WHEN arrived_at <= due_at THEN 1 ELSE 0 END),"
        " sum(CASE WHEN arrived_at IS NULL THEN 1 ELSE 0 END) FROM plan_task"
        " WHERE kind = 'urgent' AND received_at >= :start AND received_at < :end",
        2026,
        12,
    )[0]
    assert (tally.urgent, tally.urgent_met) == (urgent[0], urgent[1]) == (3, 1)
    by_area = {u.area: (u.target_minutes, u.received, u.met, u.late, u.not_arrived) for u in report.urgent}
    assert by_area == {"urban": (20, 2, 1, 1, 0), "rural": (40, 1, 0, 0, 1)}
    assert urgent[2] == 1
    assert tally.warnings == 1 and [w.title_zh for w in report.warnings] == ["谨慎购买散装湿米粉"]
    failed = _sql(
        history,
        "SELECT count(*) FROM qc_control_run WHERE passed = :no AND day >= :first AND day <= :last",
        2026,
        12,
        no=False,
        first=date(2026, 12, 1),
        last=date(2026, 12, 31),
    )[0][0]
    assert tally.qc_failed == failed == sum(q.failed for q in report.qc) == 1
    assert report.held > 0  # the failed positive control held its lot's results of that day
    used = dict(
        _sql(
            history,
            "SELECT l.lot, -sum(m.quantity) FROM stock_movement m JOIN kit_stock k ON k.id = m.kit_stock_id"
            " JOIN kit_lot l ON l.id = k.kit_lot_id WHERE m.kind = 'consumed' AND m.at >= :start AND m.at < :end"
            " GROUP BY l.lot",
            2026,
            12,
        )
    )
    assert {s.lot: s.by_tests for s in report.stock if s.by_tests} == used


def test_coverage_names_the_shortfalls_of_the_stored_plan(history: Engine) -> None:
    report = _report(history, "2026-12")
    assert report.coverage.plans  # the demo stored December's plan
    version = _sql(history, "SELECT id, plan FROM plan_version WHERE month = '2026-12' ORDER BY number DESC", 2026, 12)[
        0
    ]
    plan = version[1] if isinstance(version[1], dict) else json.loads(version[1])
    applies = {code: set(item["categories"]) for code, item in plan["items"].items()}
    planned: dict[tuple[str, str, str], int] = {}
    for point, batches, items in _sql(
        history,
        "SELECT p.code, t.batches, t.items FROM plan_task t JOIN sampling_point p ON p.id = t.point_id"
        " WHERE t.plan_version_id = :version AND t.kind = 'planned'",
        2026,
        12,
        version=version[0],
    ):
        batches = batches if isinstance(batches, dict) else json.loads(batches)
        for item in items if isinstance(items, list) else json.loads(items):
            for category, n in batches.items():
                if category in applies.get(item, set()):
                    planned[(point, category, item)] = planned.get((point, category, item), 0) + n
    assert {(r.point, r.category, r.item): r.planned for r in report.coverage.rows if r.planned} == planned
    tested = dict(
        ((point, category, item), n)
        for point, category, item, n in _sql(
            history,
            "SELECT p.code, s.category_code, i.code, count(*) FROM test_result r JOIN sample s ON s.id = r.sample_id"
            " JOIN sampling_point p ON p.id = s.point_id JOIN test_item i ON i.id = r.item_id"
            f" WHERE {COUNTED.format(statuses=REVIEWED)} AND s.collected_at >= :start AND s.collected_at < :end"
            " GROUP BY p.code, s.category_code, i.code",
            2026,
            12,
        )
    )
    for row in report.coverage.rows:
        assert row.tested == tested.get((row.point, row.category, row.item), 0)
        assert row.shortfall == max(row.planned - row.tested, 0)
    shortfalls = report.coverage.shortfalls
    assert shortfalls and all(r.shortfall for r in shortfalls)
    assert [r.shortfall for r in shortfalls] == sorted((r.shortfall for r in shortfalls), reverse=True)
    assert report.coverage.covered == sum(min(p, tested.get(k, 0)) for k, p in planned.items())
    assert _report(history, "2026-11").coverage.plans == []  # no plan was stored for November


def test_station_staff_count_published_results_and_other_roles_may_not(history: Engine) -> None:
    station = _report(history, "2026-12", "station")
    assert station.basis == "published"
    assert station.tally.tests == _tests(history, 2026, 12, statuses=PUBLISHED)
    for role in ("tester", "admin"):
        with pytest.raises(Forbidden):
            _report(history, "2026-12", role)


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "1999-12", "2100-01", "26-11", "2026-11-01", "", "x" * 40])
def test_a_month_that_is_not_one_is_refused(history: Engine, bad: str) -> None:
    with pytest.raises(Invalid):
        _report(history, bad)


def test_the_console_reports_a_district_or_every_district(history: Engine) -> None:
    with Session(history) as session, time_machine.travel(NOW + timedelta(hours=2), tick=False):
        one = month.monthly_report(session, SYSTEM, "2026-12", district_code="XQ")
        every = month.monthly_report(session, SYSTEM, "2026-12", province=True)
        codes = [c for (c,) in session.execute(text("SELECT code FROM district ORDER BY code"))]
    assert one.districts == ["XQ"] and every.districts == codes
    assert one.tally.tests == _tests(history, 2026, 12)
    assert every.tally.tests == _tests(history, 2026, 12)  # the other districts have no work in this history
