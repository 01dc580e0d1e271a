"""Sampling plans in the LIMS: store generated plan versions, day sheets, progress, urgent complaint tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, col, select

import schedules
from instrument_drivers import family_registry
from lims.i18n import _N
from lims.models import PlanTask, PlanVersion, Sample, SamplingPoint, Station
from lims.models.common import Role
from lims.models.plans import PlanVersionPublic, ProgressPublic, TaskPublic, UrgentTaskCreate
from lims.services.access import districts
from lims.services.access.auth import require_role
from lims.services.core import atomic, audit, clock
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound
from lims.services.reference import reference_data
from schedules import Done, Month, Plan, PlanError, Schedule


def task_ref(task: PlanTask) -> str:
    """The reference a sample registered against `task` carries."""
    return f"T{task.id}"


def load(path: Path | None = None) -> Plan:
    """A plan file (default: the shipped example), or Invalid naming the field and line at fault."""
    try:
        plan = schedules.load_plan(path) if path else schedules.load_example()
    except PlanError as exc:
        raise Invalid("plans.invalid", _N("{problem}"), problem=str(exc)) from None
    except OSError as exc:
        raise Invalid("plans.cannot_read_plan_file", _N("cannot read plan file: {exc}"), exc=exc) from None
    unknown = [f for f in plan.families if f not in family_registry.names()]
    if unknown:
        raise Invalid(
            "plans.unknown_families",
            _N("plan names unknown instrument families {unknown}; known: {known}"),
            unknown=", ".join(unknown),
            known=", ".join(family_registry.names()),
        )
    return plan


def _month(value: str) -> Month:
    try:
        return Month.parse(value)
    except PlanError as exc:
        raise Invalid("plans.invalid", _N("{problem}"), problem=str(exc)) from None


def _points(session: Session, district_id: int) -> dict[str, SamplingPoint]:
    return {p.code: p for p in districts.points(session, district_id)}


def _done_in_month(session: Session, district_id: int, month: Month) -> list[Done]:
    """What was sampled in the district's local month, per local collection day and point, as plan batches."""
    tz = clock.zone_of(session, district_id)
    start, end = clock.month_bounds(month.year, month.month, tz)
    points = {p.id: p.code for p in districts.points(session, district_id)}
    counts: Counter[tuple[date, str, str]] = Counter()
    for sample in session.exec(
        select(Sample).where(
            Sample.district_id == district_id, col(Sample.collected_at) >= start, col(Sample.collected_at) < end
        )
    ):
        counts[(clock.local_date(sample.collected_at, tz), points[sample.point_id], sample.category_code)] += 1
    grouped: dict[tuple[date, str], dict[str, int]] = {}
    for (day, point, category), n in counts.items():
        grouped.setdefault((day, point), {})[category] = n
    return [Done(day, point, batches) for (day, point), batches in sorted(grouped.items())]


def _latest(session: Session, district_id: int, month: str) -> PlanVersion | None:
    return session.exec(
        select(PlanVersion)
        .where(PlanVersion.district_id == district_id, PlanVersion.month == month)
        .order_by(col(PlanVersion.number).desc())
    ).first()


def _district_id(session: Session, actor: Actor) -> int:
    if actor.district_id:
        return actor.district_id
    return int(districts.named_or_first(session, None).id or 0)


def district_of(session: Session, actor: Actor) -> int:
    """The district whose plans the actor works on (the console's: the first one unless narrowed)."""
    return _district_id(session, actor)


def latest_version(session: Session, district_id: int, month: str) -> PlanVersion | None:
    """The newest stored plan version of the district for the month, if any."""
    return _latest(session, district_id, month)


def check_points(session: Session, district_id: int, plan: Plan) -> dict[str, SamplingPoint]:
    """The district's points by code, or Invalid when the plan names a point the reference data lacks."""
    points = _points(session, district_id)
    unknown = sorted({p.code for p in plan.points} - set(points))
    if unknown:
        raise Invalid(
            "plans.plan_names_sampling_points",
            _N("plan names sampling points not in the reference data: {unknown}"),
            unknown=", ".join(unknown),
        )
    return points


