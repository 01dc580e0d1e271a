"""The district's clock: times are stored in UTC; the dates people see and rules use are the district's local dates.

`now()` is the one reading of the current time above the models. A district's time zone is reference data
(`District.time_zone`, an IANA name); where there is no district (the public pages) the default zone is used.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func
from sqlmodel import Session

from lims.db import SQLITE_LOCAL_MONTH
from lims.i18n import _N
from lims.models import District
from lims.models.common import utcnow
from lims.models.reference import DEFAULT_TIME_ZONE
from lims.services.core.errors import Invalid

# The zone of the shipped district and of readers without one (China Standard Time, UTC+8 all year).
DEFAULT_ZONE = DEFAULT_TIME_ZONE

# What names a zone: a district row, a zone, an IANA name, or None for the default zone.
Zoned = District | ZoneInfo | str | None


def now() -> datetime:
    """The current time, aware, in UTC."""
    return utcnow()


@lru_cache(maxsize=64)
def _zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def check_zone(name: object, where: str = "time_zone") -> str:
    """`name` if it is an IANA time zone this machine knows, else Invalid naming the field."""
    if not isinstance(name, str) or not name or len(name) > 64 or name.startswith("/") or ".." in name:
        raise Invalid(
            "clock.not_a_zone",
            _N("{where}: {name!r} is not a time zone name (e.g. Asia/Shanghai)"),
            where=where,
            name=str(name)[:64],
        )
    try:
        _zone_named(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            "clock.unknown_zone",
            _N("{where}: unknown time zone {name!r} (an IANA name such as Asia/Shanghai)"),
            where=where,
            name=name,
        ) from None
    return name


def zone(district: Zoned = None) -> ZoneInfo:
    """The time zone of `district` (a district row, a zone or its name); the default zone for None."""
    if isinstance(district, ZoneInfo):
        return district
    name = district.time_zone if isinstance(district, District) else district
    return _zone_named(name or DEFAULT_ZONE)


def zone_of(session: Session, district_id: int | None) -> ZoneInfo:
    """The time zone of the district with this id (the default zone when there is none)."""
    district = session.get(District, district_id) if district_id else None
    return zone(district)


def local_date(moment: datetime, district: Zoned = None) -> date:
    """The district's calendar date at `moment` (a naive time is taken as UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone(district)).date()


def local_today(district: Zoned = None) -> date:
    """The district's calendar date now."""
    return local_date(now(), district)


def today_of(session: Session, district_id: int | None) -> date:
    """The calendar date now in the district with this id (the default zone when there is none)."""
    return local_today(zone_of(session, district_id))


def local_time(moment: datetime, district: Zoned = None) -> datetime:
    """`moment` as the district's wall-clock time (a naive time is taken as UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone(district))


def _utc_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def day_bounds(day: date, district: Zoned = None) -> tuple[datetime, datetime]:
    """The district's local `day` as UTC [start, end) (23 or 25 hours long on a daylight-saving change)."""
    tz = zone(district)
    return _utc_start(day, tz), _utc_start(day + timedelta(days=1), tz)


def month_bounds(year: int, month: int, district: Zoned = None) -> tuple[datetime, datetime]:
    """The district's local calendar month as UTC [start, end)."""
    tz = zone(district)
    following = date(year + month // 12, month % 12 + 1, 1)
    return _utc_start(date(year, month, 1), tz), _utc_start(following, tz)


def this_month(district: Zoned = None) -> tuple[int, int]:
    """The district's current (year, month)."""
    today = local_today(district)
    return today.year, today.month


def last_days(days: int, district: Zoned = None) -> tuple[datetime, datetime]:
    """The last `days` local days of the district, today included, as UTC [start, end)."""
    today = local_today(district)
    start, _ = day_bounds(today - timedelta(days=days - 1), district)
    return start, day_bounds(today, district)[1]


def end_of_day(day: date, district: Zoned = None) -> datetime:
    """The last second of the district's local `day`, in UTC (a thing valid "until" that day)."""
    return day_bounds(day, district)[1] - timedelta(seconds=1)


def local_month_sql(session: Session, moment: Any, zone_name: Any) -> Any:
    """SQL for the local "YYYY-MM" of the UTC column `moment` in the zone named by the column `zone_name`."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(zone_name, moment), "YYYY-MM")
    return getattr(func, SQLITE_LOCAL_MONTH)(moment, zone_name)
