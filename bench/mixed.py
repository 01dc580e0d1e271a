"""A province's busy hour on several workers: consumers tracing, stations listing, vehicles submitting and
reviewers approving, all at once; throughput and p99 per kind, against each kind alone in the same run.

Runs on a seeded province (`lims seed --districts 12 --days 365 --db URL`, whose accounts have the demo's
passwords): one vehicle, one reviewer and one station account per district, and consumers tracing codes drawn
as in `bench/trace.py` (Zipf-skewed published samples and products, plus unknown GTINs).

    .venv/bin/python bench/mixed.py --db postgresql+psycopg://postgres@127.0.0.1:5432/province \\
        [--workers 4] [--redis redis://127.0.0.1:6379/2] [--seconds 10] [--consumers 32]

Each kind is first driven alone for `--seconds`, then every kind together for as long; the ratio is the kind's
throughput in the mix over its throughput alone. Any answer other than the expected one is an error.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
PASSWORDS = {"tester": "tester-demo-2026", "reviewer": "reviewer-demo-2026", "station": "station-demo-2026"}
NEGATIVE_OPC = {"control_dA": 0.60, "sample_dA": 0.48}
KINDS = ("consumer trace", "station list", "vehicle submit", "reviewer approve")


def _trace_bench() -> Any:
    """bench/trace.py as a module (its name would otherwise be the standard library's `trace`)."""
    spec = importlib.util.spec_from_file_location("bench_trace", BENCH / "trace.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Tally:
    """Latencies and unexpected answers of one kind in one phase."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}

    async def timed(self, call: Awaitable[httpx.Response], expected: tuple[int, ...]) -> httpx.Response | None:
        start = time.perf_counter()
        try:
            response = await call
        except httpx.HTTPError as exc:
            self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1
            return None
        self.latencies.append(time.perf_counter() - start)
        if response.status_code not in expected:
            key = str(response.status_code)
            self.errors[key] = self.errors.get(key, 0) + 1
        return response

    def row(self, seconds: float) -> dict[str, float]:
        ordered = sorted(self.latencies) or [0.0]
        return {
            "rps": len(self.latencies) / seconds,
            "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        }


Actor = Callable[[httpx.AsyncClient, float, Tally], Awaitable[None]]


def consumer(paths: list[str], rng: random.Random) -> Actor:
    async def run(client: httpx.AsyncClient, deadline: float, tally: Tally) -> None:
        i = rng.randrange(len(paths))
        while time.perf_counter() < deadline:
            i = (i + 1) % len(paths)
            await tally.timed(client.get(paths[i]), (200, 404))

    return run


def station(headers: dict[str, str], points: list[str], rng: random.Random) -> Actor:
    async def run(client: httpx.AsyncClient, deadline: float, tally: Tally) -> None:
        while time.perf_counter() < deadline:
            query: dict[str, str | int] = (
                {"limit": 50} if rng.random() < 0.5 else {"limit": 50, "point": rng.choice(points)}
            )
            await tally.timed(client.get("/api/v1/results", params=query, headers=headers), (200,))

    return run


def vehicle(headers: dict[str, str], point: str) -> Actor:
    async def run(client: httpx.AsyncClient, deadline: float, tally: Tally) -> None:
        while time.perf_counter() < deadline:
            body = {"point_code": point, "product_name": "小白菜", "category_code": "VEG_LEAF"}
            sample = await tally.timed(client.post("/api/v1/samples", json=body, headers=headers), (201,))
            if sample is None or sample.status_code != 201:
                await asyncio.sleep(0.5)
                continue
            raw = {"sample_label_id": sample.json()["label_id"], "item_code": "OPC", "raw": NEGATIVE_OPC}
            await tally.timed(client.post("/api/v1/results", json=raw, headers=headers), (201,))

    return run


def reviewer(headers: dict[str, str]) -> Actor:
    async def run(client: httpx.AsyncClient, deadline: float, tally: Tally) -> None:
        while time.perf_counter() < deadline:
            query: dict[str, str | int] = {"status": "tested", "limit": 20}
            found = await tally.timed(client.get("/api/v1/results", params=query, headers=headers), (200,))
            waiting = found.json() if found is not None and found.status_code == 200 else []
            if not waiting:
                await asyncio.sleep(0.2)
            for result in waiting:
                if time.perf_counter() >= deadline:
                    break
                action = client.post(f"/api/v1/results/{result['id']}/approve", json={}, headers=headers)
                await tally.timed(action, (200,))

    return run


async def _token(client: httpx.AsyncClient, username: str, role: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORDS[role]})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _phase(base: str, actors: dict[str, list[Actor]], seconds: float) -> dict[str, Tally]:
    tallies = {kind: Tally() for kind in actors}
    clients = [httpx.AsyncClient(base_url=base, timeout=60) for group in actors.values() for _ in group]
    deadline = time.perf_counter() + seconds  # after making the clients, which takes a while on a busy machine
    try:
        jobs = []
        pool = iter(clients)
        for kind, group in actors.items():
            for actor in group:
                jobs.append(actor(next(pool), deadline, tallies[kind]))
        await asyncio.gather(*jobs)
    finally:
        for client in clients:
            await client.aclose()
    return tallies


def _districts(url: str) -> tuple[list[str], dict[str, list[str]]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        users = set(conn.execute(text("SELECT username FROM app_user WHERE active")).scalars())
        rows = conn.execute(
            text("SELECT d.code, p.code FROM district d JOIN sampling_point p ON p.district_id = d.id ORDER BY p.id")
        ).all()
    engine.dispose()
    points: dict[str, list[str]] = {}
    for district, point in rows:
        if all(f"{district.lower()}_{role}" in users for role in PASSWORDS):
            points.setdefault(district.lower(), []).append(point)
    return sorted(points), points


async def _bench(base: str, args: argparse.Namespace, paths: list[str], districts: list[str], points: Any) -> None:
    rng = random.Random(11)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        tokens = {(d, role): await _token(client, f"{d}_{role}", role) for d in districts for role in PASSWORDS}
    every_point = sorted({p for d in districts for p in points[d]})
    actors: dict[str, list[Actor]] = {
        "consumer trace": [consumer(paths, rng) for _ in range(args.consumers)],
        "station list": [station(tokens[(d, "station")], every_point, rng) for d in districts],
        "vehicle submit": [vehicle(tokens[(d, "tester")], points[d][0]) for d in districts],
        "reviewer approve": [reviewer(tokens[(d, "reviewer")]) for d in districts],
    }
    await _phase(base, {"consumer trace": actors["consumer trace"][:4]}, 3)  # warm-up: every worker connected
    alone = {kind: (await _phase(base, {kind: actors[kind]}, args.seconds))[kind] for kind in KINDS}
    mixed = await _phase(base, actors, args.seconds)
    print(
        f"{len(districts)} districts: {args.consumers} consumers, {len(districts)} stations, vehicles and reviewers; "
        f"{args.workers} worker(s); {args.seconds:.0f} s alone per kind, then {args.seconds:.0f} s all at once"
    )
    print(f"{'kind':<17} {'alone/s':>8} {'mixed/s':>8} {'ratio':>6} {'p50 ms':>8} {'p99 ms':>8}  errors")
    report: dict[str, Any] = {}
    for kind in KINDS:
        a, m = alone[kind].row(args.seconds), mixed[kind].row(args.seconds)
        ratio = m["rps"] / a["rps"] if a["rps"] else 0.0
        errors = {**mixed[kind].errors, **{f"alone {k}": v for k, v in alone[kind].errors.items()}}
        print(
            f"{kind:<17} {a['rps']:>8.1f} {m['rps']:>8.1f} {ratio:>6.2f} {m['p50_ms']:>8.1f} {m['p99_ms']:>8.1f}  "
            f"{errors or 'none'}"
        )
        report[kind] = {"ratio": round(ratio, 3), "mixed_rps": round(m["rps"], 1), "p99_ms": round(m["p99_ms"], 1)}
        report[kind]["errors"] = sum(errors.values())
    print(json.dumps(report, ensure_ascii=False))


def main() -> None:
    """Serve the province, drive the busy hour, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a province seeded with `lims seed`")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--redis", default="", help="LIMS_REDIS_URL for the workers (benches use db 2)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--consumers", type=int, default=32)
    args = parser.parse_args()
    trace = _trace_bench()
    _results, labels, gtins = trace.population(args.db)
    paths = [f"/api/v1/trace/{c}" for c in trace.codes(20_000, labels, gtins, random.Random(7))]
    districts, points = _districts(args.db)
    if not districts:
        sys.exit("no district with <code>_tester, _reviewer and _station accounts: seed it with `lims seed`")
    port = trace._free_port()
    command = [sys.executable, "-m", "lims", "serve", "--port", str(port), "--workers", str(args.workers)]
    server = trace.serve(command, port, trace._env(args.db, args.redis))
    try:
        asyncio.run(_bench(f"http://127.0.0.1:{port}", args, paths, districts, points))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
