"""Working days from `chinese-calendar`: statutory holidays off, adjusted working days (调休) on.

Years the installed package does not know yet can be added as data in `data/holidays.yaml`."""

from __future__ import annotations

import calendar as _stdcal
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import chinese_calendar
import yaml
from chinese_calendar import constants as _cc_constants
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schedules.errors import CalendarError, PlanError

HOLIDAYS_FILE = Path(__file__).with_name("data") / "holidays.yaml"

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


class _HolidayRange(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    start: date = Field(alias="from")
    end: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> _HolidayRange:
        if self.end < self.start:
            raise ValueError(f"{self.name}: 'to' {self.end} is before 'from' {self.start}")
        return self


class _YearArrangement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notice: str = ""
    holidays: list[_HolidayRange] = Field(min_length=1)
    workdays: list[date] = []


@dataclass(frozen=True)
class HolidayTable:
    """Holiday arrangements added as data for years chinese-calendar lacks."""

    years: frozenset[int]
    holidays: dict[date, str]
    workdays: frozenset[date]


def load_holiday_table(path: Path) -> HolidayTable:
    """Read and check a holidays file (see data/holidays.yaml); PlanError names the year and field at fault."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PlanError(f"{path}: {exc}") from None
    if not isinstance(raw, dict):
        raise PlanError(f"{path}: expected a mapping of year -> arrangement")
    holidays: dict[date, str] = {}
    workdays: set[date] = set()
    for year, body in raw.items():
        try:
            arrangement = _YearArrangement.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise PlanError(f"{path}: {year}.{where}: {first['msg']}") from None
        for span in arrangement.holidays:
            day = span.start
            while day <= span.end:
                holidays[day] = span.name
                day += timedelta(days=1)
        for day in arrangement.workdays:
            if day.weekday() < 5:
                raise PlanError(f"{path}: {year}.workdays: {day} is a weekday, not a weekend day worked in exchange")
            if day in holidays:
                raise PlanError(f"{path}: {year}.workdays: {day} is also listed as a holiday")
            workdays.add(day)
    return HolidayTable(frozenset(int(y) for y in raw), holidays, frozenset(workdays))


@lru_cache(maxsize=1)
def _table() -> HolidayTable:
    return load_holiday_table(HOLIDAYS_FILE) if HOLIDAYS_FILE.exists() else HolidayTable(frozenset(), {}, frozenset())


def use_holiday_file(path: Path) -> None:
    """Read holiday arrangements for missing years from `path` from now on (the default is data/holidays.yaml)."""
    global HOLIDAYS_FILE
    HOLIDAYS_FILE = path
    _table.cache_clear()
    _month_flags.cache_clear()


def _package_years() -> tuple[int, int]:
    years = [d.year for d in _cc_constants.holidays]
    return min(years), max(years)


def supported_years() -> tuple[int, int]:
    """First and last year with holiday data: chinese-calendar's, extended by the holidays file."""
    low, high = _package_years()
    added = _table().years
    while high + 1 in added:
        high += 1
    return low, high


def _from_table(year: int) -> bool:
    low, high = _package_years()
    return not low <= year <= high and year in _table().years


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
            f"{low}–{high}; upgrade chinese-calendar, or add the State Council's arrangement for {year} to "
            f"{HOLIDAYS_FILE}"
        )


@lru_cache(maxsize=512)
def _month_flags(year: int, month: int) -> tuple[tuple[date, bool, bool], ...]:
    check_year(year)
    out = []
    table = _table() if _from_table(year) else None
    for day in Month(year, month).days():
        if table is None:
            workday = bool(chinese_calendar.is_workday(day))
        else:
            workday = (day.weekday() < 5 and day not in table.holidays) or day in table.workdays
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
    if _from_table(day.year):
        return day in _table().holidays
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
