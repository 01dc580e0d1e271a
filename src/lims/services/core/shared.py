"""Wake-ups for live pages across workers and processes: Redis pub/sub, PostgreSQL LISTEN/NOTIFY, or in the process.

The database stays the record: a wake-up only tells a live stream of a district that results or held readings
changed, and the stream reads what is new from the database. A stored result announces its district (a held
reading, which belongs to an instrument rather than a district, wakes every stream). Which way a wake-up travels:

- `LIMS_REDIS_URL` set: published on the Redis channel `<LIMS_REDIS_PREFIX>:readings`, after the commit;
- on PostgreSQL without Redis: `pg_notify` in the transaction that stores the rows, so it is sent at the commit
  and never for a rolled-back transaction; each worker LISTENs on one connection of its own;
- otherwise (SQLite, one process): within the process, and the streams also look every second, so readings
  stored by `lims acquire` in another process still arrive.

A stream on a shared bus still looks every `FALLBACK_SECONDS` on its own, in case a wake-up was lost (Redis
restarting, a writer that bypasses the session events).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession

from lims.models import HeldReading, TestResult
from lims.settings import get_settings

log = logging.getLogger(__name__)

EVERY_DISTRICT = 0
PG_CHANNEL = "lims_readings"
LOCAL_POLL_SECONDS = 1.0
FALLBACK_SECONDS = 5.0
RECONNECT_SECONDS = 1.0
_PENDING = "lims_live_districts"


class _Waiter:
    """One stream's wake-up flag, set from whichever thread hears the news."""

    def __init__(self, district_id: int) -> None:
        self.district_id = district_id
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def wake(self) -> None:
        self.loop.call_soon_threadsafe(self.event.set)


class Subscription:
    """The wake-ups one live stream waits for; a context manager that unsubscribes on leaving."""

    def __init__(self, bus: Bus, district_id: int) -> None:
        self._bus = bus
        self._waiter = _Waiter(district_id)
        self.poll_seconds = bus.poll_seconds

    def __enter__(self) -> Subscription:
        self._bus.add(self._waiter)
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._bus.remove(self._waiter)

    def clear(self) -> None:
        """Forget earlier wake-ups: call before reading the database, so news during the read is kept."""
        self._waiter.event.clear()

    async def wait(self, seconds: float) -> bool:
        """Wait for a wake-up at most `seconds`; True when woken, False when the time ran out."""
        try:
            await asyncio.wait_for(self._waiter.event.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True


class Bus:
    """Wake-ups within one process (the base of the shared buses, which add a listener thread)."""

    poll_seconds = LOCAL_POLL_SECONDS

    def __init__(self) -> None:
        self._waiters: dict[int, set[_Waiter]] = {}
        self._lock = threading.Lock()

    def add(self, waiter: _Waiter) -> None:
        """Register a stream's waiter."""
        with self._lock:
            self._waiters.setdefault(waiter.district_id, set()).add(waiter)
        self._listening()

    def remove(self, waiter: _Waiter) -> None:
        """Unregister a stream's waiter."""
        with self._lock:
            found = self._waiters.get(waiter.district_id)
            if found is not None:
                found.discard(waiter)
                if not found:
                    del self._waiters[waiter.district_id]

    def deliver(self, district_ids: Iterable[int]) -> None:
        """Wake the streams of these districts (every stream for `EVERY_DISTRICT`)."""
        wanted = set(district_ids)
        with self._lock:
            if EVERY_DISTRICT in wanted:
                waiters = [w for group in self._waiters.values() for w in group]
            else:
                waiters = [w for d in wanted for w in self._waiters.get(d, ())]
        for waiter in waiters:
            waiter.wake()

    def in_transaction(self, session: OrmSession, district_ids: set[int]) -> bool:
        """Send the news inside the session's transaction if this bus can (PostgreSQL); False to send after it."""
        return False

    def after_commit(self, district_ids: set[int]) -> None:
        """Send the news of a committed transaction."""
        self.deliver(district_ids)

    def _listening(self) -> None:
        """Start listening to other processes, if this bus hears them (the shared buses)."""

    def close(self) -> None:
        """Stop listening."""


def _encode(district_ids: set[int]) -> str:
    return ",".join(str(d) for d in sorted(district_ids))


def _decode(payload: str | bytes) -> set[int]:
    if isinstance(payload, bytes):
        payload = payload.decode("ascii", "replace")
    found = {int(part) for part in payload.split(",") if part.isdigit()}
    return found or {EVERY_DISTRICT}


class _Listening(Bus):
    """A bus with one background thread per process that hears the other processes' news."""

    poll_seconds = FALLBACK_SECONDS
    name = "bus"

    def __init__(self) -> None:
        super().__init__()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()  # set once the thread listens (tests wait for it)

    def _listening(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"live-{self.name}", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception:  # the database or Redis went away: the streams poll meanwhile, and we listen again
                log.warning("live wake-ups: %s listener lost its connection; listening again", self.name)
            self.ready.clear()
            self._stop.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)


class RedisBus(_Listening):
    """News on a Redis channel, published after the commit."""

    name = "redis"

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        import redis

        self.channel = f"{prefix}:readings"
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def after_commit(self, district_ids: set[int]) -> None:
        self.deliver(district_ids)  # this process's streams at once, without the round trip
        try:
            self._client.publish(self.channel, _encode(district_ids))
        except Exception:  # the streams of other workers find the rows at their next look
            log.warning("live wake-ups: Redis publish failed")

    def _listen(self) -> None:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self.channel)
            self.ready.set()
            while not self._stop.is_set():
                message: Any = pubsub.get_message(timeout=1.0)
                if message and message.get("type") == "message":
                    self.deliver(_decode(message["data"]))
        finally:
            pubsub.close()

    def close(self) -> None:
        super().close()
        self._client.close()


