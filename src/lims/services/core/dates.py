"""Days and times that people type into queries and forms: parsed once, held to the sane range."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from lims.i18n import _N
from lims.models import bounds
from lims.services.core import clock
from lims.services.core.errors import Invalid

_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")  # ASCII digits only: int() would read full-width ones


def _outside(name: str, value: date) -> Invalid:
    """The refusal of a day outside the sane range (`bounds.check_day`)."""
    return Invalid(
        "dates.outside",
        _N("{name}: date {day} is outside {earliest}..{latest}"),
        name=name,
        day=value.isoformat(),
        earliest=bounds.EARLIEST_DAY.isoformat(),
        latest=bounds.LATEST_DAY.isoformat(),
    )


def month(text: str, name: str = "month") -> tuple[int, int]:
    """`YYYY-MM` as (year, month) inside the sane range, or Invalid naming the text."""
    found = _MONTH.match(text.strip()) if isinstance(text, str) else None
    first = date(int(found.group(1)), int(found.group(2)), 1) if found and 1 <= int(found.group(2)) <= 12 else None
    if first is None or not bounds.EARLIEST_DAY <= first <= bounds.LATEST_DAY:
        raise Invalid("dates.not_a_month", _N("{text!r} is not a month (YYYY-MM)"), text=str(text)[:20], name=name)
    return first.year, first.month


def day(text: str | None, name: str) -> date | None:
    """`YYYY-MM-DD` as a date (None when empty), or Invalid naming the field and the range."""
    if not text:
        return None
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(
            "dates.not_a_date", _N("{name} {text!r} is not a date (YYYY-MM-DD)"), name=name, text=text[:20]
        ) from None
    try:
        return bounds.check_day(value)
    except ValueError:
        raise _outside(name, value) from None


@dataclass(frozen=True)
class Window:
    """A filter's time window in UTC: [start, end), either side open when None."""

    start: datetime | None = None
    end: datetime | None = None

    def where(self, column: Any) -> list[Any]:
        """SQL conditions holding `column` (a UTC time) inside the window."""
        conditions: list[Any] = []
        if self.start is not None:
            conditions.append(column >= self.start)
        if self.end is not None:
            conditions.append(column < self.end)
        return conditions


def window(
    date_from: str | None,
    date_to: str | None,
    district: clock.Zoned = None,
    *,
    from_field: str = "date_from",
    to_field: str = "date_to",
) -> Window:
    """The user's from/to days (`YYYY-MM-DD`, either may be empty) as UTC bounds of the district's local days.

    `date_to` takes in the whole of its local day. A day outside the sane range, a text that is no date, or
    a `date_to` before `date_from` is Invalid naming the field.
    """
    first, last = day(date_from, from_field), day(date_to, to_field)
    if first is not None and last is not None and last < first:
        raise Invalid(
            "dates.window_reversed",
            _N("{to_field} {last} is before {from_field} {first}"),
            to_field=to_field,
            last=last.isoformat(),
            from_field=from_field,
            first=first.isoformat(),
        )
    return Window(
        None if first is None else clock.day_bounds(first, district)[0],
        None if last is None else clock.day_bounds(last, district)[1],
    )


def one_day(text: str | None, district: clock.Zoned = None, field: str = "day") -> Window:
    """One local day of the district (`YYYY-MM-DD`, empty for no filter) as UTC bounds."""
    return window(text, text, district, from_field=field, to_field=field)


def moment(text: str | None, name: str) -> datetime | None:
    """An ISO 8601 time with its offset (None when empty), in UTC, or Invalid with the reason."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(
            "dates.time_iso_offset",
            _N("{name} {text!r} is not a time (ISO 8601 with an offset)"),
            name=name,
            text=text[:40],
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return bounds.check_moment(value)
    except ValueError:  # the only thing left to refuse: a day outside the sane range
        raise _outside(name, value.date()) from None


def local_moment(text: str | None, name: str, district: clock.Zoned = None) -> datetime | None:
    """A time as a form's `datetime-local` gives it (no offset: the district's wall clock), in UTC; an offset,
    when given, wins. None when empty, Invalid with the reason otherwise."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        value = None
    if value is not None and value.tzinfo is None:
        text = value.replace(tzinfo=clock.zone(district)).isoformat()
    return moment(text, name)
