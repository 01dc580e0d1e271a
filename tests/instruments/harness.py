"""Shared helpers: protocol-doc vectors, simulator threads, driver runs and a TCP bridge."""

from __future__ import annotations

import contextlib
import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instrument_drivers import Reading, create_driver, family_registry
from simulators.base import Simulator
from simulators.faults import FaultPlan
from simulators.registry import create_simulator, open_endpoint
from simulators.scenario import Scenario, expected_readings, load

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocols"
CONTROL_NAMES = {
    "STX": 0x02,
    "ETX": 0x03,
    "ETB": 0x17,
    "ENQ": 0x05,
    "ACK": 0x06,
    "NAK": 0x15,
    "EOT": 0x04,
    "CR": 0x0D,
    "LF": 0x0A,
}
_BLOCK = re.compile(r"^```(\w+) vector=([\w-]+)\n(.*?)^```", re.S | re.M)


def vectors(doc: str) -> dict[str, Any]:
    """Vectors of a protocol document: hex → bytes, astm → bytes, registers → list of ints."""
    out: dict[str, Any] = {}
    for kind, name, body in _BLOCK.findall((DOCS / doc).read_text(encoding="utf-8")):
        if kind == "hex":
            out[name] = bytes.fromhex(body)
        elif kind == "astm":
            text = "".join(body.splitlines())
            out[name] = re.sub(r"<(\w+)>", lambda m: chr(CONTROL_NAMES[m.group(1)]), text).encode("latin-1")
        elif kind == "registers":
            out[name] = [int(word, 16) for word in body.split()]
        else:
            raise AssertionError(f"unknown vector kind {kind}")
    return out


@dataclass
class SimThread:
    """A simulator serving in a background thread, stopped and closed on exit."""

    sim: Simulator
    driver_url: str
    scenario: Scenario
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self.sim.run, daemon=True)
        self.thread.start()

    def expected(self) -> list[Reading]:
        return expected_readings(self.scenario)

    def close(self) -> None:
        self.sim.stop()
        self.thread.join(10)
        self.sim.endpoint.close()


@contextlib.contextmanager
def simulator(
    kind: str,
    listen: str = "socket://127.0.0.1:0",
    *,
    count: int = 20,
    seed: int = 1,
    faults: str = "",
    baud: int | None = 115200,
    **options: Any,
) -> Iterator[SimThread]:
    scenario = load(kind, seed=seed, count=count, serial=options.pop("serial", None))
    endpoint, framing, url = open_endpoint(kind, listen, baud)
    if family_registry.spec(kind).modbus:
        options.setdefault("framing", framing)
    sim = create_simulator(kind, scenario, endpoint, FaultPlan.parse(faults, seed), **options)
    handle = SimThread(sim, url, scenario)
    try:
        yield handle
    finally:
        handle.close()


def collect(
    kind: str, url: str, *, count: int | None = None, idle_exit: float = 10.0, limit: float = 100.0, **options: Any
) -> tuple[list[Reading], dict[str, int]]:
    """The readings a driver yields (up to `count`, or until idle), acknowledging each as a store would
    after its commit."""
    got: list[Reading] = []
    deadline = time.monotonic() + limit
    with create_driver(kind, url, **options) as driver:
        for reading in driver.readings(count=count, idle_exit=idle_exit):
            got.append(reading)
            driver.ack(reading)
            if time.monotonic() > deadline:
                break
        stats = dict(driver.stats)
    return got, stats


def assert_exactly(expected: list[Reading], got: list[Reading]) -> None:
    """`got` holds each expected reading, equal in every field, and nothing else (duplicates allowed only
    if identical - a driver instance must not yield them, see the caller)."""
    by_key = {r.key(): r for r in expected}
    seen = {r.key() for r in got}
    missing = sorted(set(by_key) - seen)
    extra = sorted(seen - set(by_key))
    assert not missing, f"{len(missing)} readings lost, e.g. {missing[:5]}"
    assert not extra, f"{len(extra)} readings never produced, e.g. {extra[:5]}"
    for r in got:
        assert r == by_key[r.key()], f"reading {r.key()} differs:\n{r}\n{by_key[r.key()]}"


class TcpBridge:
    """Two listening ports joined back to back: what one peer sends, the other receives.

    Lets two TCP *clients* talk, e.g. a driver opening socket:// and an independent ASTM client."""

    def __init__(self) -> None:
        self.a = socket.create_server(("127.0.0.1", 0))
        self.b = socket.create_server(("127.0.0.1", 0))
        self.port_a = self.a.getsockname()[1]
        self.port_b = self.b.getsockname()[1]
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conns: list[socket.socket] = []
        try:
            for server in (self.a, self.b):
                while not self._stop:
                    ready, _, _ = select.select([server], [], [], 0.1)
                    if ready:
                        conns.append(server.accept()[0])
                        break
            if len(conns) < 2:
                return
            while not self._stop:
                ready, _, _ = select.select(conns, [], [], 0.1)
                for conn in ready:
                    data = conn.recv(65536)
                    if not data:
                        return
                    (conns[1] if conn is conns[0] else conns[0]).sendall(data)
        except OSError:
            return
        finally:
            for conn in conns:
                conn.close()

    def close(self) -> None:
        self._stop = True
        self.thread.join(5)
        self.a.close()
        self.b.close()


class TcpJoin:
    """Connects to two listening peers and pumps bytes between them (two TCP *servers* talking)."""

    def __init__(self, port_a: int, port_b: int) -> None:
        self.a = socket.create_connection(("127.0.0.1", port_a))
        self.b = socket.create_connection(("127.0.0.1", port_b))
        self._stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._pump, args=pair, daemon=True) for pair in ((self.a, self.b), (self.b, self.a))
        ]
        for t in self.threads:
            t.start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([src], [], [], 0.1)
                if not ready:
                    continue
                data = src.recv(65536)
                if not data:
                    return
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        for t in self.threads:
            t.join(2)
        self.a.close()
        self.b.close()
