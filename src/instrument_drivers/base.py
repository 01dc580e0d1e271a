"""The driver base class: lifecycle, reconnection with backoff, and acknowledge-after-store.

A driver yields `Reading`s; the caller stores each one and then calls `ack(reading)`. Only when every
reading of an instrument record has been acknowledged does the driver tell the instrument to release
that record (pesticide ACK frame, ASTM ACK of the message's last frame, Modbus acknowledge register).
A crash between storing and acknowledging makes the instrument send the record again, so storage must
be idempotent on `Reading.key()`; within one driver instance a re-sent record whose readings were all
acknowledged is released again without being yielded twice.

    with create_driver("pesticide", "socket://127.0.0.1:7001") as driver:
        for reading in driver.readings(idle_exit=30):
            store(reading)          # commit first …
            driver.ack(reading)     # … then let the instrument forget it

`records()` yields the same readings a whole record at a time, so that the caller can store a record in
one transaction and then acknowledge each of its readings.
"""

from __future__ import annotations

import abc
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Self

from instrument_drivers import timers
from instrument_drivers.errors import LinkError, UnacknowledgedReadingError
from instrument_drivers.reading import Reading

_REMEMBERED_KEYS = 100_000


@dataclass(slots=True)
class Unit:
    """What the instrument releases as a whole: one record, message or FIFO entry, with its readings."""

    readings: list[Reading]
    token: Any = None  # what `_release` needs (run number, sequence number, …)
    outstanding: set[tuple[str, int]] = field(default_factory=set)


