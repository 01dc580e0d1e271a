"""Urgent complaint tests: on site within 20 minutes in town, 40 in rural townships."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from schedules.errors import PlanError
from schedules.model import DEFAULT_RESPONSE_MINUTES, Area
from schedules.tasks import UrgentTask


class Located(Protocol):
    """Anything with a point code, station code and area (a plan Point or a database row)."""

    @property
    def code(self) -> str: ...

    @property
    def station(self) -> str: ...

    @property
    def area(self) -> str: ...


def urgent_task(point: Located, received_at: datetime, *, minutes: Mapping[Area, int] | None = None) -> UrgentTask:
    """An urgent test at the point, due `minutes[area]` after the complaint was received."""
    table = DEFAULT_RESPONSE_MINUTES if minutes is None else minutes
    try:
        area = Area(point.area)
    except ValueError:
        raise PlanError(f"point {point.code}: area must be one of {', '.join(a.value for a in Area)}") from None
    if area not in table:
        raise PlanError(f"point {point.code}: no response time for area {area.value}")
    return UrgentTask(
        point=point.code,
        station=point.station,
        area=area,
        received_at=received_at,
        due_at=received_at + timedelta(minutes=table[area]),
    )
