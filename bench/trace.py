"""Throughput and p99 latency of GET /api/v1/trace/{code} over real HTTP, next to a bare FastAPI endpoint.

Builds (once) a demo database with at least 100,000 results under var/bench/, serves it with
`lims serve` and the bare endpoint with the same uvicorn settings, and drives both with the same
keep-alive load: a mix of known sample ids, known GTINs and well-formed unknown codes.

    .venv/bin/python bench/trace.py [--seconds 15] [--connections 16] [--min-results 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
DB = BENCH_DIR / "trace.db"
SAMPLES_PER_DAY = 300


def _env() -> dict[str, str]:
    return {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{DB}", "LIMS_VAR_DIR": str(BENCH_DIR)}


def _count_results() -> int:
    if not DB.exists():
        return 0
    with sqlite3.connect(DB) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM test_result").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def ensure_database(min_results: int) -> int:
    """Build the demo database when it is missing or too small; return its result count."""
    count = _count_results()
    if count >= min_results:
        return count
    days = min_results // int(SAMPLES_PER_DAY * 1.3) + 2  # about 1.45 results per sample
    print(f"building {DB} with `lims demo --days {days}` (once; takes a while)", flush=True)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "lims",
            "demo",
            "--no-serve",
            "--json",
            "--days",
            str(days),
            "--samples-per-day",
            str(SAMPLES_PER_DAY),
        ],
        env=_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return _count_results()


def codes(n: int, rng: random.Random) -> list[str]:
    """70 % known sample ids, 10 % known GTINs, 20 % well-formed unknown codes."""
    sys.path.insert(0, str(ROOT / "src"))
    from lims.services.samples.label_ids import check_char

    with sqlite3.connect(DB) as conn:
        labels = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT s.label_id FROM sample s JOIN test_result r ON r.sample_id = s.id "
                "WHERE r.status = 'published' ORDER BY random() LIMIT 5000"
            )
        ]
        gtins = [r[0][1:] for r in conn.execute("SELECT DISTINCT gtin FROM sample WHERE gtin IS NOT NULL")]
    unknown = []
    for _ in range(1000):
        body = f"XQ{date(2019, 1, 1) + timedelta(days=rng.randrange(300)):%y%m%d}{rng.randrange(1, 999):03d}"
        unknown.append(body + check_char(body))
    mix = []
    for _ in range(n):
        roll = rng.random()
        mix.append(rng.choice(labels) if roll < 0.7 else rng.choice(gtins) if roll < 0.8 else rng.choice(unknown))
    return mix


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


async def _client(
    port: int, paths: list[str], deadline: float, latencies: list[float], statuses: dict[int, int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    while time.perf_counter() < deadline:
        path = paths[i % len(paths)]
        i += 1
        start = time.perf_counter()
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        status = int(status_line.split()[1])
        statuses[status] = statuses.get(status, 0) + 1
    writer.close()


def drive(port: int, paths: list[str], seconds: float, connections: int) -> tuple[list[float], dict[int, int]]:
    """Keep-alive load from `connections` clients for `seconds`: every latency, and the status counts."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def run() -> None:
        deadline = time.perf_counter() + seconds
        share = [paths[k::connections] for k in range(connections)]
        await asyncio.gather(*(_client(port, share[k], deadline, latencies, statuses) for k in range(connections)))

    asyncio.run(run())
    return latencies, statuses


def summary(latencies: list[float], statuses: dict[int, int], seconds: float) -> dict[str, float]:
    """Requests per second and latency percentiles."""
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / seconds,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99)] * 1000,
    }


def serve(command: list[str], port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a server and wait until it listens."""
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(port)
    return process


def main() -> None:
    """Run the benchmark and print both rows and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--min-results", type=int, default=100_000)
    args = parser.parse_args()
    results = ensure_database(args.min_results)
    subprocess.run([sys.executable, "-m", "lims", "db", "upgrade"], env=_env(), check=True, stdout=subprocess.DEVNULL)
    rng = random.Random(7)
    mix = codes(20_000, rng)
    paths = [f"/api/v1/trace/{c}" for c in mix]
    uvicorn_opts = ["--log-level", "warning", "--no-access-log"]
    # Both servers stay up and are measured in alternating slices, so a busy machine slows both alike.
    bare_port, ours_port = _free_port(), _free_port()
    bare_cmd = [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(bare_port), *uvicorn_opts]
    ours_cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "lims.app:create_app",
        "--factory",
        "--port",
        str(ours_port),
        *uvicorn_opts,
    ]
    servers = [serve(bare_cmd, bare_port, dict(os.environ)), serve(ours_cmd, ours_port, _env())]
    targets = {"bare FastAPI": (bare_port, paths), "lims trace": (ours_port, paths)}
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    statuses: dict[str, dict[int, int]] = {name: {} for name in targets}
    slices = max(1, int(args.seconds // 2))
    try:
        for port, target_paths in targets.values():
            drive(port, target_paths, 2, args.connections)  # warm-up
        for _ in range(slices):
            for name, (port, target_paths) in targets.items():
                got, counts = drive(port, target_paths, 2, args.connections)
                latencies[name] += got
                for status, n in counts.items():
                    statuses[name][status] = statuses[name].get(status, 0) + n
    finally:
        for process in servers:
            process.terminate()
            process.wait()
    rows = {name: summary(latencies[name], statuses[name], slices * 2) for name in targets}
    print(
        f"database: {DB} with {results} results; {args.connections} keep-alive connections, "
        f"{slices} alternating 2-s slices each"
    )
    print(f"{'endpoint':<14} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for name, row in rows.items():
        print(f"{name:<14} {row['rps']:>9.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}  {statuses[name]}")
    ratio = rows["lims trace"]["rps"] / rows["bare FastAPI"]["rps"]
    p99 = rows["lims trace"]["p99_ms"]
    print(f"throughput ratio lims/bare: {ratio:.2f}  (goal >= 0.50); lims p99 {p99:.1f} ms (goal < 50 ms)")
    print(json.dumps({"ratio": round(ratio, 3), "lims_p99_ms": round(p99, 2)}))


if __name__ == "__main__":
    main()
