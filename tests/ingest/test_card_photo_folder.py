"""Folder mode as real processes: `lims simulate card-photo --listen DIR` saves photos into a folder, `lims acquire
card-photo DIR` stores every card of each photo once (a copy of a photo under another name adds nothing), moves the
photos it stored into done/ and the ones it cannot measure into refused/ with the reason; run again, it stores
nothing twice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from simulators.card_photo.cards import Card, Shot, photo

SERIAL = "CPH-VEH-0001"  # the vehicle's camera in the reference data: the folder is named after it


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
    env["LIMS_LINK_TIMER_SCALE"] = "0.02"
    return env


def _lims(*args: str) -> list[str]:
    return [sys.executable, "-m", "lims", *args]


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _lims(*args), cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.timeout(400)
def test_photos_dropped_in_a_folder_are_stored_once_each(tmp_path: Path) -> None:
    folder = tmp_path / SERIAL
    expected_file = tmp_path / "expected.jsonl"
    simulator = subprocess.Popen(
        _lims(
            "simulate",
            "card-photo",
            "--listen",
            str(folder),
            "--count",
            "5",
            "--seed",
            "4",
            "--exit-when-done",
            "--duration",
            "300",
            "--expect",
            str(expected_file),
        ),
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert simulator.stdout is not None
        assert simulator.stdout.readline().strip() == f"folder://{folder.resolve()}"
        saved = sorted(folder.glob("*.jpg"))
        assert saved, "the simulator saved no photo"
        shutil.copy(saved[0], folder / "copy-of-the-first.jpg")  # the same photo under another name
        (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a photo")
        blurred = photo([Card("CLB", "CLB-2611A", t=1.0, c=1.0)], Shot(width=480, height=360, blur=4.0, seed=2))
        (folder / "blurred.jpg").write_bytes(blurred)

        first = _run(tmp_path, "acquire", "card-photo", str(folder), "--json", "--idle-exit", "3")
        assert first.returncode == 0, first.stderr
        _out, err = simulator.communicate(timeout=60)  # it ends once every photo it saved has been taken
        assert simulator.returncode == 0 and json.loads(err.strip().splitlines()[-1])["pending"] == 0
    finally:
        if simulator.poll() is None:
            simulator.kill()
            simulator.wait(timeout=30)

    stored = [json.loads(line) for line in first.stdout.splitlines()]
    expected = [json.loads(line) for line in expected_file.read_text().splitlines()]
    assert len(expected) == 5
    # every card once, whatever the photo's name: the photos are numbered by their content
    assert sorted(r["sequence"] for r in stored) == sorted({r["sequence"] for r in stored})
    assert Counter((r["sample"] or "", r["item"]) for r in stored) == Counter(
        (r["sample_label_id"] or "", r["item_code"]) for r in expected
    )
    for row in stored:
        assert row["instrument_serial"] == SERIAL
    assert sorted(p.name for p in (folder / "done").iterdir()) == sorted(
        [*(p.name for p in saved), "copy-of-the-first.jpg"]
    )
    assert (folder / "refused" / "broken.jpg.txt").read_text().strip() == "not_image"
    assert (folder / "refused" / "blurred.jpg.txt").read_text().strip() == "blurred"
    assert not list(folder.glob("*.jpg"))

    # the photos again, put back: nothing is stored twice
    for done in (folder / "done").iterdir():
        shutil.copy(done, folder / f"again-{done.name}")
    again = _run(tmp_path, "acquire", "card-photo", f"folder://{folder}", "--idle-exit", "2")
    assert again.returncode == 0 and again.stdout.strip() == "stored 0 new readings", again.stdout + again.stderr
    listed = _run(tmp_path, "readings", "--instrument", SERIAL, "--json")
    assert len(listed.stdout.splitlines()) == len(stored)


def test_a_family_that_saves_no_files_refuses_a_folder(tmp_path: Path) -> None:
    refused = _run(tmp_path, "simulate", "gold", "--listen", str(tmp_path), "--count", "1")
    assert refused.returncode == 2 and "socket://" in refused.stderr
