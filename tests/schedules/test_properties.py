"""Property tests of generation and re-planning over random plans."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from schedules import (
    Family,
    Month,
    Plan,
    Schedule,
    Task,
    adjusted_workdays,
    carry_over,
    generate,
    is_statutory_holiday,
    is_working_day,
    replan,
    vehicle_days,
)

from .strategies import (
    MONTHS_WITH_ADJUSTED,
    capacity_allows,
    day_load,
    plans,
    roomy_plans,
    scheduled,
    short,
)

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _month(plan: Plan) -> Month:
    return Month.parse(plan.month or "")


def _caps(plan: Plan) -> list[int]:
    v = plan.vehicle
    return [v.samples_per_day, *(v.channels_per_day.get(f, 0) for f in Family)]


def _check_feasible(plan: Plan, schedule: Schedule) -> None:
    """Calendar, blackout and capacity rules every schedule obeys, whatever the plan."""
    days = set(vehicle_days(plan, _month(plan)))
    seen: set[tuple[date, str]] = set()
    for task in schedule.tasks:
        assert task.date in days
        assert is_working_day(task.date) and not is_statutory_holiday(task.date)
        assert not plan.point(task.point).closed_on(task.date)
        assert (task.date, task.point) not in seen
        seen.add((task.date, task.point))
        assert all(n > 0 for n in task.batches.values())
    for day in days:
        load = day_load(plan, schedule, day)
        assert all(u <= c for u, c in zip(load, _caps(plan), strict=False))
        if plan.vehicle.points_per_day is not None:
            assert load[-1] <= plan.vehicle.points_per_day


def _check_accounted(schedule: Schedule) -> None:
    """Scheduled plus reported shortfall is exactly the quota, per point and category."""
    got, missing = scheduled(schedule), short(schedule)
    for point, quota in schedule.quotas.items():
        for cat, n in quota.items():
            assert got.get((point, cat), 0) + missing.get((point, cat), 0) == n, (point, cat)
    assert set(got) <= {(p, c) for p, q in schedule.quotas.items() for c in q}


@PROPERTY
@given(plans())
def test_any_plan_respects_calendar_capacity_and_accounts_for_every_batch(plan: Plan) -> None:
    schedule = generate(plan)
    _check_feasible(plan, schedule)
    _check_accounted(schedule)


@PROPERTY
@given(roomy_plans())
def test_quotas_met_exactly_when_capacity_allows(plan: Plan) -> None:
    schedule = generate(plan)
    days = len(schedule.working_days)
    allows = capacity_allows(plan, schedule.quotas, days)
    event(f"capacity allows: {allows}")
    if allows:
        assert schedule.shortfalls == ()
        got = scheduled(schedule)
        for point, quota in schedule.quotas.items():
            for cat, n in quota.items():
                assert got.get((point, cat), 0) == n
    _check_feasible(plan, schedule)
    _check_accounted(schedule)


@PROPERTY
@given(roomy_plans(ample=True))
def test_visits_spread_one_per_stretch_of_the_month(plan: Plan) -> None:
    schedule = generate(plan)
    assert schedule.shortfalls == () or not schedule.working_days
    if not schedule.working_days:
        return
    days = list(schedule.working_days)
    for point in plan.points:
        visits = point.visits or plan.rule.visits or len(days)
        visits = min(visits, len(days))
        stretches = [(i * len(days)) // visits for i in range(visits + 1)]
        taken = [days.index(t.date) for t in schedule.tasks if t.point == point.code]
        which = [max(j for j in range(visits) if stretches[j] <= i) for i in taken]
        assert len(which) == len(set(which)) <= visits


@PROPERTY
@given(st.sampled_from(MONTHS_WITH_ADJUSTED).flatmap(lambda m: roomy_plans(daily_point=True, month=m)))
def test_adjusted_working_days_are_used_in_months_that_have_them(plan: Plan) -> None:
    schedule = generate(plan)
    extra = adjusted_workdays(_month(plan))
    assert extra
    assert set(extra) <= {t.date for t in schedule.tasks if t.point == "PD"}


@PROPERTY
@given(plans())
def test_generation_is_deterministic(plan: Plan) -> None:
    again = Plan.model_validate_json(plan.model_dump_json())
    assert generate(plan).to_json() == generate(again).to_json()


def _done_part(schedule: Schedule, cut: date, data: st.DataObject, *, on_cut: bool = False) -> list[Task]:
    done = []
    for task in schedule.tasks:
        if (task.date < cut or (on_cut and task.date == cut)) and data.draw(st.booleans()):
            batches = {c: data.draw(st.integers(0, n)) for c, n in task.batches.items()}
            done.append(Task(task.date, task.point, task.station, task.area, task.route, batches, task.items))
    return done


@PROPERTY
@given(plans(), st.data())
def test_replan_keeps_done_work_and_accounts_for_the_rest(plan: Plan, data: st.DataObject) -> None:
    first = generate(plan)
    month = _month(plan)
    cut = data.draw(st.sampled_from(month.days()))
    done = _done_part(first, cut, data, on_cut=True)  # work done on the re-plan day takes its capacity
    second = replan(plan, month, done, cut)
    kept = [(t.date, t.point, dict(t.batches)) for t in second.tasks if t.done]
    assert kept == [(t.date, t.point, {c: n for c, n in t.batches.items() if n}) for t in done]
    assert all(t.date >= cut for t in second.tasks if not t.done)
    _check_feasible(plan, second)  # capacity counted with the done tasks
    done_points = {(t.date, t.point) for t in done}
    assert not any((t.date, t.point) in done_points for t in second.tasks if not t.done)
    got, missing = scheduled(second), short(second)
    for point, quota in second.quotas.items():
        for cat, n in quota.items():
            assert got.get((point, cat), 0) + missing.get((point, cat), 0) == n


@PROPERTY
@given(roomy_plans(), st.data())
def test_replan_meets_the_rest_when_capacity_allows(plan: Plan, data: st.DataObject) -> None:
    first = generate(plan)
    month = _month(plan)
    if not first.working_days:
        return
    cut = data.draw(st.sampled_from(first.working_days))
    done = _done_part(first, cut, data)
    second = replan(plan, month, done, cut)
    left = len([d for d in second.working_days if d >= cut])
    remaining: dict[str, dict[str, int]] = {}
    got_done = scheduled(Schedule("", month, (), {}, tuple(done), ()))
    for point, quota in second.quotas.items():
        remaining[point] = {c: n - got_done.get((point, c), 0) for c, n in quota.items()}
    allows = capacity_allows(plan, remaining, left)
    event(f"capacity allows the rest: {allows}")
    if allows:
        assert second.shortfalls == ()
        got = scheduled(second)
        for point, quota in second.quotas.items():
            for cat, n in quota.items():
                assert got.get((point, cat), 0) == n


@PROPERTY
@given(plans(), st.data())
def test_carry_over_flags_exactly_the_unfinished_past_tasks(plan: Plan, data: st.DataObject) -> None:
    schedule = generate(plan)
    month = _month(plan)
    today = data.draw(st.sampled_from(month.days()))
    done = _done_part(schedule, today, data)
    overdue = carry_over(plan, schedule.tasks, done, today)
    got = {(t.date, t.point): dict(t.batches) for t in done}
    expected = [
        t
        for t in schedule.tasks
        if t.date < today and any(n > got.get((t.date, t.point), {}).get(c, 0) for c, n in t.batches.items())
    ]
    assert [o.task for o in overdue] == expected
    for item in overdue:
        assert all(n > 0 for n in item.missing.values())
        if item.next_day is not None:
            assert item.next_day >= today
            assert item.next_day in vehicle_days(plan, Month.parse(item.next_day))
            assert not plan.point(item.task.point).closed_on(item.next_day)
