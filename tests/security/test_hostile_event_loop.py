"""Heavy work stays off the event loop: /healthz answers while a large photo decodes, and decodes are bounded."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import anyio
import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from barcodes.hostile import small_png
from lims.services.core.errors import Busy
from lims.services.public import scanning
from tests.security.hostile_server import Server, _read_answer, served


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory.mktemp("event-loop")) as s:
        yield s


def photo_40mp() -> bytes:
    """A 7300×5500 JPEG with no barcode: the decoder tries every retry pass (seconds of CPU)."""
    rng = np.random.default_rng(9)
    img = cv2.resize(rng.integers(0, 255, (550, 730), dtype=np.uint8), (7300, 5500), interpolation=cv2.INTER_LINEAR)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return buf.tobytes()


def multipart(field: str, data: bytes, boundary: str = "b0undary") -> tuple[str, bytes]:
    """A multipart/form-data body holding one file."""
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="big.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f"multipart/form-data; boundary={boundary}", body


def test_healthz_answers_while_the_photo_page_decodes_a_40mp_photo(server: Server) -> None:
    content_type, body = multipart("photo", photo_40mp())
    upload = socket.create_connection((server.host, server.port))
    head = (
        f"POST /trace/photo HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    upload.sendall(head.encode() + body)
    answers = 0
    with httpx.Client(base_url=server.base, timeout=120) as client:
        while not select.select([upload], [], [], 0)[0]:  # until the photo's answer starts to arrive
            assert client.get("/healthz").status_code == 200
            answers += 1
    status, _head, page = _read_answer(upload, 60)
    upload.close()
    assert status == 422 and "未识别到条码" in page  # it was decoded, to the end (the page is Chinese first)
    # While the photo decoded (seconds), health checks kept being answered one after another; with the
    # decode on the event loop the first one waits for the decode to finish.
    assert answers >= 5, f"only {answers} health checks were answered during the decode"


def test_decodes_beyond_the_bound_are_told_to_come_back(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanning, "SLOTS", scanning.DecodeSlots(0, 0, 0.0))
    api = client.post(
        "/api/v1/scan", files={"image": ("a.png", small_png(), "image/png")}, headers={"Accept-Language": "en"}
    )
    assert api.status_code == 503
    assert api.headers["Retry-After"] == str(scanning.RETRY_AFTER_SECONDS)
    assert "try again" in api.json()["detail"]
    page = client.post("/trace/photo", files={"photo": ("a.png", small_png(), "image/png")})
    assert page.status_code == 503
    assert page.headers["Retry-After"] == str(scanning.RETRY_AFTER_SECONDS)
    assert "text/html" in page.headers["content-type"]


def test_a_decode_waits_briefly_for_a_slot_and_the_queue_is_bounded() -> None:
    slots = scanning.DecodeSlots(1, 1, 30.0)
    events: list[str] = []

    async def holder(release: anyio.Event) -> None:
        async with slots.held():
            events.append("first holds")
            await release.wait()
        events.append("first done")

    async def waiter() -> None:
        async with slots.held():
            events.append("second got the slot")

    async def main() -> None:
        release = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(holder, release)
            await anyio.sleep(0.05)
            tg.start_soon(waiter)
            await anyio.sleep(0.05)
            assert slots.waiting == 1
            with pytest.raises(Busy) as busy:  # the queue is full: refused at once
                async with slots.held():
                    pass
            assert busy.value.retry_after == scanning.RETRY_AFTER_SECONDS
            events.append("third refused")
            release.set()

    anyio.run(main)
    assert events == ["first holds", "third refused", "first done", "second got the slot"]
    assert slots.waiting == 0


def test_a_decode_that_waits_too_long_is_refused() -> None:
    slots = scanning.DecodeSlots(1, 4, 0.1)

    async def main() -> None:
        async with slots.held():
            with pytest.raises(Busy):
                async with slots.held():
                    pass

    anyio.run(main)
    assert slots.waiting == 0
