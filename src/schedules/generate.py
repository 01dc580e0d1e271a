"""Turn a plan and a month into dated tasks (generate), or redistribute what remains (replan)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from schedules.allocate import UNLIMITED, Demand, Engine, allocate
from schedules.bulk import no_cycle_collection
from schedules.errors import PlanError
from schedules.model import BatchBasis, Plan, Point
from schedules.tasks import DoneWork, Reason, Schedule, Shortfall, Task
from schedules.workdays import Month, working_days


def plan_month(plan: Plan, month: Month | str | date | None) -> Month:
    """The month to schedule: the argument, else the plan's own month; they must agree."""
    if month is None:
        if plan.month is None:
            raise PlanError("month: give a month (YYYY-MM); the plan is a standing plan without one")
        return Month.parse(plan.month)
    chosen = Month.parse(month)
    if plan.month is not None and Month.parse(plan.month) != chosen:
        raise PlanError(f"month: the plan is for {plan.month}, not {chosen}")
    return chosen


def vehicle_days(plan: Plan, month: Month | str) -> list[date]:
    """Working days the vehicle runs in the month, by the plan's rule (weekdays, 调休, days off).

    An ordinary working day counts when its weekday is in `rule.weekdays`; an adjusted working day
    (a Saturday or Sunday worked for a holiday) counts when `rule.adjusted_workdays` is true.
    """
    rule = plan.rule
    weekdays = {w.number for w in rule.weekdays}
    return [
        d
        for d in working_days(month)
        if (rule.adjusted_workdays if d.weekday() >= 5 else d.weekday() in weekdays) and not rule.off_on(d)
    ]


def planned_visits(plan: Plan, point: Point, days: list[date]) -> int:
    """Visits the rule asks for: the point's own count, else the plan's, else every open vehicle day."""
    if point.visits is not None:
        return point.visits
    if plan.rule.visits is not None:
        return plan.rule.visits
    return sum(1 for d in days if not point.closed_on(d))


def monthly_quota(plan: Plan, point: Point, days: list[date]) -> dict[str, int]:
    """Batches per category due at the point over the month's vehicle `days`."""
    times = 1 if plan.rule.batches_per is BatchBasis.MONTH else planned_visits(plan, point, days)
    return {c: point.batches[c] * times for c in plan.categories if c in point.batches}


def quotas(plan: Plan, month: Month | str | date | None = None) -> dict[str, dict[str, int]]:
    """Batches per category due at each point in the month."""
    days = vehicle_days(plan, plan_month(plan, month))
    return {p.code: monthly_quota(plan, p, days) for p in plan.points}


