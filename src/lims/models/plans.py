"""Stored sampling-plan versions and their dated tasks, including urgent complaint tasks."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import StringConstraints
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from lims.models.common import json_column, utcnow


class PlanVersion(SQLModel, table=True):
    """One generated plan for a month: the plan file as data and the schedule it gave."""

    __tablename__ = "plan_version"
    __table_args__ = (UniqueConstraint("district_id", "month", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    month: str = Field(max_length=7, index=True)
    number: int = Field(description="1 for the first plan of the month, then 2, 3, … for re-plans")
    name: str
    digest: str = Field(max_length=64)
    plan: dict[str, Any] = Field(sa_column=json_column(nullable=False))
    schedule: dict[str, Any] = Field(sa_column=json_column(nullable=False))
    replanned_from: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")


class PlanTask(SQLModel, table=True):
    """A dated visit of the vehicle to a point (or an urgent complaint test) with the batches to take."""

    __tablename__ = "plan_task"
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    plan_version_id: int | None = Field(default=None, foreign_key="plan_version.id", index=True)
    day: date = Field(index=True)
    point_id: int = Field(foreign_key="sampling_point.id", index=True)
    route: int = 0
    kind: str = Field(default="planned", description="planned | urgent")
    batches: dict[str, int] = Field(default_factory=dict, sa_column=json_column(nullable=False))
    items: list[str] = Field(default_factory=list, sa_column=json_column(nullable=False))
    received_at: datetime | None = None
    due_at: datetime | None = None
    arrived_at: datetime | None = None
    complaint: str = ""


class TaskPublic(SQLModel):
    """A task on the day sheet, with what has been registered against it."""

    id: int
    day: date
    point_code: str
    point_name: str
    station_code: str
    area: str
    route: int
    kind: str
    batches: dict[str, int]
    items: list[str]
    samples_registered: int
    done: bool
    due_at: datetime | None
    overdue: bool
    carried_from: date | None = None
    carried_to: date | None = None


class UrgentTaskCreate(SQLModel):
    """A food complaint that needs an on-site quick test."""

    point_code: str = Field(min_length=1, max_length=16)
    complaint: str = Field(min_length=2, max_length=1000)
    category_code: str | None = Field(default=None, max_length=32)
    items: list[Annotated[str, StringConstraints(min_length=1, max_length=16)]] = Field(
        default_factory=list, max_length=20
    )


class PlanVersionPublic(SQLModel):
    """A stored plan version."""

    id: int
    month: str
    number: int
    name: str
    digest: str
    replanned_from: date | None
    created_at: datetime
    tasks: int
    shortfalls: int


class ProgressPublic(SQLModel):
    """Planned against done batches for one point and item in a month."""

    point_code: str
    item_code: str
    planned: int
    done: int
    remaining: int


class SuggestionStatus(StrEnum):
    """Where a suggested plan stands: waiting for the administrator, taken as a plan version, or replaced."""

    OPEN = "open"
    ACCEPTED = "accepted"
    SUPERSEDED = "superseded"


class PlanSuggestionBase(SQLModel):
    """A plan for a month suggested from the current plan and the district's recent risk."""

    month: str = Field(max_length=7, index=True)
    base_version_id: int | None = Field(
        default=None, foreign_key="plan_version.id", description="the plan version it was built from, if stored"
    )
    follows_number: int = Field(
        default=0, description="the month's newest plan version number when suggested (0: none yet)"
    )
    name: str
    digest: str = Field(max_length=64, description="SHA-256 of the suggested plan")
    plan: dict[str, Any] = Field(sa_column=json_column(nullable=False))
    minimums: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        sa_column=json_column(nullable=False),
        description="the fixed batches (定批) per point and category, kept through accepted suggestions",
    )
    changes: list[dict[str, Any]] = Field(default_factory=list, sa_column=json_column(nullable=False))
    capacity: dict[str, Any] = Field(default_factory=dict, sa_column=json_column(nullable=False))
    status: str = Field(default=SuggestionStatus.OPEN, max_length=12, index=True)


class PlanSuggestion(PlanSuggestionBase, table=True):
    """A stored suggestion, kept until the administrator accepts it as the month's next plan version."""

    __tablename__ = "plan_suggestion"
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    decided_at: datetime | None = None
    decided_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    accepted_version_id: int | None = Field(default=None, foreign_key="plan_version.id")


class PlanSuggestionPublic(PlanSuggestionBase):
    """A suggestion as the command line's JSON and the pages show it."""

    id: int
    created_at: datetime
    accepted_version_id: int | None
