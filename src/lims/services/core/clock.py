"""The district's clock: times are stored in UTC; the dates people see and rules use are local dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

# Asia/Shanghai: China Standard Time, UTC+8 without daylight saving (since 1991), so a fixed offset is exact.
LOCAL_TZ = timezone(timedelta(hours=8), "CST")


def local_date(moment: datetime) -> date:
    """The district's calendar date at `moment` (a naive time is taken as UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(LOCAL_TZ).date()