def generate(
    session: Session, actor: Actor, plan: Plan, month_text: str, *, today: date | None = None
) -> tuple[PlanVersion, Schedule]:
    """Generate the month's schedule and store it as a new plan version with its tasks.

    In the current month, once samples have been taken, this re-plans: done work is kept and the rest is
    spread over the working days from today (the district's local date).
    """
    require_role(actor, Role.ADMIN)
    month = _month(month_text)
    district_id = _district_id(session, actor)
    points = check_points(session, district_id, plan)
    today = today or clock.today_of(session, district_id)
    done = _done_in_month(session, district_id, month)
    try:
        if done and month.first <= today <= month.last:
            schedule, replanned = schedules.replan(plan, month, done, today), today
        else:
            schedule, replanned = schedules.generate(plan, month), None
    except PlanError as exc:
        raise Invalid("plans.invalid", _N("{problem}"), problem=str(exc)) from None
    previous = _latest(session, district_id, str(month))
    version = PlanVersion(
        district_id=district_id,
        month=str(month),
        number=(previous.number + 1) if previous else 1,
        name=plan.name,
        digest=plan.digest(),
        plan=plan.model_dump(mode="json"),
        schedule=schedule.to_dict(),
        replanned_from=replanned,
        created_by_id=actor.user_id,
    )
    session.add(version)
    session.flush()
    audit.record(session, actor, version, "generate" if previous is None else "replan", None)
    for task in schedule.tasks:
        row = PlanTask(
            district_id=district_id,
            plan_version_id=version.id,
            day=task.date,
            point_id=int(points[task.point].id or 0),
            route=task.route,
            batches=dict(task.batches),
            items=list(task.items),
        )
        session.add(row)
        session.flush()
        audit.record(session, actor, row, "plan", None)
    return version, schedule


def versions(session: Session, actor: Actor) -> list[PlanVersionPublic]:
    """Stored plan versions of the actor's district, newest first."""
    require_role(actor, Role.ADMIN, Role.TESTER, Role.REVIEWER)
    rows = session.exec(
        select(PlanVersion)
        .where(PlanVersion.district_id == _district_id(session, actor))
        .order_by(col(PlanVersion.id).desc())
    ).all()
    return [
        PlanVersionPublic(
            id=int(v.id or 0),
            month=v.month,
            number=v.number,
            name=v.name,
            digest=v.digest,
            replanned_from=v.replanned_from,
            created_at=v.created_at,
            tasks=len(v.schedule.get("tasks", [])),
            shortfalls=len(v.schedule.get("shortfalls", [])),
        )
        for v in rows
    ]


def _registered(session: Session, task_ids: list[int]) -> Counter[str]:
    if not task_ids:
        return Counter()
    refs = [f"T{i}" for i in task_ids]
    rows = session.exec(
        select(Sample.task_ref, func.count()).where(col(Sample.task_ref).in_(refs)).group_by(col(Sample.task_ref))
    ).all()
    return Counter({str(ref): int(n) for ref, n in rows})


@dataclass(frozen=True)
class _PointInfo:
    code: str
    name: str
    station: str
    area: str


def _point_info(session: Session, district_id: int) -> dict[int, _PointInfo]:
    stations = {s.id: s.code for s in session.exec(select(Station).where(Station.district_id == district_id))}
    return {
        int(p.id or 0): _PointInfo(p.code, p.name, stations.get(p.station_id, ""), p.area)
        for p in districts.points(session, district_id)
    }


