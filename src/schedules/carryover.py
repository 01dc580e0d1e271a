"""Progress against a schedule: overdue tasks carried to the next working day, planned vs done per item."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from schedules.errors import CalendarError
from schedules.generate import vehicle_days
from schedules.model import Plan
from schedules.tasks import DoneWork, Overdue, ProgressRow, Schedule, Task
from schedules.workdays import Month

LOOKAHEAD_MONTHS = 3


def _done_map(done: Iterable[DoneWork]) -> dict[tuple[date, str], dict[str, int]]:
    out: dict[tuple[date, str], dict[str, int]] = {}
    for task in done:
        bundle = out.setdefault((task.date, task.point), {})
        for cat, n in task.batches.items():
            bundle[cat] = bundle.get(cat, 0) + n
    return out


def next_working_day(plan: Plan, point: str, on_or_after: date) -> date | None:
    """First vehicle day on or after the date when the point is open; None past the holiday data."""
    where = plan.point(point)
    month = Month.parse(on_or_after)
    for _ in range(LOOKAHEAD_MONTHS):
        try:
            days = vehicle_days(plan, month)
        except CalendarError:
            return None
        for day in days:
            if day >= on_or_after and not where.closed_on(day):
                return day
        month = month.next()
    return None


def carry_over(plan: Plan, tasks: Iterable[Task], done: Iterable[DoneWork], today: date) -> tuple[Overdue, ...]:
    """Tasks dated before `today` with batches still missing, each with the day it is carried to.

    `done` holds what was done against each task, keyed by the task's date and point (whatever day the
    samples were actually taken).
    """
    done_map = _done_map(done)
    out = []
    for task in tasks:
        if task.done or task.date >= today:
            continue
        got = done_map.get((task.date, task.point), {})
        missing = {c: n - got.get(c, 0) for c, n in task.batches.items() if n > got.get(c, 0)}
        if missing:
            out.append(Overdue(task, missing, next_working_day(plan, task.point, today)))
    return tuple(out)


def progress(plan: Plan, schedule: Schedule, done: Iterable[DoneWork]) -> tuple[ProgressRow, ...]:
    """Planned (the month's quota) against done batches, per point and item, in route and item order.

    Only `done` counts as done (a re-planned schedule's own done tasks are not added a second time).
    """
    cat_items = plan.category_items()
    done_cats: dict[str, dict[str, int]] = {}
    for task in done:
        bucket = done_cats.setdefault(task.point, {})
        for cat, n in task.batches.items():
            bucket[cat] = bucket.get(cat, 0) + n
    rows = []
    for point in plan.points:
        quota = schedule.quotas.get(point.code, {})
        got = done_cats.get(point.code, {})
        for item in plan.items:
            cats = [c for c in plan.categories if item in cat_items[c]]
            planned = sum(quota.get(c, 0) for c in cats)
            finished = sum(got.get(c, 0) for c in cats)
            if planned or finished:
                rows.append(ProgressRow(point.code, item, planned, finished))
    return tuple(rows)
