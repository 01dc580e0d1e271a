"""Working days from `chinese-calendar`: statutory holidays off, adjusted working days (调休) on."""

from __future__ import annotations

import calendar as _stdcal
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

import chinese_calendar
from chinese_calendar import constants as _cc_constants

from schedules.errors import CalendarError, PlanError

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True, order=True)
class Month:
    """A calendar month, written `YYYY-MM`."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise PlanError(f"month {self.year}-{self.month:02d}: month must be 01..12")

    @classmethod
    def parse(cls, value: str | date | Month) -> Month:
        """Accept `YYYY-MM`, any date inside the month, or a Month."""
        if isinstance(value, Month):
            return value
        if isinstance(value, date):
            return cls(value.year, value.month)
        match = _MONTH_RE.match(str(value).strip())
        if not match:
            raise PlanError(f"month {value!r}: must be YYYY-MM")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def first(self) -> date:
        """The first day of the month."""
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        """The last day of the month."""
        return date(self.year, self.month, _stdcal.monthrange(self.year, self.month)[1])

    def days(self) -> list[date]:
        """Every calendar day of the month, in order."""
        return [self.first + timedelta(days=i) for i in range(self.last.day)]

    def next(self) -> Month:
        """The following month."""
        return Month(self.year + (self.month == 12), self.month % 12 + 1)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and (day.year, day.month) == (self.year, self.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def supported_years() -> tuple[int, int]:
    """First and last year the installed `chinese-calendar` has holiday data for."""
    years = [d.year for d in _cc_constants.holidays]
    return min(years), max(years)


def _calendar_version() -> str:
    try:
        return version("chinese-calendar")
    except PackageNotFoundError:  # pragma: no cover - only when run from a source tree
        return "unknown"


def check_year(year: int) -> None:
    """Raise CalendarError when `year` has no holiday data."""
    low, high = supported_years()
    if not low <= year <= high:
        raise CalendarError(
            f"no statutory holiday data for {year}: chinese-calendar {_calendar_version()} knows "
            f"{low}–{high}; upgrade chinese-calendar once the State Council publishes that year's holidays"
        )


@lru_cache(maxsize=512)
def _month_flags(year: int, month: int) -> tuple[tuple[date, bool, bool], ...]:
    check_year(year)
    out = []
    for day in Month(year, month).days():
        workday = bool(chinese_calendar.is_workday(day))
        out.append((day, workday, workday and day.weekday() >= 5))
    return tuple(out)


def working_days(month: Month | str) -> list[date]:
    """Working days of the month: weekdays that are not statutory holidays, plus adjusted working days."""
    m = Month.parse(month)
    return [d for d, work, _ in _month_flags(m.year, m.month) if work]


def is_working_day(day: date) -> bool:
    """True when people work on `day` (adjusted working days included, holidays excluded)."""
    return any(d == day and work for d, work, _ in _month_flags(day.year, day.month))


def is_adjusted_workday(day: date) -> bool:
    """True for a Saturday or Sunday worked in exchange for a statutory holiday (调休上班)."""
    return any(d == day and adjusted for d, _, adjusted in _month_flags(day.year, day.month))


def is_statutory_holiday(day: date) -> bool:
    """True for a day off that belongs to a statutory holiday (not an ordinary weekend)."""
    check_year(day.year)
    off, name = chinese_calendar.get_holiday_detail(day)
    return bool(off) and name is not None


def adjusted_workdays(month: Month | str) -> list[date]:
    """Adjusted working days (调休上班) that fall in the month."""
    m = Month.parse(month)
    return [d for d, _, adjusted in _month_flags(m.year, m.month) if adjusted]


def statutory_holidays(month: Month | str) -> list[date]:
    """Statutory holiday days off that fall in the month."""
    m = Month.parse(month)
    return [d for d in m.days() if is_statutory_holiday(d)]
