"""The plan definition (定期定项定批定点) as pydantic models, with cross-reference checks."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from schedules import workdays
from schedules.errors import PlanError, Problem
from schedules.workdays import Month, supported_years


class Area(StrEnum):
    """Where a point lies; sets the on-site time for urgent complaint tests."""

    URBAN = "urban"
    RURAL = "rural"


class Family(StrEnum):
    """The shipped instrument families, as named constants. A plan may name any family (an instrument
    family added as a plug-in too): its family keys are plain strings of the form `FamilyKey`."""

    PESTICIDE = "pesticide"
    GOLD = "gold"
    SPECTRO = "spectro"


FamilyKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
"""An instrument family an item runs on; the vehicle has a channel budget per family per day."""


class Weekday(StrEnum):
    """Day of the week, written as its three-letter English abbreviation."""

    MON = "MON"
    TUE = "TUE"
    WED = "WED"
    THU = "THU"
    FRI = "FRI"
    SAT = "SAT"
    SUN = "SUN"

    @property
    def number(self) -> int:
        """Python's `date.weekday()` number (Monday is 0)."""
        return _WEEKDAY_NUMBERS[self.value]


_WEEKDAY_NUMBERS = {name: i for i, name in enumerate(("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"))}


class BatchBasis(StrEnum):
    """Whether `batches` counts per point per month or per visit."""

    MONTH = "month"
    VISIT = "visit"


DEFAULT_RESPONSE_MINUTES: Mapping[Area, int] = {Area.URBAN: 20, Area.RURAL: 40}
CODE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
_RANGE_RE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*$")
_BLACKOUT_HELP = "must be a date (YYYY-MM-DD), a range 'YYYY-MM-DD..YYYY-MM-DD' or a weekday (MON..SUN)"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class DateRange(_Strict):
    """An inclusive span of days."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"range ends ({self.end}) before it starts ({self.start})")
        return self

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def _parse_blackout(value: Any) -> Any:
    if isinstance(value, date):
        return DateRange(start=value, end=value)
    if isinstance(value, str):
        text = value.strip()
        if text.upper() in Weekday.__members__:
            return Weekday(text.upper())
        match = _RANGE_RE.match(text)
        try:
            if match:
                start, end = date.fromisoformat(match.group(1)), date.fromisoformat(match.group(2))
            else:
                start = end = date.fromisoformat(text)
        except ValueError:
            raise ValueError(_BLACKOUT_HELP) from None
        if end < start:
            raise ValueError(f"range ends ({end}) before it starts ({start})")
        return DateRange(start=start, end=end)
    if isinstance(value, DateRange | Weekday):
        return value
    if isinstance(value, dict) and set(value) == {"start", "end"}:
        return DateRange.model_validate(value)
    raise ValueError(_BLACKOUT_HELP)


Blackout = Annotated[DateRange | Weekday, BeforeValidator(_parse_blackout)]


def matches(entries: list[DateRange | Weekday], day: date) -> bool:
    """True when `day` is one of the dates, ranges or weekdays listed."""
    return any((day.weekday() == e.number) if isinstance(e, Weekday) else (day in e) for e in entries)


class Rule(_Strict):
    """The recurring rhythm: which days the vehicle runs and how often each point is visited."""

    weekdays: list[Weekday] = Field(
        default_factory=lambda: [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI],
        min_length=1,
        description="weekdays the vehicle runs on (ordinary working days only)",
    )
    visits: int | None = Field(default=None, ge=1, description="visits per point per month; none: every day")
    adjusted_workdays: bool = Field(default=True, description="run on adjusted working days (调休上班)")
    days_off: list[Blackout] = Field(default_factory=list, description="district-wide extra days off")
    batches_per: BatchBasis = BatchBasis.MONTH

    def off_on(self, day: date) -> bool:
        """True when `day` is a district-wide day off."""
        return matches(self.days_off, day)

    @field_validator("weekdays", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [v.upper() if isinstance(v, str) else v for v in value]
        return value


class Vehicle(_Strict):
    """What the detection vehicle can do in one working day."""

    samples_per_day: int = Field(ge=1)
    points_per_day: int | None = Field(default=None, ge=1)
    channels_per_day: dict[FamilyKey, Annotated[int, Field(ge=0)]]


class Item(_Strict):
    """A test item: the instrument family it runs on and the food categories it is tested on."""

    name: str = ""
    family: FamilyKey
    categories: list[str] = Field(min_length=1)


class Point(_Strict):
    """A fixed sampling point (定点): station, area, categories sold and batch quotas."""

    code: str = Field(pattern=CODE)
    name: str = ""
    station: str = Field(pattern=CODE)
    area: Area
    categories: list[str] = Field(min_length=1)
    batches: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    visits: int | None = Field(default=None, ge=1)
    blackout: list[Blackout] = Field(default_factory=list)

    def closed_on(self, day: date) -> bool:
        """True when the point is blacked out on `day`."""
        return bool(self.blackout) and matches(self.blackout, day)


class Plan(_Strict):
    """A complete sampling plan: rule, vehicle, categories, items and points."""

    version: Literal[1] = 1
    name: str = Field(min_length=1)
    district: str = ""
    month: str | None = Field(default=None, description="YYYY-MM when the plan is for one month")
    rule: Rule = Field(default_factory=Rule)
    vehicle: Vehicle
    response_minutes: dict[Area, Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: dict(DEFAULT_RESPONSE_MINUTES)
    )
    categories: dict[str, str] = Field(min_length=1)
    items: dict[str, Item] = Field(min_length=1)
    points: list[Point] = Field(min_length=1)

    @field_validator("month", mode="before")
    @classmethod
    def _month_text(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str) or not re.match(r"^\d{4}-(0[1-9]|1[0-2])$", value.strip()):
            raise ValueError("must be YYYY-MM")
        return value.strip()

    @model_validator(mode="after")
    def _cross_check(self) -> Plan:
        problems = plan_problems(self)
        if problems:
            raise PlanError(problems)
        return self

    def digest(self) -> str:
        """SHA-256 of the plan's canonical JSON: equal plans, equal digests (for plan versions)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def point(self, code: str) -> Point:
        """The point with this code (PlanError when unknown)."""
        for p in self.points:
            if p.code == code:
                return p
        raise PlanError(f"unknown point {code!r}")

    def category_items(self) -> dict[str, tuple[str, ...]]:
        """Items tested on each category, in plan order."""
        out: dict[str, list[str]] = {c: [] for c in self.categories}
        for code, item in self.items.items():
            for cat in item.categories:
                if cat in out and code not in out[cat]:
                    out[cat].append(code)
        return {c: tuple(v) for c, v in out.items()}

    @property
    def families(self) -> tuple[str, ...]:
        """The instrument families of the plan: those the vehicle has channels for (in the plan's order),
        then any other its items run on."""
        budget = tuple(self.vehicle.channels_per_day)
        return budget + tuple(sorted({i.family for i in self.items.values()} - set(budget)))

    def category_usage(self) -> dict[str, dict[str, int]]:
        """Instrument channels one batch of each category takes, per family."""
        usage = {c: dict.fromkeys(self.families, 0) for c in self.categories}
        for cat, codes in self.category_items().items():
            for code in codes:
                usage[cat][self.items[code].family] += 1
        return usage


