"""Peak server memory and time for a burst of parallel wrong sign-ins, with the hashing bound and without.

Serves a small database with `lims serve` twice: once with the default bound on concurrent password
hashes (LIMS_HASH_CONCURRENCY=2) and once with the bound raised to the burst size (the baseline: every
hash at once, as before the bound). Each run sends N parallel wrong sign-ins for distinct unknown names
from one client (throttling is opened wide, so only the hashing bound acts) and reads the server's peak
resident memory (VmHWM) from /proc.

    .venv/bin/python bench/signin.py [--parallel 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _burst(base: str, parallel: int) -> tuple[dict[int, int], float]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(
                client.post("/api/v1/auth/token", data={"username": f"nobody{n}", "password": f"wrong-{n}"})
                for n in range(parallel)
            )
        )
        elapsed = time.perf_counter() - started
    counts: dict[int, int] = {}
    for answer in answers:
        counts[answer.status_code] = counts.get(answer.status_code, 0) + 1
    return counts, elapsed


def run(folder: Path, parallel: int, concurrency: int) -> tuple[float, float, float, dict[int, int]]:
    """Serve, measure memory at rest and after the burst; return (rest MiB, peak MiB, seconds, statuses)."""
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LIMS_")},
        "LIMS_VAR_DIR": str(folder),
        "LIMS_HASH_CONCURRENCY": str(concurrency),
        "LIMS_HASH_WAIT_SECONDS": "30",
        "LIMS_SIGNIN_ACCOUNT_LIMITS": "100000/minute",
        "LIMS_SIGNIN_ADDRESS_LIMITS": "100000/minute",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "lims", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        # One sign-in first, so the dummy hash and the code paths are warm in both runs.
        httpx.post(f"{base}/api/v1/auth/token", data={"username": "warm", "password": "up"}, timeout=60)
        rest = _peak_mib(server.pid)
        statuses, seconds = asyncio.run(_burst(base, parallel))
        return rest, _peak_mib(server.pid), seconds, statuses
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    """Measure both runs and print the ratio of their peak memory growth."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parallel", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        upgrade = [sys.executable, "-m", "lims", "db", "upgrade"]
        subprocess.run(upgrade, env={**os.environ, "LIMS_VAR_DIR": tmp}, check=True)
        results = {}
        for label, concurrency in (("unbounded (baseline)", args.parallel), ("bounded (default 2)", 2)):
            rest, peak, seconds, statuses = run(folder, args.parallel, concurrency)
            results[label] = peak - rest
            print(
                f"{label:<22} {args.parallel} parallel wrong sign-ins: peak {peak:7.1f} MiB "
                f"(+{peak - rest:6.1f} over rest), {seconds:5.2f} s, statuses {statuses}"
            )
    baseline, bounded = results["unbounded (baseline)"], results["bounded (default 2)"]
    print(f"memory growth bounded/unbounded: {bounded / baseline:.2f}" if baseline > 0 else "no growth measured")


if __name__ == "__main__":
    main()
