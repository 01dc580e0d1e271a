"""The demo's instruments: one simulator process per family measures the day's samples, `acquire` stores it."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import yaml
from sqlalchemy.engine import Engine

from lims.services.demo.builder import InstrumentRun, Measurement
from lims.services.results import ingest

# family: (serial in the reference data, how the simulator listens, how the driver connects)
INSTRUMENTS = {
    "pesticide": ("PR-8CH-0001", "socket://127.0.0.1:{port}", "socket://127.0.0.1:{port}"),
    "gold": ("GR-CR-0001", "socket://127.0.0.1:{port}", "socket://127.0.0.1:{port}"),
    "spectro": ("SP-MP-0001", "modbus-tcp://127.0.0.1:{port}", "modbus-tcp://127.0.0.1:{port}?unit=1"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scenario(measurements: list[Measurement], path: Path) -> None:
    """The simulator's scenario file: which sample, which item, which outcome, one record per sample."""
    samples = sorted({m.sample_label_id for m in measurements})
    readings = [
        {
            "sample": m.sample_label_id,
            "item": m.item_code,
            "result": m.outcome,
            "group": samples.index(m.sample_label_id) + 1,
        }
        for m in measurements
    ]
    if measurements and measurements[0].family == "pesticide":  # one channel per sample in an 8-channel run
        for n, reading in enumerate(readings):
            reading["channel"] = n % 8 + 1
            reading["group"] = n // 8 + 1
    path.write_text(yaml.safe_dump({"readings": readings}, allow_unicode=True), encoding="utf-8")


def _wait_until_listening(simulator: subprocess.Popen[str], family: str, timeout: float = 60.0) -> None:
    """Wait for the simulator's first line (the address it listens on), however busy the machine is."""
    assert simulator.stdout is not None
    ready, _, _ = select.select([simulator.stdout], [], [], timeout)
    if not ready or not simulator.stdout.readline():
        raise RuntimeError(f"the {family} simulator did not start within {timeout:.0f} s")


def simulated_instruments(engine: Engine) -> InstrumentRun:
    """Run the measurements on simulated instruments over real links and store them through `ingest`."""
    from instrument_drivers.registry import create_driver

    def run(measurements: list[Measurement]) -> None:
        by_family: dict[str, list[Measurement]] = defaultdict(list)
        for m in measurements:
            by_family[m.family].append(m)
        with tempfile.TemporaryDirectory(prefix="lims-demo-") as folder:
            for family, wanted in sorted(by_family.items()):
                serial, listen, url = INSTRUMENTS[family]
                port = _free_port()
                scenario = Path(folder) / f"{family}.yaml"
                _scenario(wanted, scenario)
                # `python -m simulators` starts in a fraction of the time `lims simulate` needs (it does not
                # import the application), and its first line says it is listening.
                simulator = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "simulators",
                        family,
                        "--listen",
                        listen.format(port=port),
                        "--scenario",
                        str(scenario),
                        "--serial",
                        serial,
                        "--exit-when-done",
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
                try:
                    _wait_until_listening(simulator, family)
                    with create_driver(family, url.format(port=port)) as driver:
                        ingest.acquire(engine, driver, count=len(wanted), idle_exit=30)
                finally:
                    simulator.terminate()
                    simulator.wait(timeout=30)

    return run