def _public(
    task: PlanTask, info: _PointInfo, registered: int, now: datetime, carried_from: date | None = None
) -> TaskPublic:
    wanted = sum(task.batches.values())
    done = registered >= wanted if task.kind == "planned" else task.arrived_at is not None
    overdue = (
        task.kind == "urgent" and task.due_at is not None and (task.arrived_at or now) > task.due_at
    ) or carried_from is not None
    return TaskPublic(
        id=int(task.id or 0),
        day=task.day,
        point_code=info.code,
        point_name=info.name,
        station_code=info.station,
        area=info.area,
        route=task.route,
        kind=task.kind,
        batches=task.batches,
        items=task.items,
        samples_registered=registered,
        done=done,
        due_at=task.due_at,
        overdue=overdue,
        carried_from=carried_from,
    )


def _tasks_of_version(session: Session, version: PlanVersion) -> list[PlanTask]:
    return list(session.exec(select(PlanTask).where(PlanTask.plan_version_id == version.id)).all())


def today(session: Session, actor: Actor) -> date:
    """The vehicle's working day: the local date of the actor's district now."""
    return clock.today_of(session, _district_id(session, actor))


def day_sheet(session: Session, actor: Actor, day: date, *, now: datetime | None = None) -> list[TaskPublic]:
    """The vehicle's tasks for a day in route order: urgent tests first, then planned visits, then
    earlier visits of the month still missing batches (carried to this day and flagged)."""
    require_role(actor, Role.TESTER, Role.REVIEWER, Role.ADMIN)
    district_id = _district_id(session, actor)
    info = _point_info(session, district_id)
    now = now or clock.now()
    version = _latest(session, district_id, f"{day:%Y-%m}")
    planned = _tasks_of_version(session, version) if version else []
    urgent = list(
        session.exec(
            select(PlanTask).where(PlanTask.district_id == district_id, PlanTask.kind == "urgent", PlanTask.day == day)
        ).all()
    )
    todays = [t for t in planned if t.day == day]
    earlier = [t for t in planned if t.day < day]
    registered = _registered(session, [int(t.id or 0) for t in [*urgent, *todays, *earlier]])
    sheet = [
        _public(t, info[t.point_id], registered[task_ref(t)], now)
        for t in sorted(urgent, key=lambda t: t.due_at or now)
    ]
    sheet += [_public(t, info[t.point_id], registered[task_ref(t)], now) for t in sorted(todays, key=lambda t: t.route)]
    for task in sorted(earlier, key=lambda t: (t.day, t.route)):
        if registered[task_ref(task)] < sum(task.batches.values()):
            entry = _public(task, info[task.point_id], registered[task_ref(task)], now, carried_from=task.day)
            entry.carried_to = day
            sheet.append(entry)
    return sheet


def progress(session: Session, actor: Actor, month_text: str) -> tuple[list[ProgressPublic], list[TaskPublic]]:
    """Planned against done batches per point and item, and the month's overdue visits."""
    require_role(actor, Role.TESTER, Role.REVIEWER, Role.ADMIN, Role.STATION)
    month = _month(month_text)
    district_id = _district_id(session, actor)
    version = _latest(session, district_id, str(month))
    if version is None:
        raise NotFound(
            "plans.no_plan_stored_run",
            _N("no plan stored for {month}: run `lims plan generate --month {month}`"),
            month=month,
        )
    plan = schedules.parse_plan(version.plan)
    schedule = Schedule.from_dict(version.schedule)
    rows = schedules.progress(plan, schedule, _done_in_month(session, district_id, month))
    table = [
        ProgressPublic(point_code=r.point, item_code=r.item, planned=r.planned, done=r.done, remaining=r.remaining)
        for r in rows
    ]
    today = clock.today_of(session, district_id)
    now = clock.now()
    info = _point_info(session, district_id)
    tasks = _tasks_of_version(session, version)
    registered = _registered(session, [int(t.id or 0) for t in tasks])
    overdue = []
    for t in sorted(tasks, key=lambda t: (t.day, t.route)):
        if t.day < today and registered[task_ref(t)] < sum(t.batches.values()):
            entry = _public(t, info[t.point_id], registered[task_ref(t)], now, carried_from=t.day)
            entry.carried_to = _next_vehicle_day(plan, info[t.point_id].code, today)
            overdue.append(entry)
    return table, overdue


