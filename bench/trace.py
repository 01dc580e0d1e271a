"""Throughput and p99 latency of GET /api/v1/trace/{code} over real HTTP, next to a bare FastAPI endpoint.

Serves a database with `lims serve --workers N` and the bare endpoint with uvicorn and the same number of workers,
and drives both with the same keep-alive load, measured in alternating slices so a busy machine slows both alike.
The codes are drawn from every published sample and every known product (samples' GTINs and the product
register) with a Zipf-like skew (a few codes are asked for often, most rarely), plus valid GTINs nobody knows.

    .venv/bin/python bench/trace.py [--seconds 15] [--connections 16] [--min-results 100000]
    .venv/bin/python bench/trace.py --workers 4 --connections 64 \
        --db postgresql+psycopg://postgres@127.0.0.1:5432/province [--redis redis://127.0.0.1:6379/2]

Without --db it builds (once) a demo database under var/bench/; a --db database is used as it is (seed it with
`lims seed --districts 12 --days 365 --db URL`).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
DB = BENCH_DIR / "trace.db"
SAMPLES_PER_DAY = 300
ZIPF_S = 1.0  # weight of the k-th most asked code: 1 / k**s
SHARE_LABELS, SHARE_GTINS = 0.75, 0.10  # the rest: valid GTINs nobody knows


def _env(url: str, redis_url: str = "") -> dict[str, str]:
    env = {**os.environ, "LIMS_DATABASE_URL": url, "LIMS_VAR_DIR": str(BENCH_DIR)}
    if redis_url:
        env["LIMS_REDIS_URL"] = redis_url
        env["LIMS_REDIS_PREFIX"] = f"bench-{os.getpid()}"
    return env


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
        env=_env(f"sqlite:///{DB}"),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return _count_results()


def _gtin13(rng: random.Random) -> str:
    body = "69" + "".join(str(rng.randrange(10)) for _ in range(10))
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def population(url: str) -> tuple[int, list[str], list[str]]:
    """The database's result count, every published sample's label id and every known GTIN."""
    sys.path.insert(0, str(ROOT / "src"))
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        results = int(conn.execute(text("SELECT count(*) FROM test_result")).scalar() or 0)
        labels = list(
            conn.execute(
                text(
                    "SELECT DISTINCT s.label_id FROM sample s JOIN test_result r ON r.sample_id = s.id "
                    "WHERE r.status = 'published'"
                )
            ).scalars()
        )
        gtins = set(conn.execute(text("SELECT DISTINCT gtin FROM sample WHERE gtin IS NOT NULL")).scalars())
        gtins |= set(conn.execute(text("SELECT gtin FROM product")).scalars())
    engine.dispose()
    return results, sorted(labels), sorted(g[1:] if len(g) == 14 and g[0] == "0" else g for g in gtins if g)


def _zipf(codes: list[str], rng: random.Random) -> tuple[list[str], list[float]]:
    """The codes in a random order of popularity, with the cumulative Zipf weights of their ranks."""
    ranked = codes[:]
    rng.shuffle(ranked)
    return ranked, list(itertools.accumulate(1 / (k**ZIPF_S) for k in range(1, len(ranked) + 1)))


def codes(n: int, labels: list[str], gtins: list[str], rng: random.Random) -> list[str]:
    """`n` codes: published label ids and known GTINs, each Zipf-skewed, and valid GTINs nobody knows."""
    unknown = [_gtin13(rng) for _ in range(max(1000, n // 10))]
    pools = [_zipf(pool, rng) for pool in (labels, gtins, unknown) if pool]
    shares = [SHARE_LABELS, SHARE_GTINS, 1 - SHARE_LABELS - SHARE_GTINS][: len(pools)]
    mix = []
    for _ in range(n):
        ranked, cumulative = rng.choices(pools, weights=shares)[0]
        mix.append(ranked[min(bisect.bisect(cumulative, rng.random() * cumulative[-1]), len(ranked) - 1)])
    return mix


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, seconds: float = 180) -> None:
    """Until the server answers HTTP (its workers import the app first: seconds, more on a busy machine)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                if conn.recv(12).startswith(b"HTTP/1.1"):
                    return
        except OSError:
            time.sleep(0.2)
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
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--db", default="", help="a seeded database URL (default: a demo SQLite database)")
    parser.add_argument("--redis", default="", help="LIMS_REDIS_URL for the workers (benches use db 2)")
    parser.add_argument("--min-results", type=int, default=100_000)
    parser.add_argument("--codes", type=int, default=50_000, help="length of the request sequence")
    args = parser.parse_args()
    url = args.db or f"sqlite:///{DB}"
    if not args.db:
        ensure_database(args.min_results)
        subprocess.run(
            [sys.executable, "-m", "lims", "db", "upgrade"], env=_env(url), check=True, stdout=subprocess.DEVNULL
        )
    results, labels, gtins = population(url)
    rng = random.Random(7)
    mix = codes(args.codes, labels, gtins, rng)
    paths = [f"/api/v1/trace/{c}" for c in mix]
    workers = ["--workers", str(args.workers)]
    bare_port, ours_port = _free_port(), _free_port()
    bare_cmd = [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(bare_port), *workers]
    bare_cmd += ["--log-level", "warning", "--no-access-log"]
    ours_cmd = [sys.executable, "-m", "lims", "serve", "--port", str(ours_port), *workers]
    servers = [serve(bare_cmd, bare_port, dict(os.environ)), serve(ours_cmd, ours_port, _env(url, args.redis))]
    targets = {"bare FastAPI": (bare_port, paths), "lims trace": (ours_port, paths)}
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    statuses: dict[str, dict[int, int]] = {name: {} for name in targets}
    slices = max(1, int(args.seconds // 2))
    try:
        for port, target_paths in targets.values():
            drive(port, target_paths, 5, args.connections)  # warm-up: every worker started and connected
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
    shown = url.split("@")[-1]
    print(
        f"database: {shown} with {results} results, {len(labels)} published samples, {len(gtins)} known GTINs; "
        f"{args.workers} worker(s), {args.connections} keep-alive connections, {slices} alternating 2-s slices each"
    )
    distinct = len(set(mix))
    print(f"codes: {len(mix)} requests over {distinct} distinct codes (Zipf s={ZIPF_S}; unknown GTINs included)")
    print(f"{'endpoint':<14} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for name, row in rows.items():
        print(f"{name:<14} {row['rps']:>9.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}  {statuses[name]}")
    ratio = rows["lims trace"]["rps"] / rows["bare FastAPI"]["rps"]
    p99 = rows["lims trace"]["p99_ms"]
    print(f"throughput ratio lims/bare: {ratio:.2f}  (goal >= 0.60); lims p99 {p99:.1f} ms (goal <= 50 ms)")
    print(json.dumps({"ratio": round(ratio, 3), "lims_p99_ms": round(p99, 2), "workers": args.workers}))


if __name__ == "__main__":
    main()
