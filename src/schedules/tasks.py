"""Result records: dated tasks, shortfalls, schedules, overdue and urgent tasks, progress rows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from schedules.model import Area
from schedules.workdays import Month


class Reason(StrEnum):
    """Why batches could not be scheduled."""

    CAPACITY = "capacity"  # the vehicle's samples, channels or points per day ran out
    NO_DAY = "no_available_day"  # the point has no open working day left in the period


class DoneWork(Protocol):
    """What was done against one task: its date and point, and batches taken per food category."""

    @property
    def date(self) -> date: ...

    @property
    def point(self) -> str: ...

    @property
    def batches(self) -> Mapping[str, int]: ...


@dataclass(frozen=True, slots=True)
class Done:
    """A plain DoneWork record: batches per category done against the task of `point` on `date`."""

    date: date
    point: str
    batches: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Task:
    """One visit of the vehicle to one point on one day, with batches per food category."""

    date: date
    point: str
    station: str
    area: Area
    route: int  # the point's stop number in the plan's route order (0 = first)
    batches: Mapping[str, int]  # food category -> batches (samples) to take
    items: tuple[str, ...]  # test items the batches are run for
    channels: Mapping[str, int] = field(default_factory=dict)  # instrument channels used, per family
    done: bool = False  # a completed task kept by a re-plan
    tests: Mapping[str, int] = field(default_factory=dict)  # item -> tests to run (batches it applies to)

    @property
    def samples(self) -> int:
        """Total batches (samples) of the task."""
        return sum(self.batches.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "date": self.date.isoformat(),
            "point": self.point,
            "station": self.station,
            "area": self.area.value,
            "route": self.route,
            "batches": dict(self.batches),
            "items": list(self.items),
            "samples": self.samples,
            "tests": dict(self.tests),
            "channels": dict(self.channels),
            "done": self.done,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        """Rebuild a task from `to_dict()` output (e.g. stored JSON)."""
        return cls(
            date=date.fromisoformat(data["date"]),
            point=data["point"],
            station=data["station"],
            area=Area(data["area"]),
            route=int(data["route"]),
            batches=dict(data["batches"]),
            items=tuple(data["items"]),
            channels={str(f): int(n) for f, n in data.get("channels", {}).items()},
            done=bool(data.get("done", False)),
            tests=dict(data.get("tests", {})),
        )


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Batches of one category at one point, for one item, that could not be scheduled."""

    point: str
    item: str
    category: str
    batches: int
    reason: Reason

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "point": self.point,
            "item": self.item,
            "category": self.category,
            "batches": self.batches,
            "reason": self.reason.value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Shortfall:
        """Rebuild a shortfall from `to_dict()` output."""
        return cls(data["point"], data["item"], data["category"], int(data["batches"]), Reason(data["reason"]))


@dataclass(frozen=True, slots=True)
class Schedule:
    """A month's tasks for a plan, the quotas they serve and what could not be scheduled."""

    plan: str
    month: Month
    working_days: tuple[date, ...]  # days the vehicle runs this month
    quotas: Mapping[str, Mapping[str, int]]  # point -> category -> batches due this month
    tasks: tuple[Task, ...]  # sorted by date, then route order
    shortfalls: tuple[Shortfall, ...]

    def day(self, day: date) -> tuple[Task, ...]:
        """The vehicle's day sheet: the day's tasks in route order."""
        return tuple(t for t in self.tasks if t.date == day)

    def scheduled(self, point: str, category: str) -> int:
        """Batches of a category scheduled at a point over the month (done tasks included)."""
        return sum(t.batches.get(category, 0) for t in self.tasks if t.point == point)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form, identical for identical input."""
        return {
            "plan": self.plan,
            "month": str(self.month),
            "working_days": [d.isoformat() for d in self.working_days],
            "quotas": {p: dict(q) for p, q in self.quotas.items()},
            "tasks": [t.to_dict() for t in self.tasks],
            "shortfalls": [s.to_dict() for s in self.shortfalls],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text of `to_dict()`."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schedule:
        """Rebuild a schedule from `to_dict()` output (e.g. a stored plan version)."""
        return cls(
            plan=data["plan"],
            month=Month.parse(data["month"]),
            working_days=tuple(date.fromisoformat(d) for d in data["working_days"]),
            quotas={p: dict(q) for p, q in data["quotas"].items()},
            tasks=tuple(Task.from_dict(t) for t in data["tasks"]),
            shortfalls=tuple(Shortfall.from_dict(s) for s in data["shortfalls"]),
        )


@dataclass(frozen=True, slots=True)
class Overdue:
    """A planned task whose day has passed with batches still missing, carried to a later day."""

    task: Task
    missing: Mapping[str, int]  # category -> batches not yet done
    next_day: date | None  # first working day on or after `today` the point is open; None past the calendar


@dataclass(frozen=True, slots=True)
class ProgressRow:
    """Planned against done batches for one item at one point."""

    point: str
    item: str
    planned: int
    done: int

    @property
    def remaining(self) -> int:
        """Batches still to do (never negative)."""
        return max(self.planned - self.done, 0)


@dataclass(frozen=True, slots=True)
class UrgentTask:
    """An ad-hoc test triggered by a complaint, due on site within 20 / 40 minutes by area."""

    point: str
    station: str
    area: Area
    received_at: datetime
    due_at: datetime

    def overdue(self, now: datetime, arrived_at: datetime | None = None) -> bool:
        """True when the tester arrived (or, not yet arrived, `now` is) after the due time."""
        return (arrived_at or now) > self.due_at
