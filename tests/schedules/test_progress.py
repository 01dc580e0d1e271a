"""Carry-over of overdue tasks, progress per point and item, and urgent complaint tasks."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

import pytest

from schedules import (
    Area,
    Done,
    PlanError,
    Task,
    carry_over,
    generate,
    load_example,
    next_working_day,
    progress,
    replan,
    urgent_task,
)

CST = timezone(timedelta(hours=8))


def _first(point: str) -> Task:
    schedule = generate(load_example(), "2026-10")
    return next(t for t in schedule.tasks if t.point == point)


def test_undone_task_is_carried_to_the_next_working_day() -> None:
    plan = load_example()
    tasks = generate(plan, "2026-10").tasks
    past = [t for t in tasks if t.date < date(2026, 10, 11)]
    overdue = carry_over(plan, tasks, [], date(2026, 10, 11))  # a Sunday
    assert [o.task for o in overdue] == past
    assert {o.next_day for o in overdue if o.task.point != "P05"} == {date(2026, 10, 12)}
    assert all(o.missing == o.task.batches for o in overdue)


def test_blackout_moves_the_carried_day() -> None:
    plan = load_example()
    assert next_working_day(plan, "P05", date(2026, 10, 12)) == date(2026, 10, 13)  # P05 closes Mondays
    assert next_working_day(plan, "P01", date(2026, 9, 30)) == date(2026, 9, 30)
    assert next_working_day(plan, "P01", date(2026, 10, 1)) == date(2026, 10, 8)
    assert next_working_day(plan, "P01", date(2099, 1, 1)) is None


def test_done_and_partly_done_tasks() -> None:
    plan = load_example()
    task = _first("P01")
    assert carry_over(plan, [task], [task], task.date + timedelta(days=5)) == ()
    part = replace(task, batches={c: n - 1 for c, n in task.batches.items()})
    (overdue,) = carry_over(plan, [task], [part], task.date + timedelta(days=5))
    assert overdue.missing == dict.fromkeys(task.batches, 1)
    assert carry_over(plan, [task], [], task.date) == ()  # due today is not overdue


def test_plain_done_records_work_like_tasks() -> None:
    plan = load_example()
    task = _first("P02")
    done = Done(task.date, task.point, dict(task.batches))
    assert carry_over(plan, [task], [done], task.date + timedelta(days=3)) == ()
    second = replan(plan, "2026-10", [done], task.date + timedelta(days=1))
    assert [(t.date, t.point, t.done) for t in second.tasks if t.done] == [(task.date, "P02", True)]
    assert second.shortfalls == ()
    rows = {(r.point, r.item): r for r in progress(plan, second, [done])}
    assert rows[("P02", "BORAX")].done == task.batches.get("NOODLES", 0)


def test_progress_per_point_and_item() -> None:
    plan = load_example()
    schedule = generate(plan, "2026-10")
    task = _first("P01")
    rows = {(r.point, r.item): r for r in progress(plan, schedule, [task])}
    opc = rows[("P01", "OPC")]
    assert opc.planned == 12  # VEG_LEAF 4 + VEG 4 + FRUIT 4
    assert opc.done == sum(task.batches.get(c, 0) for c in ("VEG_LEAF", "VEG", "FRUIT"))
    assert opc.remaining == opc.planned - opc.done
    assert rows[("P10", "AFB1")].planned == 2  # MAIZE 1 + RICE 1
    assert ("P10", "BORAX") not in rows


def test_urgent_task_due_20_minutes_in_town_40_in_the_country() -> None:
    plan = load_example()
    received = datetime(2026, 10, 12, 9, 30, tzinfo=CST)
    town = urgent_task(plan.point("P01"), received)
    country = urgent_task(plan.point("P09"), received)
    assert (town.area, town.due_at - received) == (Area.URBAN, timedelta(minutes=20))
    assert (country.area, country.due_at - received) == (Area.RURAL, timedelta(minutes=40))
    assert country.station == "RC01"
    assert not town.overdue(received + timedelta(minutes=19))
    assert town.overdue(received + timedelta(minutes=21))
    assert not town.overdue(received + timedelta(hours=2), arrived_at=received + timedelta(minutes=18))


@dataclass
class _Row:
    code: str
    station: str
    area: str


def test_urgent_task_from_any_point_record() -> None:
    received = datetime(2026, 10, 12, 9, 30)
    task = urgent_task(_Row("X1", "ST09", "rural"), received, minutes={Area.URBAN: 15, Area.RURAL: 30})
    assert task.due_at == received + timedelta(minutes=30)
    with pytest.raises(PlanError, match="area must be one of urban, rural"):
        urgent_task(_Row("X2", "ST09", "suburb"), received)