class Driver(abc.ABC):
    """Base of every instrument driver. Subclasses implement `_connect`, `_disconnect`, `_fetch` and
    `_release`; this class owns the lifecycle, reconnection and acknowledgement bookkeeping."""

    family: ClassVar[str]
    default_baud: ClassVar[int]

    def __init__(
        self,
        url: str,
        *,
        timer_scale: float | None = None,
        backoff_initial: float = 0.2,
        backoff_max: float = 5.0,
        connect_timeout: float = 10.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.url = url
        self.scale = timer_scale if timer_scale is not None else timers.timer_scale()
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.connect_timeout = connect_timeout
        self.log = logger or logging.getLogger(f"instrument_drivers.{self.family}")
        self.serial: str | None = None  # the instrument's serial number, known once connected
        self.stats: Counter[str] = Counter()
        self._connected = False
        self._closed = True
        self._backoff = backoff_initial
        self._pending: Unit | None = None
        self._acked: OrderedDict[tuple[str, int], None] = OrderedDict()

    # --- lifecycle ----------------------------------------------------------------------------------

    def open(self) -> Self:
        """Connect, retrying with backoff for up to `connect_timeout` seconds; raises `LinkError`."""
        self._closed = False
        deadline = time.monotonic() + self.connect_timeout
        while True:
            try:
                self._open_link()
                return self
            except LinkError:
                if time.monotonic() + self._backoff > deadline:
                    self.close()
                    raise
                self._sleep_backoff()

    def close(self) -> None:
        """Close the link. Safe to call any number of times, also on a driver never opened."""
        self._closed = True
        self._pending = None
        if self._connected:
            self._connected = False
            self._disconnect_quietly()

    @property
    def connected(self) -> bool:
        return self._connected

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- the reading loop ---------------------------------------------------------------------------

    def readings(
        self, *, count: int | None = None, idle_exit: float | None = None, auto_ack: bool = False
    ) -> Iterator[Reading]:
        """Yield readings as the instrument reports them, reconnecting whenever the link drops.

        Ends after `count` new readings, or when nothing new has arrived for `idle_exit` seconds (time
        spent reconnecting counts as idle). Without `auto_ack`, every reading must be passed to `ack()`
        before the next record is fetched.
        """
        self._require_open()
        if count is not None and count <= 0:
            return
        yielded = 0
        with closing(self.records(idle_exit=idle_exit)) as records:
            for record in records:
                for reading in record:
                    yielded += 1
                    yield reading
                    if auto_ack:
                        self.ack(reading)
                    if count is not None and yielded >= count:
                        return

    def records(self, *, idle_exit: float | None = None) -> Generator[list[Reading], None, None]:
        """Yield the readings of each instrument record that are not acknowledged yet, as one list.

        Lets the caller store a whole record in one transaction. Every reading must be passed to `ack()`
        before the next record is fetched; a caller that stops with some unacknowledged leaves the record
        on the instrument, which sends it again. Reconnects like `readings()`, and ends when nothing new
        has arrived for `idle_exit` seconds (the time the caller spends with a record does not count).
        """
        self._require_open()
        last_new = time.monotonic()
        while True:
            now = time.monotonic()
            if idle_exit is not None and now - last_new >= idle_exit:
                return
            if not self._connected:
                self._reconnect()
                continue
            window = self._fetch_window()
            if idle_exit is not None:
                window = max(0.0, min(window, last_new + idle_exit - now))
            try:
                unit = self._fetch(window)
            except LinkError as exc:
                self._drop(exc)
                continue
            if unit is None:
                continue
            fresh = [r for r in unit.readings if r.key() not in self._acked]
            if not fresh:
                self.stats["resent_known"] += 1
                self._release_quietly(unit)
                continue
            unit.outstanding = {r.key() for r in fresh}
            self._pending = unit
            yield fresh
            last_new = time.monotonic()
            if unit.outstanding and self._pending is unit:
                raise UnacknowledgedReadingError(
                    f"{len(unit.outstanding)} reading(s) of the last record not acknowledged: "
                    "call ack(reading) once each is stored"
                )

    def ack(self, reading: Reading) -> None:
        """Record that `reading` is stored; releases its record on the instrument once all are."""
        key = reading.key()
        self._acked[key] = None
        if len(self._acked) > _REMEMBERED_KEYS:
            self._acked.popitem(last=False)
        unit = self._pending
        if unit is None or key not in unit.outstanding:
            return
        unit.outstanding.discard(key)
        if not unit.outstanding:
            self._pending = None
            self._release_quietly(unit)

    # --- subclass interface -------------------------------------------------------------------------

    @abc.abstractmethod
    def _connect(self) -> None:
        """Open the transport and identify the instrument (set `self.serial`). Raise `LinkError`."""

    @abc.abstractmethod
    def _disconnect(self) -> None:
        """Close the transport."""

    @abc.abstractmethod
    def _fetch(self, timeout: float) -> Unit | None:
        """The next record within `timeout` seconds, or None. Raise `LinkError` when the link is bad."""

    @abc.abstractmethod
    def _release(self, unit: Unit) -> None:
        """Tell the instrument it may forget `unit`. Raise `LinkError` when that cannot be done."""

    def _fetch_window(self) -> float:
        """How long one `_fetch` call may wait for something (re-checked against `idle_exit`)."""
        return 1.0

    # --- helpers ------------------------------------------------------------------------------------

    def _require_open(self) -> None:
        if self._closed:
            raise LinkError("the driver is closed: use it as a context manager or call open()")

    def _open_link(self) -> None:
        try:
            self._connect()
        except LinkError:
            self.stats["connect_failures"] += 1
            self._disconnect_quietly()
            raise
        self._connected = True
        self._backoff = self.backoff_initial
        self.stats["connects"] += 1
        self.log.info("connected to %s (%s %s)", self.url, self.family, self.serial)

    def _reconnect(self) -> None:
        self._sleep_backoff()
        try:
            self._open_link()
        except LinkError as exc:
            self.log.debug("reconnect to %s failed: %s", self.url, exc)

    def _sleep_backoff(self) -> None:
        time.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, self.backoff_max)

    def _drop(self, exc: BaseException) -> None:
        self.log.warning("link to %s lost: %s", self.url, exc)
        self.stats["link_errors"] += 1
        self._pending = None
        if self._connected:
            self._connected = False
            self._disconnect_quietly()

    def _disconnect_quietly(self) -> None:
        """Close the transport; a failing close must not mask what made us close it."""
        try:
            self._disconnect()
        except Exception:
            self.log.debug("error while closing %s", self.url, exc_info=True)

    def _release_quietly(self, unit: Unit) -> None:
        """Release; if the link fails, drop it: the instrument re-sends the record and we release then."""
        if not self._connected:
            return
        try:
            self._release(unit)
            self.stats["released"] += 1
        except LinkError as exc:
            self._drop(exc)
