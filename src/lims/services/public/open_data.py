"""Open data: the published results of a local day or month, as CSV or JSON, streamed in bounded chunks.

The period is the district's local calendar day or month of publication (each district in its own time zone),
so the file of a past day never changes. The record is `sharing.records` (documented in docs/open-data.md,
JSON Schema in docs/open-data.schema.json). CSV is UTF-8 with a byte-order mark (so that Excel in China opens
it as UTF-8, not GBK), comma-separated with CRLF line ends and RFC 4180 quoting. Results are read a chunk at
a time in the order (published_at, result id), each chunk in its own short transaction, so a month of a
province streams in constant memory.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from lims.i18n import _N
from lims.models import District, TestResult
from lims.services.access.throttle import address_key, fixed_windows
from lims.services.core import clock, dates
from lims.services.core.errors import Invalid, NotFound, TooManyRequests
from lims.services.public import states
from lims.services.sharing import records
from lims.settings import Settings

FORMATS = ("csv", "json")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
CHUNK = 2000
BOM = "\ufeff"
SCHEMA_URL = "https://github.com/food-quicktest-lims/food-quicktest-lims/blob/main/docs/open-data.schema.json"
# A platform harvests a day or a month at a time; a burst of downloads from one address is someone looping.
ADDRESS_LIMITS = "10/minute;200/day"


@dataclass(frozen=True)
class Period:
    """The local day or month asked for, and each district's UTC bounds of it."""

    label: str  # "2026-11-30" or "2026-11"
    kind: str  # "day" or "month"
    district_code: str | None
    bounds: dict[int, tuple[datetime, datetime]]


def period(session: Session, *, day: str | None, month: str | None, district: str | None = None) -> Period:
    """The period of `day` (YYYY-MM-DD) or `month` (YYYY-MM), for one district or all, or Invalid / NotFound."""
    if bool(day) == bool(month):
        raise Invalid("open_data.day_or_month", _N("give either a day (YYYY-MM-DD) or a month (YYYY-MM)"))
    wanted = select(District)
    if district:
        wanted = wanted.where(District.code == district.strip().upper()[:8])
    found = list(session.exec(wanted.order_by(col(District.id))).all())
    if district and not found:
        raise NotFound("open_data.no_district", _N("no district {code!r}"), code=district[:8])
    parsed_day = dates.day(day, "day")
    parsed_month = None if parsed_day or not month else dates.month(month, "month")
    result: dict[int, tuple[datetime, datetime]] = {}
    for row in found:
        zone = clock.zone(row)
        if parsed_day is not None:
            result[int(row.id or 0)] = clock.day_bounds(parsed_day, zone)
        elif parsed_month is not None:
            result[int(row.id or 0)] = clock.month_bounds(*parsed_month, zone)
    if parsed_day is not None:
        label, kind = parsed_day.isoformat(), "day"
    else:
        year, number = parsed_month or (0, 0)
        label, kind = f"{year:04d}-{number:02d}", "month"
    return Period(label, kind, found[0].code if district else None, result)


def _window(chosen: Period) -> Any:
    published = col(TestResult.published_at)
    return or_(
        *(
            and_(col(TestResult.district_id) == district_id, published >= start, published < end)
            for district_id, (start, end) in chosen.bounds.items()
        )
    )


def iter_records(engine: Engine, chosen: Period, chunk: int = CHUNK) -> Iterator[dict[str, Any]]:
    """Every published result of the period as a record, in the order (published_at, result id)."""
    if not chosen.bounds:
        return
    window = _window(chosen)
    after: tuple[datetime, int] | None = None
    while True:
        conditions = [window]
        if after is not None:
            published = col(TestResult.published_at)
            conditions.append(or_(published > after[0], and_(published == after[0], col(TestResult.id) > after[1])))
        statement = (
            records.published_rows(*conditions).order_by(col(TestResult.published_at), col(TestResult.id)).limit(chunk)
        )
        with Session(engine) as session:
            rows = session.connection().execute(statement).all()
            cases = states.case_states(session, records.positive_ids(rows))
        for row in rows:
            state = cases.get(int(row.result_id))
            yield records.record(row, None if state is None else str(state))
        if len(rows) < chunk:
            return
        after = (rows[-1].published_at, int(rows[-1].result_id))


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def csv_chunks(engine: Engine, chosen: Period) -> Iterator[bytes]:
    """The period as CSV bytes: BOM and header first, then the rows a few hundred at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    buffer.write(BOM)
    writer.writerow(records.NAMES)
    for n, item in enumerate(iter_records(engine, chosen), start=1):
        writer.writerow([_csv_value(item[name]) for name in records.NAMES])
        if n % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def json_chunks(engine: Engine, chosen: Period) -> Iterator[bytes]:
    """The period as one JSON document (`docs/open-data.schema.json`), the results written as they are read."""
    head = {
        "$schema": SCHEMA_URL,
        "period": {"kind": chosen.kind, "value": chosen.label},
        "district": chosen.district_code,
        "generated_at": clock.local_time(clock.now(), "UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fields": list(records.NAMES),
    }
    opening = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1] + ',"results":['
    yield opening.encode()
    count = 0
    pieces: list[str] = []
    for item in iter_records(engine, chosen):
        pieces.append(("," if count else "") + json.dumps(item, ensure_ascii=False, separators=(",", ":")))
        count += 1
        if len(pieces) >= 500:
            yield "".join(pieces).encode()
            pieces = []
    yield ("".join(pieces) + f'],"count":{count}}}').encode()


def chunks(engine: Engine, chosen: Period, fmt: str) -> Iterator[bytes]:
    """The period in `fmt` (csv or json), as bytes to stream."""
    return csv_chunks(engine, chosen) if fmt == "csv" else json_chunks(engine, chosen)


def check_format(fmt: str) -> str:
    """`fmt` if it is csv or json, else Invalid."""
    value = (fmt or "").strip().lower()
    if value not in FORMATS:
        raise Invalid("open_data.format", _N("format {format!r}: use csv or json"), format=str(fmt)[:20])
    return value


def filename(chosen: Period, fmt: str) -> str:
    """A file name for the download, e.g. `open-data-XQ-2026-11.csv`."""
    district = f"{chosen.district_code}-" if chosen.district_code else ""
    return f"open-data-{district}{chosen.label}.{fmt}"


class ExportLimiter:
    """Counts downloads per client address in fixed windows (the storage sign-in throttling uses)."""

    def __init__(self, address_limits: str = ADDRESS_LIMITS, storage_url: str = "memory://") -> None:
        _store, self._limiter, (self.limits,) = fixed_windows("open-data", storage_url, address_limits)

    @classmethod
    def from_settings(cls, settings: Settings) -> ExportLimiter:
        """A limiter in the storage sign-in throttling uses (shared by every worker when that is Redis)."""
        return cls(storage_url=settings.resolved_throttle_storage_url())

    def take(self, address: str) -> None:
        """Count one download from `address`, or TooManyRequests with how long to wait."""
        key = address_key(address)
        for item in self.limits:
            if not self._limiter.test(item, "open-data", key):
                reset = self._limiter.get_window_stats(item, "open-data", key).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise TooManyRequests(
                    "open_data.too_many",
                    _N("too many downloads from here; try again in {seconds} seconds"),
                    retry_after=wait,
                    seconds=wait,
                )
        for item in self.limits:
            self._limiter.hit(item, "open-data", key)
