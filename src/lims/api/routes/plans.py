"""Sampling plans: stored versions, the vehicle's day sheet, progress, and urgent complaint tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import SQLModel

from lims.api.deps import CurrentUser, RowId, SessionDep
from lims.models.bounds import SaneDay
from lims.models.plans import PlanVersionPublic, ProgressPublic, TaskPublic, UrgentTaskCreate
from lims.services.samples import plans

router = APIRouter(tags=["plans"])


class ProgressReport(SQLModel):
    """A month's progress and its overdue visits."""

    month: str
    progress: list[ProgressPublic]
    overdue: list[TaskPublic]


@router.get("/plans")
def plan_versions(session: SessionDep, actor: CurrentUser) -> list[PlanVersionPublic]:
    """Stored plan versions, newest first."""
    return plans.versions(session, actor)


@router.get("/day-sheet")
def day_sheet(session: SessionDep, actor: CurrentUser, day: SaneDay | None = None) -> list[TaskPublic]:
    """The vehicle's tasks for a day (default the district's today) in route order, urgent tests first."""
    return plans.day_sheet(session, actor, day or plans.today(session, actor))


@router.get("/progress")
def progress(
    session: SessionDep, actor: CurrentUser, month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]
) -> ProgressReport:
    """Planned against done batches per point and item."""
    rows, overdue = plans.progress(session, actor, month)
    return ProgressReport(month=month, progress=rows, overdue=overdue)


@router.post("/tasks/urgent", status_code=201)
def urgent(session: SessionDep, actor: CurrentUser, body: UrgentTaskCreate) -> TaskPublic:
    """Open an urgent on-site test for a food complaint (due in 20 minutes in town, 40 in rural areas)."""
    task = plans.create_urgent(session, actor, body)
    session.commit()
    return plans.day_sheet_entry(session, task)


@router.post("/tasks/{task_id}/arrived")
def arrived(session: SessionDep, actor: CurrentUser, task_id: RowId) -> TaskPublic:
    """Record that the vehicle reached the point of an urgent task."""
    task = plans.mark_arrived(session, actor, task_id)
    session.commit()
    return plans.day_sheet_entry(session, task)