class PostgresBus(_Listening):
    """News by `pg_notify` in the storing transaction, heard on one LISTEN connection per process."""

    name = "postgresql"

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def in_transaction(self, session: OrmSession, district_ids: set[int]) -> bool:
        session.connection().execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": PG_CHANNEL, "payload": _encode(district_ids)}
        )
        return True

    def after_commit(self, district_ids: set[int]) -> None:
        """Nothing to send: the notification went with the commit, and this process hears it too."""

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"LISTEN {PG_CHANNEL}")
            self.ready.set()
            while not self._stop.is_set():
                for note in conn.notifies(timeout=1.0):
                    self.deliver(_decode(note.payload))


_local = Bus()
_buses: dict[tuple[str, str], Bus] = {}
_buses_lock = threading.Lock()


def bus_for(engine: Engine | None) -> Bus:
    """The bus for a database as configured: Redis when `LIMS_REDIS_URL` is set, else PostgreSQL's own, else local."""
    settings = get_settings()
    if settings.redis_url:
        key = ("redis", f"{settings.redis_url}#{settings.redis_prefix}")
    elif engine is not None and engine.dialect.name == "postgresql":
        key = ("postgresql", engine.url.render_as_string(hide_password=False))
    else:
        return _local
    with _buses_lock:
        bus = _buses.get(key)
        if bus is None:
            bus = _buses[key] = (
                RedisBus(settings.redis_url, settings.redis_prefix) if key[0] == "redis" else PostgresBus(engine)  # type: ignore[arg-type]
            )
        return bus


def subscribe(engine: Engine | None, district_id: int | None) -> Subscription:
    """The wake-ups of a district's live readings (use as `with subscribe(...) as news:`)."""
    return Subscription(bus_for(engine), district_id or EVERY_DISTRICT)


def announce(session: OrmSession, district_ids: Iterable[int]) -> None:
    """Tell live streams that these districts' readings change in the session's transaction (for writers that
    insert rows without the ORM's unit of work; ORM-added results and held readings are announced by themselves)."""
    wanted = {int(d) for d in district_ids}
    if not wanted:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if not bus_for(engine).in_transaction(session, wanted):
        session.info.setdefault(_PENDING, set()).update(wanted)


def close_all() -> None:
    """Stop every listener of this process (at shutdown)."""
    with _buses_lock:
        buses = list(_buses.values())
        _buses.clear()
    for bus in buses:
        bus.close()


@event.listens_for(OrmSession, "after_flush")
def _after_flush(session: OrmSession, _context: Any) -> None:
    districts: set[int] = set()
    for obj in session.new:
        if isinstance(obj, TestResult):
            districts.add(int(obj.district_id))
        elif isinstance(obj, HeldReading):
            districts.add(EVERY_DISTRICT)
    for obj in session.dirty:
        if isinstance(obj, HeldReading) and session.is_modified(obj):
            districts.add(EVERY_DISTRICT)
    if districts:
        announce(session, districts)


@event.listens_for(OrmSession, "after_commit")
def _after_commit(session: OrmSession) -> None:
    pending: set[int] | None = session.info.pop(_PENDING, None)
    if pending:
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        bus_for(engine).after_commit(pending)


@event.listens_for(OrmSession, "after_rollback")
def _after_rollback(session: OrmSession) -> None:
    session.info.pop(_PENDING, None)
