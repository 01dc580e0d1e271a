"""The newcomer's path on a fresh folder: `lims demo --no-serve --json`, then `lims serve`, over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lims.services.samples.label_ids import label_id_problem


def _lims(cwd: Path, *args: str, stdin: str | None = None, lang: str = "en") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
    env["LIMS_LANG"] = lang  # refusals in the language the test reads
    return subprocess.run(
        [sys.executable, "-m", "lims", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("newcomer")
    done = _lims(folder, "demo", "--no-serve", "--json")
    assert done.returncode == 0, done.stderr
    return folder, json.loads(done.stdout)


@pytest.fixture(scope="module")
def server(demo_dir: tuple[Path, dict]) -> Iterator[str]:
    folder, _summary = demo_dir
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "lims", "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()


def test_demo_summary(demo_dir: tuple[Path, dict]) -> None:
    folder, summary = demo_dir
    for key in ("samples", "results", "positives", "published", "trace_codes"):
        assert key in summary
    assert summary["samples"] >= 20 and summary["results"] >= summary["samples"]
    assert summary["published"] > 0 and summary["positives"] >= 0
    assert summary["trace_codes"]
    assert (folder / "var" / "lims.db").exists()


def test_trace_codes_answer_over_http(server: str, demo_dir: tuple[Path, dict]) -> None:
    _folder, summary = demo_dir
    for code in summary["trace_codes"]:
        response = httpx.get(f"{server}/api/v1/trace/{code}")
        assert response.status_code == 200, (code, response.text)
        assert response.json()["results"]
    sample_code = next(c for c in summary["trace_codes"] if label_id_problem(c) is None)
    unknown = sample_code[:2] + "000101001"
    from lims.services.samples.label_ids import check_char

    unknown += check_char(unknown)
    assert httpx.get(f"{server}/api/v1/trace/{unknown}").status_code == 404
    assert httpx.get(f"{server}/api/v1/trace/%%garbage%%").status_code == 422
    assert httpx.get(f"{server}/trace/{sample_code}").status_code == 200


def test_results_need_a_token_and_station_sees_published_only(server: str, demo_dir: tuple[Path, dict]) -> None:
    _folder, summary = demo_dir
    assert httpx.get(f"{server}/api/v1/results").status_code == 401
    token = httpx.post(
        f"{server}/api/v1/auth/token", data={"username": "station", "password": summary["users"]["station"]}
    ).json()["access_token"]
    seen = httpx.get(f"{server}/api/v1/results?limit=1000", headers={"Authorization": f"Bearer {token}"})
    assert seen.status_code == 200
    assert seen.json() and {r["status"] for r in seen.json()} <= {"published", "archived"}
    bad = httpx.post(f"{server}/api/v1/auth/token", data={"username": "station", "password": "wrong-password"})
    assert bad.status_code == 401


def test_audit_verify_on_demo_database(demo_dir: tuple[Path, dict]) -> None:
    folder, _summary = demo_dir
    assert _lims(folder, "audit", "verify").returncode == 0


def test_user_add_reads_password_from_stdin(demo_dir: tuple[Path, dict]) -> None:
    folder, _summary = demo_dir
    added = _lims(folder, "user", "add", "liwei", "--role", "reviewer", stdin="a-strong-password\n")
    assert added.returncode == 0, added.stderr
    again = _lims(folder, "user", "add", "liwei", "--role", "reviewer", stdin="a-strong-password\n")
    assert again.returncode != 0 and "already exists" in again.stderr
    chinese = _lims(folder, "user", "add", "liwei", "--role", "reviewer", stdin="a-strong-password\n", lang="zh")
    assert chinese.returncode != 0 and "用户 'liwei' 已存在" in chinese.stderr
    short = _lims(folder, "user", "add", "wangfang", "--role", "tester", stdin="short\n")
    assert short.returncode != 0 and "at least" in short.stderr
    bad_role = _lims(folder, "user", "add", "zhao", "--role", "boss", stdin="a-strong-password\n")
    assert bad_role.returncode != 0


def test_label_of_a_demo_sample_opens_its_page(server: str, demo_dir: tuple[Path, dict]) -> None:
    import zxingcpp
    from PIL import Image

    folder, summary = demo_dir
    label_id = next(c for c in summary["trace_codes"] if label_id_problem(c) is None)
    made = _lims(folder, "label", label_id, "-o", "label.png")
    assert made.returncode == 0, made.stderr
    texts = {r.text for r in zxingcpp.read_barcodes(Image.open(folder / "label.png"))}
    assert label_id in texts
    url = next(t for t in texts if t.startswith("http"))
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert httpx.get(f"{server}/{path}").status_code == 200
    forged = path.replace(label_id, label_id[:-1] + ("A" if label_id[-1] != "A" else "B"))
    assert httpx.get(f"{server}/{forged}").status_code >= 400


def test_demo_walks_positives_along_the_legal_path(server: str, demo_dir: tuple[Path, dict]) -> None:
    _folder, summary = demo_dir
    examples = summary["case_examples"]
    assert set(examples) == {"open", "cleared", "confirmed"}
    assert summary["accounts"]["station"] == "station ST04" and summary["accounts"]["reviewer"] == "reviewer"
    expected = {"open": "screening_positive", "cleared": "cleared", "confirmed": "confirmed"}
    for outcome, label_id in examples.items():
        (result,) = httpx.get(f"{server}/api/v1/trace/{label_id}").json()["results"]
        assert result["case_state"] == expected[outcome], outcome
    assert "复检排除" in httpx.get(f"{server}/trace/{examples['cleared']}").text
    # A newcomer signing in as the station finds the open case at its own point, to follow up.
    token = httpx.post(
        f"{server}/api/v1/auth/token", data={"username": "station", "password": summary["users"]["station"]}
    ).json()["access_token"]
    cases = httpx.get(f"{server}/api/v1/cases?open_only=true", headers={"Authorization": f"Bearer {token}"}).json()
    assert examples["open"] in {c["sample_label_id"] for c in cases}
    assert examples["cleared"] not in {c["sample_label_id"] for c in cases}  # the lab's clearing closed it
