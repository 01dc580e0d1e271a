"""The driver contract every instrument family passes, run against its simulator on real links.

A family's test module subclasses `DriverContract` and fills in the hooks; everything else is here:

    class TestPesticideContract(DriverContract):
        family = "pesticide"
        transports = ("socket://127.0.0.1:0", "pty")

Hooks:

* ``family`` – the driver and simulator name (`create_driver`, `create_simulator`);
* ``transports`` – every listen URL the simulator serves (`simulators.registry.open_endpoint`); the first is
  the family's main link (the all-faults run), the first that is not a pty is used where the test must cut
  or kill a TCP connection;
* ``faults`` – the `simulators.faults` kinds the protocol can suffer (default: all of them);
* ``fault_rates`` – the rate each single-fault run uses (default 0.12; higher for rare link-level faults);
* ``identifies_on_connect`` – True when `open()` asks the instrument who it is (so a silent or babbling peer
  makes `open()` raise `LinkError`); False for a driver that only listens (ASTM receiver);
* ``registered_at_run_time`` – True for a plug-in family that its own test module writes and registers (the
  coverage check then does not expect it among the installed families);
* ``consumer_env()`` – extra environment for the crash consumer, a separate process: a plug-in family puts
  its distribution on ``PYTHONPATH`` there, so the consumer finds it through its entry point.

A fault kind the protocol cannot suffer is left out of ``faults``: its single-fault run is not generated,
and the all-faults run leaves it out of the mix.

Readings are always compared with `simulators.scenario.expected_readings`, never field by field.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from instrument_drivers import Driver, LinkError, UnacknowledgedReadingError, create_driver
from simulators.faults import KINDS
from simulators.link import Disconnected, Line
from simulators.registry import open_endpoint
from tests.instruments.harness import SimThread, assert_exactly, collect, simulator

ROOT = Path(__file__).resolve().parents[2]
ACCEPTANCE_FAULTS = "corrupt=0.05,drop=0.05,dup=0.05,disconnect=0.01"
EVERY_FAULT = (
    "corrupt=0.04,badcrc=0.03,drop=0.04,dup=0.04,split=0.05,slow=0.03,garbage=0.04,busy=0.04,"
    "disconnect=0.01,restart=0.005"
)
FAST_RECONNECT: dict[str, Any] = {"backoff_initial": 0.02, "backoff_max": 0.2}


def _transport_id(listen: str) -> str:
    return listen.partition("://")[0]


class DriverContract:
    """What every driver must do against its simulator. Subclass it as ``Test<Family>Contract``."""

    family: ClassVar[str]
    transports: ClassVar[tuple[str, ...]]
    faults: ClassVar[tuple[str, ...]] = KINDS
    fault_rates: ClassVar[dict[str, float]] = {"disconnect": 0.15, "restart": 0.1, "busy": 0.25}
    identifies_on_connect: ClassVar[bool] = True
    registered_at_run_time: ClassVar[bool] = False

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Run the per-link tests on every transport and the per-fault tests for every fault."""
        if "listen" in metafunc.fixturenames:
            metafunc.parametrize("listen", self.transports, ids=_transport_id)
        if "fault" in metafunc.fixturenames:
            metafunc.parametrize("fault", self.faults)

    # --- helpers ------------------------------------------------------------------------------------

    @property
    def tcp_transport(self) -> str:
        """The first transport that is a TCP connection (one a test can cut or refuse)."""
        return next(listen for listen in self.transports if listen != "pty")

    def driver(self, url: str, **options: Any) -> Driver:
        """A driver of this family for `url`, not yet open."""
        return create_driver(self.family, url, **options)

    def consumer_env(self) -> dict[str, str]:
        """Environment the crash consumer process needs on top of this one's (none for a built-in family)."""
        return {}

    def fault_mix(self, spec: str) -> str:
        """`spec` without the fault kinds this family's protocol cannot suffer."""
        return ",".join(part for part in spec.split(",") if part.partition("=")[0] in self.faults)

    # --- lifecycle ----------------------------------------------------------------------------------

    def test_open_read_close(self) -> None:
        with simulator(self.family, self.transports[0], count=5, seed=2) as s:
            driver = self.driver(s.driver_url)
            assert not driver.connected
            assert driver.open() is driver and driver.connected
            got = list(driver.readings(count=5, auto_ack=True))
            driver.close()
            assert not driver.connected and driver.serial == s.scenario.serial
            assert got == s.expected(), "on a clean line: every reading, in the instrument's order"
            with pytest.raises(LinkError, match="closed"):
                next(driver.readings())

    def test_context_manager_closes_and_auto_ack(self) -> None:
        with simulator(self.family, self.transports[0], count=5) as s:
            with self.driver(s.driver_url) as d:
                got = list(d.readings(count=5, auto_ack=True))
                assert d.connected and d.serial == s.scenario.serial
            assert not d.connected
            d.close()
            assert [r.key() for r in got] == [r.key() for r in s.expected()]
            # the last release may still be on its way (an ASTM ACK has no answer): wait for it, bounded
            _wait_until(lambda: s.sim.pending() == 0, 5)

    def test_reading_before_open_is_a_link_error(self) -> None:
        with simulator(self.family, self.transports[0], count=2) as s:
            on_instrument = s.sim.pending()
            driver = self.driver(s.driver_url)
            with pytest.raises(LinkError, match="closed"):
                next(driver.readings())
            with pytest.raises(LinkError, match="closed"):
                next(driver.records())
            driver.close()  # never opened: still fine
            assert s.sim.pending() == on_instrument and s.sim.released == 0

    def test_unreachable_instrument_is_a_link_error_and_close_is_idempotent(self) -> None:
        endpoint, _framing, url = open_endpoint(self.family, self.tcp_transport)
        endpoint.close()  # nothing listens there any more
        driver = self.driver(url, connect_timeout=0.3, backoff_initial=0.05)
        started = time.monotonic()
        with pytest.raises(LinkError):
            driver.open()
        assert time.monotonic() - started < 5, "open() gives up after connect_timeout"
        driver.close()
        driver.close()
        with pytest.raises(LinkError, match="closed"):
            next(driver.readings())

    def test_the_instrument_going_away_ends_the_run_and_close_stays_idempotent(self) -> None:
        with simulator(self.family, self.tcp_transport, count=8, seed=6) as s:
            driver = self.driver(s.driver_url, **FAST_RECONNECT).open()
            records = driver.records(idle_exit=1.0)
            got = list(next(records))
            for reading in got:
                driver.ack(reading)
            s.sim.stop()  # the instrument is switched off: connection closed, port refused
            s.thread.join(10)
            s.sim.endpoint.close()
            started = time.monotonic()
            for record in records:
                got.extend(record)
                for reading in record:
                    driver.ack(reading)
            assert time.monotonic() - started < 5, "idle_exit ends a run whose instrument has gone"
            assert not driver.connected
            driver.close()
            driver.close()
            assert not driver.connected
        assert got == s.expected()[: len(got)] and len(got) < len(s.expected())

    # --- acknowledge before the next record ---------------------------------------------------------

    def test_readings_must_be_acknowledged_before_the_next_record(self) -> None:
        with simulator(self.family, self.transports[0], count=6, seed=3) as s:
            expected = s.expected()
            on_instrument = s.sim.pending()
            with self.driver(s.driver_url) as d:
                records = d.records()
                first = next(records)
                assert first == expected[: len(first)]
                for reading in first[:-1]:  # all but one stored: still not enough
                    d.ack(reading)
                with pytest.raises(UnacknowledgedReadingError):
                    next(records)
                assert s.sim.pending() == on_instrument, "nothing is released without ack()"
            with self.driver(s.driver_url) as d:
                it = d.readings()
                yielded = [next(it) for _ in first]
                with pytest.raises(UnacknowledgedReadingError):
                    next(it)
                assert yielded == first, "the unacknowledged record comes again, whole"
                assert s.sim.pending() == on_instrument

    # --- re-delivery after a lost acknowledgement ---------------------------------------------------

    def test_a_new_driver_gets_unacknowledged_readings_again(self) -> None:
        """What a crash between store and ack looks like: the next session sees the same readings."""
        with simulator(self.family, self.transports[0], count=6, seed=4) as s:
            with self.driver(s.driver_url) as d:
                first = next(d.records())
            with self.driver(s.driver_url) as d:
                again = list(d.readings(count=6, auto_ack=True))
            assert again[: len(first)] == first
            assert again == s.expected()

    def test_an_acknowledgement_lost_with_the_link_brings_the_record_again(self) -> None:
        with simulator(self.family, self.tcp_transport, count=12, seed=5) as s, Cable(s) as cable:
            expected = s.expected()
            with self.driver(cable.driver_url, **FAST_RECONNECT) as d:
                records = d.records(idle_exit=10)
                got = list(next(records))
                cable.cut()  # the link drops after the record is read, before its acknowledgement is sent
                for reading in got:
                    d.ack(reading)  # stored: the driver remembers, the instrument does not hear it
                cable.restore()
                while len(got) < len(expected):
                    record = next(records)
                    got.extend(record)
                    for reading in record:
                        d.ack(reading)
                records.close()
                stats = dict(d.stats)
        assert got == expected, "each reading once: the re-sent record is released, not yielded again"
        assert stats["resent_known"] >= 1, "the instrument sent the unacknowledged record again"
        assert s.sim.pending() == 0

    # --- link errors --------------------------------------------------------------------------------

    @pytest.mark.parametrize("behaviour", ["silent", "garbage"])
    def test_a_peer_that_is_no_instrument_gives_no_reading_and_no_hang(self, behaviour: str) -> None:
        with rogue_peer(self.family, self.tcp_transport, behaviour) as url:
            driver = self.driver(url, connect_timeout=0.3, backoff_initial=0.05)
            started = time.monotonic()
            if self.identifies_on_connect:
                with pytest.raises(LinkError):
                    driver.open()
            else:
                with driver:
                    assert list(driver.readings(idle_exit=1.0)) == []
            assert time.monotonic() - started < 10
            driver.close()
            driver.close()

    def test_each_fault_kind(self, fault: str) -> None:
        listen = self.transports[KINDS.index(fault) % len(self.transports)]
        rate = self.fault_rates.get(fault, 0.12)
        with simulator(self.family, listen, count=24, seed=KINDS.index(fault), faults=f"{fault}={rate}") as s:
            got, _stats = collect(self.family, s.driver_url, count=24)
            assert_exactly(s.expected(), got)
            assert len(got) == 24, "a driver instance yields a reading once"
            assert s.sim.faults.counts[fault] > 0, f"the run never injected {fault}"

    @pytest.mark.slow
    def test_every_transport_with_the_acceptance_fault_mix(self, listen: str) -> None:
        with simulator(self.family, listen, count=80, seed=11, faults=ACCEPTANCE_FAULTS) as s:
            got, _stats = collect(self.family, s.driver_url, count=80)
            assert_exactly(s.expected(), got)
            assert len(got) == 80
            assert sum(s.sim.faults.counts.values()) > 0

    @pytest.mark.slow
    def test_all_fault_kinds_at_once(self) -> None:
        with simulator(self.family, self.transports[0], count=60, seed=5, faults=self.fault_mix(EVERY_FAULT)) as s:
            got, _ = collect(self.family, s.driver_url, count=60)
            assert_exactly(s.expected(), got)

    def test_the_protocol_suffers_the_acceptance_faults(self) -> None:
        required = {part.partition("=")[0] for part in ACCEPTANCE_FAULTS.split(",")}
        assert required <= set(self.faults) <= set(KINDS), "every family recovers from the acceptance fault mix"

    # --- the seeded scenario ------------------------------------------------------------------------

    def test_clean_line_and_idle_exit(self, listen: str) -> None:
        with simulator(self.family, listen, count=12, seed=3) as s:
            got, stats = collect(self.family, s.driver_url, idle_exit=1.0)
            assert_exactly(s.expected(), got)
            assert len(got) == 12 and stats["connects"] == 1
            assert s.sim.pending() == 0, "every record was released on the instrument"

    # --- a consumer killed with SIGKILL -------------------------------------------------------------

    @pytest.mark.slow
    def test_sigkill_of_the_consumer_loses_and_doubles_nothing(self, tmp_path: Path) -> None:
        """Kill the storing process mid-record, start it again: every reading the simulator produced is
        stored exactly once (the instrument keeps what was not acknowledged, storage dedups)."""
        db = tmp_path / "store.db"
        rng = random.Random(self.family)
        count = 120
        with simulator(self.family, self.tcp_transport, count=count, seed=21, faults=ACCEPTANCE_FAULTS) as s:
            expected = {r.key(): r.as_dict() for r in s.expected()}

            def start(*extra: str) -> subprocess.Popen[bytes]:
                consumer = ["-m", "tests.instruments.crash_consumer", self.family, s.driver_url, str(db), *extra]
                return subprocess.Popen(
                    [sys.executable, *consumer],
                    cwd=ROOT,
                    env={**os.environ, **self.consumer_env()},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )

            kills = 0
            for _ in range(2):  # killed between storing a reading and acknowledging it: the worst moment
                proc = start(str(rng.randint(1, 5)))
                assert proc.wait(60) == -signal.SIGKILL
                kills += 1
            for _ in range(2):  # killed from outside at a random moment while it works
                proc = start()
                target = len(_stored(db)) + rng.randint(2, 12)
                _wait_until(lambda p=proc, n=target: len(_stored(db)) >= n or p.poll() is not None, 60)
                time.sleep(rng.uniform(0.0, 0.05))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
            proc = start()  # and let the last one finish
            try:
                _wait_until(lambda: len(_stored(db)) >= count, 100)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        stored = _stored(db)
        assert kills == 4
        assert set(stored) == set(expected), f"lost {set(expected) - set(stored)}; extra {set(stored) - set(expected)}"
        assert stored == expected
        assert _deliveries(db) > len(stored), "some reading came again after a kill (and was stored once)"