class _TaskMaker:
    """Builds Task records, with the plan's category tables computed once."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.cat_items = plan.category_items()
        self.rank = {c: i for i, c in enumerate(plan.categories)}
        self.item_rank = {code: i for i, code in enumerate(plan.items)}
        self.usage = {c: [(f, n) for f, n in use.items() if n] for c, use in plan.category_usage().items()}
        self.families = plan.families

    def __call__(self, route: int, day: date, counts: dict[str, int], done: bool = False) -> Task:
        """One task for the point at `route` on `day` with these batches per category."""
        point = self.plan.points[route]
        rank, cat_items, usage = self.rank, self.cat_items, self.usage
        batches = {c: counts[c] for c in sorted(counts, key=rank.__getitem__) if counts[c]}
        used: dict[str, int] = {}
        tests: dict[str, int] = {}
        for cat, n in batches.items():
            for family, per_batch in usage[cat]:
                used[family] = used.get(family, 0) + per_batch * n
            for item in cat_items[cat]:
                tests[item] = tests.get(item, 0) + n
        items = sorted(tests, key=self.item_rank.__getitem__)  # the items of the batches' categories
        return Task(
            date=day,
            point=point.code,
            station=point.station,
            area=point.area,
            route=route,
            batches=batches,
            items=tuple(items),
            channels={f: used[f] for f in self.families if f in used},
            done=done,
            tests={i: tests[i] for i in items},
        )


def _done_by_point(plan: Plan, month: Month, done_tasks: Iterable[DoneWork]) -> dict[tuple[int, date], dict[str, int]]:
    routes = {p.code: i for i, p in enumerate(plan.points)}
    merged: dict[tuple[int, date], dict[str, int]] = {}
    for task in done_tasks:
        if task.point not in routes:
            raise PlanError(f"done task {task.date} {task.point}: unknown point")
        if task.date not in month:
            raise PlanError(f"done task {task.date} {task.point}: not in {month}")
        bundle = merged.setdefault((routes[task.point], task.date), {})
        for cat, n in task.batches.items():
            if cat not in plan.categories:
                raise PlanError(f"done task {task.date} {task.point}: unknown food category {cat!r}")
            if n < 0:
                raise PlanError(f"done task {task.date} {task.point}: batches of {cat} must be >= 0")
            bundle[cat] = bundle.get(cat, 0) + n
    return merged


def _schedule(plan: Plan, month: Month, done_tasks: Iterable[DoneWork], start: date) -> Schedule:
    days = vehicle_days(plan, month)
    period = [d for d in days if d >= start]
    index = {d: i for i, d in enumerate(period)}
    cats = list(plan.categories)
    cat_index = {c: i for i, c in enumerate(cats)}
    usage = plan.category_usage()
    vehicle = plan.vehicle
    cap = [vehicle.samples_per_day]
    families = plan.families
    cap += [vehicle.channels_per_day.get(f, 0) for f in families]
    cap.append(vehicle.points_per_day or UNLIMITED)
    engine = Engine(cap=cap, usage=[[1, *(usage[c][f] for f in families)] for c in cats], n_days=len(period))

    done = _done_by_point(plan, month, done_tasks)
    done_cats: dict[int, dict[str, int]] = {}
    done_days: dict[int, set[date]] = {}
    for (route, day), bundle in done.items():
        for cat, n in bundle.items():
            done_cats.setdefault(route, {})[cat] = done_cats.get(route, {}).get(cat, 0) + n
        done_days.setdefault(route, set()).add(day)
        if day in index:
            engine.occupy(index[day], {cat_index[c]: n for c, n in bundle.items()})

    due: dict[str, dict[str, int]] = {}
    demands: list[Demand] = []
    for route, point in enumerate(plan.points):
        quota = monthly_quota(plan, point, days)
        due[point.code] = quota
        own_done = done_cats.get(route, {})
        remaining = {cat_index[c]: max(q - own_done.get(c, 0), 0) for c, q in quota.items()}
        visited = done_days.get(route, set())
        if visited or point.blackout:
            candidates = [i for i, d in enumerate(period) if d not in visited and not point.closed_on(d)]
        else:
            candidates = list(range(len(period)))
        visits = planned_visits(plan, point, days) - len(visited)
        if any(remaining.values()):
            visits = max(visits, 1)
        demands.append(Demand(route, candidates, min(visits, len(candidates)), remaining))
    left = allocate(engine, demands)

    make = _TaskMaker(plan)
    tasks = [make(route, day, bundle, done=True) for (route, day), bundle in done.items()]
    for (route, i), placed in engine.placed.items():
        tasks.append(make(route, period[i], {cats[c]: n for c, n in placed.items()}))
    tasks.sort(key=lambda t: (t.date, t.route))

    shortfalls = []
    for demand in demands:
        reason = Reason.CAPACITY if demand.days else Reason.NO_DAY
        for c, n in sorted(left.get(demand.route, {}).items()):
            for item in make.cat_items[cats[c]]:
                shortfalls.append(Shortfall(plan.points[demand.route].code, item, cats[c], n, reason))
    return Schedule(
        plan=plan.name,
        month=month,
        working_days=tuple(days),
        quotas=due,
        tasks=tuple(tasks),
        shortfalls=tuple(shortfalls),
    )


def generate(plan: Plan, month: Month | str | date | None = None) -> Schedule:
    """Dated tasks for the month meeting every quota the vehicle's capacity allows; the rest as shortfalls."""
    chosen = plan_month(plan, month)
    with no_cycle_collection():
        return _schedule(plan, chosen, (), chosen.first)


def replan(plan: Plan, month: Month | str | date | None, done_tasks: Iterable[DoneWork], from_date: date) -> Schedule:
    """Keep the completed tasks; spread what remains of each quota over the vehicle days from `from_date`.

    `done_tasks` are Task or Done records of the work done this month (batches actually taken); they
    come back as tasks flagged `done`. Points keep their remaining visits and nothing lands before
    `from_date` or on a day a point already had a completed visit.
    """
    chosen = plan_month(plan, month)
    with no_cycle_collection():
        return _schedule(plan, chosen, list(done_tasks), max(from_date, chosen.first))