def _next_vehicle_day(plan: Plan, point: str, today: date) -> date | None:
    try:
        return schedules.next_working_day(plan, point, today)
    except PlanError:  # past the years the holiday calendar knows
        return None


def create_urgent(session: Session, actor: Actor, body: UrgentTaskCreate) -> PlanTask:
    """An urgent on-site test for a complaint, due 20 minutes (town) or 40 (rural) after it was received.

    The point is one of the actor's district's; the category and items must exist."""
    require_role(actor, Role.TESTER, Role.REVIEWER, Role.ADMIN)
    district_id = _district_id(session, actor)
    point = districts.point(session, district_id, body.point_code)
    if point is None:
        raise Invalid(
            "plans.unknown_sampling_point",
            _N("unknown sampling point {body_point_code!r}"),
            body_point_code=body.point_code,
        )
    _check_category_and_items(session, body)
    received = clock.now()
    station = session.get(Station, point.station_id)
    urgent = schedules.urgent_task(_Located(point.code, station.code if station else "", point.area), received)
    task = PlanTask(
        district_id=district_id,
        day=clock.local_date(received, clock.zone_of(session, district_id)),
        point_id=int(point.id or 0),
        kind="urgent",
        batches={body.category_code: 1} if body.category_code else {},
        items=list(body.items),
        received_at=received,
        due_at=urgent.due_at,
        complaint=body.complaint,
    )
    session.add(task)
    session.flush()
    audit.record(session, actor, task, "urgent", None)
    return task


def _check_category_and_items(session: Session, body: UrgentTaskCreate) -> None:
    if body.category_code:
        reference_data.require_category(session, body.category_code)
    reference_data.require_items(session, list(body.items))


@dataclass(frozen=True)
class _Located:
    code: str
    station: str
    area: str


def mark_arrived(session: Session, actor: Actor, task_id: int) -> PlanTask:
    """Record when the vehicle reached the point of an urgent task."""
    require_role(actor, Role.TESTER)
    task = session.get(PlanTask, task_id)
    if task is None or task.district_id != actor.district_id:
        raise NotFound("plans.no_task", _N("no task {task_id}"), task_id=task_id)
    if task.kind != "urgent":
        raise Invalid("plans.only_urgent_task_can", _N("only an urgent task can be marked as reached"))
    if task.arrived_at is not None:
        raise Conflict(
            "plans.task_was_already_marked", _N("task {task_id} was already marked as reached"), task_id=task_id
        )
    before = audit.snapshot(task)
    if not atomic.update_where(session, task, {"arrived_at": None}, {"arrived_at": clock.now()}):
        session.rollback()
        raise Conflict(
            "plans.task_was_marked_reached",
            _N("task {task_id} was marked as reached by someone else at the same moment"),
            task_id=task_id,
        )
    audit.record(session, actor, task, "arrived", before)
    return task


def check_task_ref(session: Session, district_id: int, point_id: int, ref: str) -> None:
    """Invalid unless `ref` names a task of this district at this point."""
    if not ref.startswith("T") or not ref[1:].isdigit():
        raise Invalid("plans.task_reference_must_look", _N("task reference {ref!r} must look like T123"), ref=ref)
    task = session.get(PlanTask, int(ref[1:]))
    if task is None or task.district_id != district_id:
        raise Invalid("plans.no_task_", _N("no task {ref}"), ref=ref)
    if task.point_id != point_id:
        raise Invalid("plans.task_another_sampling_point", _N("task {ref} is at another sampling point"), ref=ref)


def day_sheet_entry(session: Session, task: PlanTask) -> TaskPublic:
    """One task as the day sheet shows it."""
    registered = _registered(session, [int(task.id or 0)])
    return _public(task, _point_info(session, task.district_id)[task.point_id], registered[task_ref(task)], clock.now())
