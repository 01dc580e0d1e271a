"""Hostile images (generated here) are refused by both upload endpoints with 413/422 and a reason, never a 500.

Bombs, huge frames inside small canvases (GIF, APNG, animated WebP), a huge second TIFF page, a 100 MP
header, the 35-byte GIF and truncated files: each is bounded from the file's structure before anything
is decoded, so refusing it costs neither time nor memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from fastapi.testclient import TestClient

from barcodes import hostile

CORPUS = hostile.corpus()
MEMORY_GROWTH_MIB = 48  # decoding the largest of these in full would take 150 MB to several GB


@pytest.fixture(scope="module")
def files() -> dict[str, tuple[bytes, int]]:
    return {name: (make(), status) for name, (make, status) in CORPUS.items()}


def test_the_api_refuses_every_hostile_image(client: TestClient, files: dict[str, tuple[bytes, int]]) -> None:
    answers = {}
    for name, (data, _status) in files.items():
        response = client.post(
            "/api/v1/scan",
            files={"image": (f"{name}.img", data, "application/octet-stream")},
            headers={"Accept-Language": "en"},
        )
        answers[name] = (response.status_code, response.json().get("detail", ""))
    expected = {name: status for name, (_data, status) in files.items()}
    assert {name: status for name, (status, _reason) in answers.items()} == expected
    for name, (_status, reason) in answers.items():
        assert reason.startswith("cannot read the photo: "), (name, reason)


def test_the_photo_page_refuses_every_hostile_image(client: TestClient, files: dict[str, tuple[bytes, int]]) -> None:
    statuses = {}
    for name, (data, _status) in files.items():
        page = client.post("/trace/photo", files={"photo": (f"{name}.img", data, "application/octet-stream")})
        statuses[name] = page.status_code
        assert "text/html" in page.headers["content-type"], name
        assert "无法读取照片" in page.text, name  # the page is Chinese first
    assert statuses == {name: status for name, (_data, status) in files.items()}


def test_the_35_byte_gif_and_the_huge_gif_frame_say_why() -> None:
    from barcodes.imageio import ImageError, load_gray

    tiny = hostile.gif_tiny_bomb()
    assert len(tiny) == 35
    for data in (tiny, hostile.gif_with_huge_frame()):
        with pytest.raises(ImageError) as err:
            load_gray(data)
        assert err.value.code == "too_large"
        assert "frame is" in err.value.reason and "the limit is 50 MP" in err.value.reason


def test_refusing_the_corpus_costs_no_memory() -> None:
    # In a fresh process: peak resident memory (VmHWM) before and after loading every hostile file.
    script = textwrap.dedent(
        """
        import json
        from pathlib import Path
        from barcodes import hostile
        from barcodes.imageio import ImageError, load_gray

        def peak_mib():
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024

        files = {name: make() for name, (make, _status) in hostile.corpus().items()}
        load_gray(hostile.small_png())  # the decoders' own start-up memory is not the files' doing
        before = peak_mib()
        codes = {}
        for name, data in files.items():
            try:
                load_gray(data)
                codes[name] = "decoded"
            except ImageError as exc:
                codes[name] = exc.code
        print(json.dumps({"growth": peak_mib() - before, "codes": codes}))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result["codes"].values()) <= {"too_large", "truncated", "not_image"}, result["codes"]
    assert result["growth"] < MEMORY_GROWTH_MIB, result
