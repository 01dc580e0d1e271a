"""The bounds every input is held to: sane dates and times, row ids, quantities and raw figures."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

# Quick tests and the products they look at lie well inside this century; anything outside is a typo or an
# attack, and would overflow date arithmetic (a day after 9999-12-31, a UTC offset applied to year 1).
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)
# Row ids are PostgreSQL `integer` columns.
MAX_ROW_ID = 2**31 - 1
# A sample, a disposal: no food lot a quick-test lab handles weighs a thousand tonnes.
MAX_QUANTITY = 1_000_000.0
# A raw record names at most this many figures (the families use 2 to 8).
MAX_RAW_FIELDS = 32
MAX_RAW_NAME = 40
# A consumption-safety warning is about a present risk: it may be set to expire at most this far ahead.
WARNING_HORIZON = timedelta(days=3 * 366)


def check_day(value: date) -> date:
    """`value` if it lies in the sane range, else ValueError naming the range."""
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(f"date {value.isoformat()} is outside {EARLIEST_DAY.isoformat()}..{LATEST_DAY.isoformat()}")
    return value


def check_moment(value: datetime) -> datetime:
    """An aware `value` whose wall-clock date lies in the sane range, converted to UTC."""
    if value.tzinfo is None:
        raise ValueError("a time needs a time-zone offset")
    check_day(value.date())  # before converting: year 1 at +14:00 cannot be converted to UTC
    return value.astimezone(UTC)


def check_raw(values: dict[str, float]) -> dict[str, float]:
    """Raw figures: a bounded number of short names, every value a finite number."""
    if len(values) > MAX_RAW_FIELDS:
        raise ValueError(f"at most {MAX_RAW_FIELDS} raw figures, got {len(values)}")
    for name, number in values.items():
        if not name or len(name) > MAX_RAW_NAME:
            raise ValueError(f"raw figure names have 1-{MAX_RAW_NAME} characters")
        if not math.isfinite(number):
            raise ValueError(f"raw figure {name!r} is not a finite number")
    return values


def parse_day(text: str, field: str = "date") -> date:
    """A `YYYY-MM-DD` text as a date in the sane range, else ValueError with the reason."""
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{field} {text[:20]!r} is not a date (YYYY-MM-DD)") from None
    try:
        return check_day(value)
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None


SaneDay = Annotated[date, AfterValidator(check_day)]
SaneMoment = Annotated[AwareDatetime, AfterValidator(check_moment)]
RawFigures = Annotated[dict[str, float], AfterValidator(check_raw)]
