"""The demo's instruments: one simulator process per instrument measures the day's samples, `acquire` stores it."""

from __future__ import annotations

import select
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import yaml
from sqlalchemy.engine import Engine

from instrument_drivers import family_registry
from lims.services.demo.builder import InstrumentRun, Measurement
from lims.services.results import ingest


def _scenario(measurements: list[Measurement], path: Path) -> None:
    """The simulator's scenario file: which sample, which item, which outcome, one record per sample (or, on a
    multi-channel instrument, one channel per sample and as many samples per run as it has channels)."""
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
    channels = family_registry.spec(measurements[0].family).channels if measurements else 0
    if channels:
        for n, reading in enumerate(readings):
            reading["channel"] = n % channels + 1
            reading["group"] = n // channels + 1
    path.write_text(yaml.safe_dump({"readings": readings}, allow_unicode=True), encoding="utf-8")


def _driver_url(simulator: subprocess.Popen[str], family: str, timeout: float = 60.0) -> str:
    """The simulator's first line: the URL a driver opens to reach it (waited for, however busy the machine is)."""
    assert simulator.stdout is not None
    ready, _, _ = select.select([simulator.stdout], [], [], timeout)
    line = simulator.stdout.readline().strip() if ready else ""
    if not line:
        raise RuntimeError(f"the {family} simulator did not start within {timeout:.0f} s")
    return line


def simulated_instruments(engine: Engine) -> InstrumentRun:
    """Run the measurements on simulated instruments over real links and store them through `ingest`."""
    from instrument_drivers.registry import create_driver

    def run(measurements: list[Measurement]) -> None:
        by_instrument: dict[tuple[str, str], list[Measurement]] = defaultdict(list)
        for m in measurements:
            by_instrument[(m.family, m.instrument_serial)].append(m)
        with tempfile.TemporaryDirectory(prefix="lims-demo-") as folder:
            for (family, serial), wanted in sorted(by_instrument.items()):
                scenario = Path(folder) / f"{family}-{serial}.yaml"
                _scenario(wanted, scenario)
                # `python -m simulators` starts in a fraction of the time `lims simulate` needs (it does not
                # import the application), and its first line is the URL it listens on.
                simulator = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "simulators",
                        family,
                        "--listen",
                        family_registry.spec(family).demo_listen,
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
                    url = _driver_url(simulator, family)
                    with create_driver(family, url) as driver:
                        ingest.acquire(engine, driver, count=len(wanted), idle_exit=30)
                finally:
                    simulator.terminate()
                    simulator.wait(timeout=30)

    return run
