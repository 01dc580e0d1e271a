"""Database engine and sessions: SQLite (WAL, foreign keys) by default, PostgreSQL by URL."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

from lims.settings import get_settings

_engines: dict[str, Engine] = {}


# SQLite knows no time zones: this function gives it PostgreSQL's `to_char(timezone(zone, t), 'YYYY-MM')`.
SQLITE_LOCAL_MONTH = "lims_local_month"


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_month(stored: str | None, zone_name: str | None) -> str | None:
    """The local "YYYY-MM" of a stored UTC time (SQLite's text form) in the named zone."""
    if stored is None or zone_name is None:
        return None
    try:
        moment = datetime.fromisoformat(stored).replace(tzinfo=UTC).astimezone(_zone(zone_name))
    except (ValueError, OverflowError, KeyError):
        return None
    return f"{moment:%Y-%m}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.create_function(SQLITE_LOCAL_MONTH, 2, _local_month, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine for `url`; SQLite files get their folder, WAL and foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for `url` (default: the configured database)."""
    url = url or get_settings().resolved_database_url()
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def dispose_engines() -> None:
    """Close every pooled connection (used before moving a database file aside)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