def _check_codes(where: str, codes: list[str], known: Mapping[str, Any], what: str) -> list[Problem]:
    return [Problem(f"{where}[{i}]", f"unknown {what} {code!r}") for i, code in enumerate(codes) if code not in known]


def plan_problems(plan: Plan) -> list[Problem]:
    """Cross-reference faults a field-by-field check cannot see, each with its dotted path."""
    problems: list[Problem] = []
    for code in plan.categories:
        if not re.match(CODE, code):
            problems.append(Problem(f"categories.{code}", "code may hold letters, digits, '_', '.', '-'"))
    for code, item in plan.items.items():
        problems += _check_codes(f"items.{code}.categories", item.categories, plan.categories, "food category")
    tested = plan.category_items()
    used_families = {plan.items[c].family for c in plan.items}
    for family in sorted(used_families - set(plan.vehicle.channels_per_day)):
        users = ", ".join(c for c, item in plan.items.items() if item.family == family)
        problems.append(Problem("vehicle.channels_per_day", f"missing {family} (used by {users})"))
    seen: dict[str, int] = {}
    for i, point in enumerate(plan.points):
        where = f"points[{i}]"
        if point.code in seen:
            problems.append(Problem(f"{where}.code", f"duplicate point {point.code} (also points[{seen[point.code]}])"))
        seen.setdefault(point.code, i)
        problems += _check_codes(f"{where}.categories", point.categories, plan.categories, "food category")
        for cat in point.batches:
            if cat not in plan.categories:
                problems.append(Problem(f"{where}.batches.{cat}", f"unknown food category {cat!r}"))
            elif cat not in point.categories:
                problems.append(Problem(f"{where}.batches.{cat}", "category is not sold at this point"))
            elif not tested.get(cat):
                problems.append(Problem(f"{where}.batches.{cat}", "no test item covers this category"))
    if plan.month is not None:
        year, (low, high) = Month.parse(plan.month).year, supported_years()
        holidays = workdays.HOLIDAYS_FILE.name
        if not low <= year <= high:
            problems.append(
                Problem("month", f"no statutory holiday data for {year} (known: {low}–{high}; see {holidays})")
            )
    return problems
