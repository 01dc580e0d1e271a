"""`lims simulate` + `lims acquire` as real processes: faults on the line and a SIGKILL of the acquiring
process lose and double nothing. LIMS_ACCEPTANCE_COUNT=1000 runs the full acceptance size."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

FAULTS = "corrupt=0.05,drop=0.05,dup=0.05,disconnect=0.01"
COUNT = int(os.environ.get("LIMS_ACCEPTANCE_COUNT", "60"))
FAMILIES = {
    # family: (serial known to the reference data, listen URL, driver URL)
    "pesticide": ("PR-8CH-0001", "socket://127.0.0.1:{port}", "socket://127.0.0.1:{port}"),
    "gold": ("GR-CR-0001", "socket://127.0.0.1:{port}", "socket://127.0.0.1:{port}"),
    "spectro": ("SP-MP-0001", "modbus-tcp://127.0.0.1:{port}", "modbus-tcp://127.0.0.1:{port}?unit=1"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
    env["LIMS_LINK_TIMER_SCALE"] = "0.02"
    return env


def _lims(*args: str) -> list[str]:
    return [sys.executable, "-m", "lims", *args]


@pytest.mark.timeout(120 + COUNT)  # the full acceptance size takes minutes per family
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_acquire_survives_faults_and_sigkill(family: str, tmp_path: Path) -> None:
    serial, listen, url = FAMILIES[family]
    port = _free_port()
    expected_file = tmp_path / "expected.jsonl"
    simulator = subprocess.Popen(
        _lims(
            "simulate",
            family,
            "--listen",
            listen.format(port=port),
            "--count",
            str(COUNT),
            "--seed",
            "7",
            "--serial",
            serial,
            "--faults",
            FAULTS,
            "--expect",
            str(expected_file),
        ),
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        acquire = _lims("acquire", family, url.format(port=port), "--json")
        first = subprocess.Popen(acquire, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        # Kill it after a random number of stored readings: mid-stream, with no chance to clean up.
        kill_after = random.Random(family).randint(1, COUNT - 1)
        assert first.stdout is not None
        for _ in range(kill_after):
            assert first.stdout.readline(), "acquire ended before it was killed"
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL
        # Started again, it ends once the instrument has had nothing new to say for a while.
        second = subprocess.run(
            [*acquire, "--idle-exit", "8"],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert second.returncode == 0, second.stderr
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)
    listed = subprocess.run(
        _lims("readings", "--instrument", serial, "--json"),
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    stored = [json.loads(line) for line in listed.stdout.splitlines()]
    expected = [json.loads(line) for line in expected_file.read_text().splitlines()]
    assert len(expected) == COUNT
    assert sorted(r["sequence"] for r in stored) == sorted(r["sequence"] for r in expected)  # none lost, none twice
    by_sequence = {r["sequence"]: r for r in expected}
    for row in stored:
        want = by_sequence[row["sequence"]]
        assert row["item"] == want["item_code"] and row["instrument_judgement"] == want["judgement"]
        assert row["instrument_value"] == pytest.approx(want["value"], rel=1e-6)