# --- a crash consumer's store ---------------------------------------------------------------------------


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(db)) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:  # the first consumer has not created the table yet
            return []


def _stored(db: Path) -> dict[tuple[str, int], dict[str, object]]:
    rows = _query(db, "SELECT serial, seq, body FROM readings")
    return {(serial, seq): json.loads(body) for serial, seq, body in rows}


def _deliveries(db: Path) -> int:
    rows = _query(db, "SELECT count(*) FROM deliveries")
    return int(rows[0][0]) if rows else 0


def _wait_until(condition: Any, limit: float) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {limit} s")
        time.sleep(0.02)


# --- links a test can break ---------------------------------------------------------------------------


class Cable:
    """A TCP relay between driver and simulator that the test can cut (a pulled cable) and restore.

    While cut, a connecting driver is accepted and hung up at once, as by a device server whose serial
    side is dead."""

    def __init__(self, sim: SimThread) -> None:
        port = sim.sim.endpoint.port  # type: ignore[attr-defined]
        self.target = ("127.0.0.1", port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.driver_url = re.sub(rf"127\.0\.0\.1:{port}\b", f"127.0.0.1:{self.server.getsockname()[1]}", sim.driver_url)
        assert self.driver_url != sim.driver_url
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._cut = False
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def __enter__(self) -> Cable:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.cut()
        for thread in self._threads:
            thread.join(5)
        self.server.close()

    def cut(self) -> None:
        """Break every connection now; new ones are hung up until `restore()`."""
        with self._lock:
            self._cut = True
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def restore(self) -> None:
        """Let connections through again (the cable is back)."""
        with self._lock:
            self._cut = False

    def _accept(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.server], [], [], 0.05)
            if not ready:
                continue
            client, _ = self.server.accept()
            with self._lock:
                cut = self._cut
            if cut:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._pairs.append((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=_pump, args=(src, dst, self._stop), daemon=True)
                thread.start()
                self._threads.append(thread)


def _pump(src: socket.socket, dst: socket.socket, stop: threading.Event) -> None:
    try:
        while not stop.is_set():
            ready, _, _ = select.select([src], [], [], 0.05)
            if not ready:
                continue
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except (OSError, ValueError):  # the other side was cut (closed socket: fileno -1)
        pass
    for sock in (src, dst):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def rogue_peer(family: str, listen: str, behaviour: str, seed: int = 7) -> Iterator[str]:
    """Something on the family's link that is no instrument: ``silent`` never answers, ``garbage`` sends
    seeded random bytes all the time. Yields the URL a driver would open."""
    endpoint, _framing, url = open_endpoint(family, listen)
    rng = random.Random(f"{family}:{behaviour}:{seed}")
    stop = threading.Event()

    def run() -> None:
        line: Line | None = None
        while not stop.is_set():
            if line is None:
                line = endpoint.accept(0.05)
                continue
            try:
                line.read(0.02)
                if behaviour == "garbage":
                    line.write(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 32))))
            except Disconnected:
                line.close()
                line = None
        if line is not None:
            line.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        stop.set()
        thread.join(5)
        endpoint.close()
