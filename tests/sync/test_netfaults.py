"""The TCP fault proxy over real sockets: forwarding, cuts mid-stream, refused and blackholed outages, its CLI."""

from __future__ import annotations

import json
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from simulators.netfaults import NetFaultSpecError, OutagePlan, ProxyThread

PAYLOAD = bytes(range(256)) * 64  # 16 KiB, more than any cut point below


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[0], server.server_address[1]
    server.shutdown()
    server.server_close()


def _round_trip(port: int, payload: bytes = PAYLOAD, timeout: float = 5.0) -> bytes:
    """Send `payload`, half-close, and return everything echoed back until the peer closes or resets."""
    got = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            while data := s.recv(65536):
                got += data
        except (ConnectionResetError, BrokenPipeError):
            pass
    return bytes(got)


def _wait_for(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def test_forwards_both_ways_unchanged(echo: tuple[str, int]) -> None:
    with ProxyThread(echo) as proxy:
        for _ in range(5):
            assert _round_trip(proxy.port) == PAYLOAD
        assert proxy.summary()["connections"] == 5
        assert "cut" not in proxy.summary()


def test_cut_connections_are_exactly_the_logged_ones(echo: tuple[str, int]) -> None:
    with ProxyThread(echo, cut=0.3, cut_max_bytes=8192, seed=7) as proxy:
        short = [i for i in range(60) if _round_trip(proxy.port) != PAYLOAD]
        _wait_for(lambda: proxy.summary().get("connections", 0) == 60 and not proxy.proxy._conns)
        cuts = [e for e in proxy.proxy.events if e["event"] == "cut"]
    assert short, "a 30 % cut share over 60 connections cut none"
    assert len(cuts) == len(short)
    assert {e["direction"] for e in cuts} <= {"up", "down"}
    assert all(0 <= e["after"] < 8192 for e in cuts)


def test_same_seed_same_cuts(echo: tuple[str, int]) -> None:
    runs = []
    for _ in range(2):
        with ProxyThread(echo, cut=0.5, seed=3) as proxy:
            outcome = [_round_trip(proxy.port) == PAYLOAD for _ in range(20)]
            cuts = [(e["conn"], e["direction"]) for e in proxy.proxy.events if e["event"] == "cut"]
        runs.append((outcome, cuts))
    assert runs[0] == runs[1]


def test_refused_outage_resets_open_connections_and_ends(echo: tuple[str, int]) -> None:
    with ProxyThread(echo) as proxy:
        held = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        held.sendall(b"x")
        assert held.recv(1) == b"x"
        proxy.start_outage()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            held.sendall(b"y")
            if not held.recv(1):
                raise ConnectionResetError
        held.close()
        proxy.end_outage()
        assert _round_trip(proxy.port) == PAYLOAD
        kinds = [e["event"] for e in proxy.proxy.events]
    assert kinds.index("outage_start") < kinds.index("outage_end")


def test_blackholed_outage_accepts_and_never_answers(echo: tuple[str, int]) -> None:
    with ProxyThread(echo) as proxy:
        proxy.start_outage(mode="blackhole")
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=0.3) as s:
            s.sendall(b"hello")
            with pytest.raises(TimeoutError):
                s.recv(1)
        proxy.end_outage()
        assert _round_trip(proxy.port) == PAYLOAD
        assert proxy.summary()["blackholed"] == 1


def test_timed_outage_ends_by_itself(echo: tuple[str, int]) -> None:
    with ProxyThread(echo) as proxy:
        proxy.start_outage(seconds=0.2)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        _wait_for(lambda: proxy.summary()["outage"] is None)
        assert _round_trip(proxy.port) == PAYLOAD


def test_scheduled_outages_run_their_count(echo: tuple[str, int]) -> None:
    plan = OutagePlan.parse("every=0.05-0.1,seconds=0.1,count=3")
    with ProxyThread(echo, outages=plan, seed=1) as proxy:
        _wait_for(lambda: proxy.summary().get("outage_end", 0) == 3)
        time.sleep(0.15)
        assert proxy.summary()["outage_start"] == 3
        assert _round_trip(proxy.port) == PAYLOAD


@pytest.mark.parametrize(
    "spec",
    ["every=10", "seconds=3", "every=a-b,seconds=3", "every=5,seconds=3,mode=flaky", "every=9-3,seconds=3", "often"],
)
def test_bad_outage_settings_are_refused(spec: str) -> None:
    with pytest.raises(NetFaultSpecError):
        OutagePlan.parse(spec)


def test_cli_outages_by_signal_and_summary(echo: tuple[str, int]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.netfaults", "--target", f"{echo[0]}:{echo[1]}", "--seed", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        host, _, port = proc.stdout.readline().strip().rpartition(":")
        assert _round_trip(int(port)) == PAYLOAD
        proc.send_signal(signal.SIGUSR1)

        def refused() -> bool:
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
            except ConnectionRefusedError:
                return True
            return False

        _wait_for(refused)
        proc.send_signal(signal.SIGUSR2)
        _wait_for(lambda: not refused())
        assert _round_trip(int(port)) == PAYLOAD
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    summary = json.loads(err.strip().splitlines()[-1])
    assert summary["outage_start"] == summary["outage_end"] == 1
    assert summary["connections"] >= 2


@pytest.mark.parametrize("args", [["--target", "nowhere"], ["--target", "127.0.0.1:1", "--cut", "2"]])
def test_cli_bad_settings_exit_2(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "simulators.netfaults", *args], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:")
