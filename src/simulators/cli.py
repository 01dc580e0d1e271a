"""Command line of the simulators: `lims simulate KIND --listen URL …` (also `python -m simulators`).

The first line printed on stdout is what a driver should open (the device path for a pty), so a
script can read it; a JSON summary goes to stderr at the end.

A family whose instrument saves files (a phone camera's photos: its simulator has ``write_folder``) also
listens on a folder, ``folder:///path`` or a plain directory path: the photos are saved there, and with
``--exit-when-done`` the simulator waits until a watcher has taken every one of them out of the folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from instrument_drivers import family_registry as families
from simulators.faults import FaultPlan, FaultSpecError
from simulators.registry import (
    SIMULATORS,
    ListenUrlError,
    create_simulator,
    listen_folder,
    open_endpoint,
    simulator_class,
)
from simulators.scenario import Scenario, ScenarioError, as_json_lines, expected_readings, load


def build_parser(prog: str = "lims simulate") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Run a simulated quick-test instrument.")
    p.add_argument("kind", choices=sorted(SIMULATORS), help="instrument family")
    p.add_argument(
        "--listen",
        required=True,
        help="socket://HOST:PORT, pty, modbus-tcp://HOST:PORT, modbus-rtu+socket://HOST:PORT, "
        "or for a camera a folder (folder:///path or a directory path)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the scenario and of the faults (default 0)")
    p.add_argument("--count", type=int, default=None, help="number of readings (default 100, or the file's)")
    p.add_argument("--scenario", type=Path, help="scenario file (YAML or JSON) instead of a seeded scenario")
    p.add_argument("--faults", default="", help="e.g. corrupt=0.05,drop=0.05,dup=0.05,disconnect=0.01")
    p.add_argument("--serial", help="instrument serial number (default from the family and seed)")
    p.add_argument(
        "--first-seq",
        type=int,
        default=None,
        help="first record number (default 1 + seed × 10000, so runs with other seeds never reuse one)",
    )
    p.add_argument("--baud", type=int, help="line speed the writes are paced at (default: the family's)")
    p.add_argument("--unit", type=int, default=1, help="Modbus unit id (families that speak Modbus, default 1)")
    p.add_argument(
        "--exit-when-done", action="store_true", help="exit once every reading has been acknowledged by the host"
    )
    p.add_argument("--duration", type=float, help="exit after this many seconds")
    p.add_argument(
        "--expect", type=Path, help="write the readings a driver must receive to this file, one JSON line each"
    )
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "lims simulate") -> int:
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    if args.count is not None and args.count < 0:
        print("error: --count must not be negative", file=sys.stderr)
        return 2
    try:
        scenario = load(
            args.kind,
            seed=args.seed,
            count=args.count,
            serial=args.serial,
            scenario_file=args.scenario,
            first_sequence=args.first_seq,
        )
        faults = FaultPlan.parse(args.faults, seed=args.seed)
        folder = listen_folder(args.kind, args.listen)
        if folder is None:
            endpoint, framing, driver_url = open_endpoint(args.kind, args.listen, args.baud, args.unit)
    except (ScenarioError, FaultSpecError, ListenUrlError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.expect:
        args.expect.write_text(as_json_lines(expected_readings(scenario)), encoding="utf-8")
    if folder is not None:
        return _save_photos(args, scenario, folder)
    options: dict[str, object] = {"exit_when_done": args.exit_when_done}
    if families.spec(args.kind).modbus:
        options.update(framing=framing, unit=args.unit)
    sim = create_simulator(args.kind, scenario, endpoint, faults, **options)

    def stop(signum: int, frame: FrameType | None) -> None:
        sim.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(driver_url, flush=True)
    try:
        sim.run(duration=args.duration)
    finally:
        endpoint.close()
        summary = {
            "kind": args.kind,
            "serial": scenario.serial,
            "released": sim.released,
            "pending": sim.pending(),
            "connections": sim.connections,
            "faults": dict(faults.counts),
        }
        print(json.dumps(summary), file=sys.stderr, flush=True)
    return 0


def _save_photos(args: argparse.Namespace, scenario: Scenario, folder: Path) -> int:
    """Save the scenario's photos into `folder`; with --exit-when-done, wait until they have all been taken."""
    try:
        paths: list[Path] = getattr(simulator_class(args.kind), "write_folder")(scenario, folder)  # noqa: B009
    except OSError as exc:
        print(f"error: cannot write into {folder}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"folder://{folder.resolve()}", flush=True)
    stopped = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    end = None if args.duration is None else time.monotonic() + args.duration
    while args.exit_when_done and not stopped and any(p.exists() for p in paths):
        if end is not None and time.monotonic() >= end:
            break
        time.sleep(0.1)
    left = sum(p.exists() for p in paths)
    summary = {"kind": args.kind, "serial": scenario.serial, "released": len(paths) - left, "pending": left}
    print(json.dumps(summary), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
