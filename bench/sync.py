"""Benchmark: the vehicle node's fault soak at acceptance size, and the sync figures, each against a baseline.

1. The soak (`tests/sync/soak_harness.py`): centre (`lims serve`, PostgreSQL with --pg-url, else SQLite)
   and node (`lims node`, SQLite) as processes behind the fault proxy, 1,000 readings for 200 samples
   registered on the node, 10 outages of 30 s, 5 % of connections cut mid-stream, SIGKILLs of both sides;
   prints what was lost, doubled and verified.
2. Sync throughput (records/s): a backlog made with the node offline, drained through the fault proxy,
   against the same backlog drained directly (the baseline).
3. Backlog drain after a busy vehicle's 30 minutes offline: the outbox of --busy-samples samples and
   --busy-readings readings (an upper bound of what one vehicle registers and measures in 30 minutes),
   drained through the fault proxy; against the time the vehicle took to make it.
4. Latency from the instrument's last byte to the result in the centre's review queue with the link up
   (p50, p99), against the latency from the last byte to the node's own commit.

    python bench/sync.py [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sync.soak_harness import Soak, SoakConfig  # noqa: E402


def _log(line: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {line}", flush=True)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def soak(folder: Path, args: argparse.Namespace) -> bool:
    """The acceptance soak; True when nothing was lost or doubled and both trails verify."""
    config = SoakConfig(
        samples=args.samples,
        readings=args.readings,
        batches=args.batches,
        outages=args.outages,
        outage_seconds=args.outage_seconds,
        cut=args.cut,
        node_kills=args.kills,
        centre_kills=args.kills,
        seed=args.seed,
        pg_url=args.pg_url or None,
        pg_name=args.pg_name,
        gap=(args.gap_min, args.gap_max),
        final_timeout=600,
    )
    print(
        f"soak: {config.readings} readings, {config.samples} samples, {config.outages} outages of "
        f"{config.outage_seconds:.0f} s, {config.cut:.0%} of connections cut, {config.node_kills} SIGKILLs "
        f"of each side; centre on {'PostgreSQL' if config.pg_url else 'SQLite'}, node on SQLite",
        flush=True,
    )
    world = Soak(folder, config, _log)
    try:
        report = world.run()
    finally:
        world.close()
    summary = report.as_dict()
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    lost, extra, twice = sum(report.lost().values()), sum(report.extra().values()), sum(report.twice().values())
    ok = (
        lost == extra == twice == 0
        and report.applied == report.outbox
        and report.reviewed_status_on_node == "approved"
        and all(v.startswith("exit 0") for v in report.audit.values())
    )
    print(
        f"soak: {sum(summary['records'].values())} records ({summary['records']}), {lost} lost, {twice} twice, "
        f"{extra} at the centre only; outbox {report.outbox} = applied {report.applied}: "
        f"{report.applied == report.outbox}; {report.outages} outages, proxy cut {report.proxy.get('cut', 0)} of "
        f"{report.proxy.get('connections', 0)} connections, node killed {report.node_kills}x, centre "
        f"{report.centre_kills}x; review during an outage reached the node: {report.reviewed_status_on_node}; "
        f"audit {report.audit}; final sync {report.final_sync_seconds:.1f} s; total {report.seconds:.0f} s "
        f"→ {'PASS' if ok else 'FAIL'}",
        flush=True,
    )
    return ok


def figures(folder: Path, args: argparse.Namespace) -> None:
    """Throughput through the proxy against direct, the busy vehicle's backlog drain, the latency."""
    config = SoakConfig(cut=args.cut, seed=args.seed + 1, pg_url=args.pg_url or None, pg_name=args.pg_name)
    world = Soak(folder, config, _log)
    try:
        world.setup()
        world.node_token = world.node_token_for("tester")
        proxied, direct = world.centre_via_proxy, world.centre.base

        n, _ = world.accumulate(args.throughput_samples, args.throughput_readings)
        w_direct, t_direct = world.drain(direct)
        world.accumulate(args.throughput_samples, args.throughput_readings)
        w_proxy, t_proxy = world.drain(proxied)
        r_direct, r_proxy = w_direct / t_direct, w_proxy / t_proxy
        print(
            f"throughput: backlog of {n} records; direct {w_direct} in {t_direct:.2f} s = {r_direct:.1f} records/s "
            f"(baseline); through the proxy with {args.cut:.0%} cut {w_proxy} in {t_proxy:.2f} s = "
            f"{r_proxy:.1f} records/s; ratio {r_proxy / r_direct:.2f}",
            flush=True,
        )

        made, took = world.accumulate(args.busy_samples, args.busy_readings)
        w_busy, t_busy = world.drain(proxied)
        print(
            f"backlog drain: a busy vehicle's 30 minutes offline = {args.busy_samples} samples and "
            f"{args.busy_readings} readings = {made} outbox records; drained through the proxy in {t_busy:.2f} s "
            f"({w_busy / t_busy:.1f} records/s); the vehicle took {took:.1f} s to make them here, 1800 s "
            f"in the field; drain / 30 minutes = {t_busy / 1800:.4f}",
            flush=True,
        )

        to_node, to_centre = world.latencies(args.latency_samples, args.latency_readings)
        p50n, p99n = statistics.median(to_node), _percentile(to_node, 0.99)
        p50c, p99c = statistics.median(to_centre), _percentile(to_centre, 0.99)
        print(
            f"latency over {len(to_centre)} readings, link up through the proxy: instrument's last byte → centre's "
            f"review queue p50 {p50c:.3f} s, p99 {p99c:.3f} s; baseline last byte → node's commit p50 "
            f"{p50n:.3f} s, p99 {p99n:.3f} s; ratio p50 {p50c / max(p50n, 1e-6):.1f}",
            flush=True,
        )
    finally:
        world.close()


