"""The benchmarks that build their own data still run against today's schema (small sizes, no timings checked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _run(tmp_path: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
    env["LIMS_VAR_DIR"] = str(tmp_path / "var")
    done = subprocess.run(
        [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_audit_verify_bench_builds_an_intact_trail(tmp_path: Path) -> None:
    out = _run(tmp_path, str(BENCH / "audit_verify.py"), "--results", "40", "--url", f"sqlite:///{tmp_path / 'a.db'}")
    assert "40 results" in out and "verify" in out


@pytest.mark.slow
def test_registrations_bench_registers_every_sample(tmp_path: Path) -> None:
    out = _run(tmp_path, str(BENCH / "registrations.py"), "--counts", "8", "--pg-url", "")
    assert "8 of 8 concurrent registrations succeeded" in out


@pytest.mark.slow
@pytest.mark.browser
def test_pages_bench_weighs_and_times_every_page(tmp_path: Path) -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    out = _run(tmp_path, str(BENCH / "pages.py"), "--repeat", "1", "--samples", "2")
    assert "bare FastAPI page" in out and "vehicle" in out and "ratio" in out
