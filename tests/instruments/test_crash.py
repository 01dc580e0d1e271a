"""Kill the receiving process with SIGKILL at random moments, start it again: every reading the
simulator produced is stored exactly once (the instrument keeps what was not acknowledged)."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.instruments.harness import simulator

ROOT = Path(__file__).resolve().parents[2]
LISTEN = {"pesticide": "socket://127.0.0.1:0", "gold": "socket://127.0.0.1:0", "spectro": "modbus-tcp://127.0.0.1:0"}


def _stored(db: Path) -> dict[tuple[str, int], dict[str, object]]:
    if not db.exists():
        return {}
    with sqlite3.connect(db) as conn:
        try:
            rows = conn.execute("SELECT serial, seq, body FROM readings").fetchall()
        except sqlite3.OperationalError:
            return {}
    return {(serial, seq): json.loads(body) for serial, seq, body in rows}


@pytest.mark.slow
@pytest.mark.parametrize("family", ["pesticide", "gold", "spectro"])
def test_sigkill_of_the_receiver_loses_and_doubles_nothing(family: str, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    rng = random.Random(family)
    count = 120
    with simulator(
        family, LISTEN[family], count=count, seed=21, faults="corrupt=0.05,drop=0.05,dup=0.05,disconnect=0.01"
    ) as s:
        expected = {r.key(): r.as_dict() for r in s.expected()}

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-m", "tests.instruments.crash_consumer", family, s.driver_url, str(db)],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

        kills = 0
        for _ in range(4):  # kill it at random moments while it works
            proc = start()
            time.sleep(rng.uniform(1.0, 3.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        proc = start()  # and let the last one finish
        try:
            deadline = time.monotonic() + 100
            while len(_stored(db)) < count and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    stored = _stored(db)
    assert kills == 4
    assert set(stored) == set(expected), f"lost {set(expected) - set(stored)}; extra {set(stored) - set(expected)}"
    assert stored == expected