def main() -> int:
    """Parse arguments, run the soak and the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pg-url", default=os.environ.get("LIMS_TEST_DATABASE_URL", ""))
    p.add_argument("--pg-name", default="", help="database for the centre (default: the one in --pg-url, emptied)")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--readings", type=int, default=1000)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--outages", type=int, default=10)
    p.add_argument("--outage-seconds", type=float, default=30.0)
    p.add_argument("--gap-min", type=float, default=5.0)
    p.add_argument("--gap-max", type=float, default=20.0)
    p.add_argument("--cut", type=float, default=0.05)
    p.add_argument("--kills", type=int, default=2, help="SIGKILLs of each side")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--throughput-samples", type=int, default=50)
    p.add_argument("--throughput-readings", type=int, default=200)
    p.add_argument("--busy-samples", type=int, default=60)
    p.add_argument("--busy-readings", type=int, default=240)
    p.add_argument("--latency-samples", type=int, default=20)
    p.add_argument("--latency-readings", type=int, default=100)
    p.add_argument("--skip-soak", action="store_true")
    p.add_argument("--skip-figures", action="store_true")
    p.add_argument("--quick", action="store_true", help="small sizes, to check the script runs")
    args = p.parse_args()
    if args.pg_url and not args.pg_name:
        from sqlalchemy.engine import make_url

        args.pg_name = make_url(args.pg_url).database or "bench_sync"
    if args.quick:
        args.samples, args.readings, args.batches, args.outages, args.outage_seconds = 10, 30, 2, 2, 1.0
        args.gap_min, args.gap_max, args.kills = 0.5, 1.5, 1
        args.throughput_samples, args.throughput_readings = 5, 20
        args.busy_samples, args.busy_readings, args.latency_samples, args.latency_readings = 5, 20, 5, 16
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as folder:
        if not args.skip_soak:
            ok = soak(Path(folder) / "soak", args)
        if not args.skip_figures:
            figures(Path(folder) / "figures", args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
