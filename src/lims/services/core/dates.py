"""Days and times that people type into queries and forms: parsed once, held to the sane range."""

from __future__ import annotations

from datetime import UTC, date, datetime

from lims.i18n import _N
from lims.models import bounds
from lims.services.core.errors import Invalid


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


def day_start(text: str | None, name: str) -> datetime | None:
    """The start (00:00 UTC) of the day `text` names, or None when empty."""
    value = day(text, name)
    return None if value is None else datetime.combine(value, datetime.min.time(), tzinfo=UTC)


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
