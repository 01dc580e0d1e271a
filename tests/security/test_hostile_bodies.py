"""Request bodies are bounded while they arrive, before authentication or parsing, on a really served app.

The server's peak memory (VmHWM) must stay flat while oversized JSON and multipart bodies are thrown at
it, and it must stop taking a body soon after the body passes its route's limit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from lims.api.limits import API_JSON, API_PHOTO, PAGE_FORM
from lims.web.bodies import BodyLimit
from tests.security.hostile_server import MIB, Server, served, stream

GROWTH_MIB = 64  # what the server may grow while refusing; the bodies sent are 4-16 times that
SOCKET_SLACK = 16 * MIB  # bytes in flight in kernel buffers when the server stops reading


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory.mktemp("bodies")) as s:
        httpx.get(f"{s.base}/", timeout=30)  # first page render: templates compiled, steady state
        yield s


def test_declared_oversized_json_is_refused_before_its_body(server: Server) -> None:
    before = server.peak_mib()
    answer = stream(server, "/api/v1/samples", 0, content_type="application/json", declared=400 * MIB)
    assert answer.status == 413, answer.head
    assert answer.sent == 0  # answered to the head alone, before authentication could even run
    assert "larger than 1 MB" in json.loads(answer.body)["detail"]
    assert "connection: close" in answer.head.lower()
    assert server.peak_mib() - before < GROWTH_MIB


def test_streamed_oversized_json_is_cut_off_and_memory_stays_flat(server: Server) -> None:
    before = server.peak_mib()
    answer = stream(server, "/api/v1/samples", 256 * MIB, content_type="application/json", prefix=b'{"product_name": "')
    assert answer.closed_early, f"the server took all {answer.sent} bytes"
    assert answer.sent < API_JSON.body_bytes + SOCKET_SLACK
    assert answer.status in (413, None), answer.head  # None: it closed before the client read the answer
    if answer.status == 413:
        assert "larger than 1 MB" in json.loads(answer.body)["detail"]
    assert server.peak_mib() - before < GROWTH_MIB


def test_streamed_oversized_multipart_is_cut_off_before_it_is_spooled(server: Server) -> None:
    boundary = "hostileboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    before = server.peak_mib()
    answer = stream(
        server, "/api/v1/scan", 1024 * MIB, content_type=f"multipart/form-data; boundary={boundary}", prefix=head
    )
    assert answer.closed_early, f"the server took all {answer.sent} bytes"
    assert answer.sent < API_PHOTO.body_bytes + SOCKET_SLACK
    assert answer.status in (413, None), answer.head
    assert server.peak_mib() - before < GROWTH_MIB


def test_page_form_over_its_limit_gets_the_error_page(server: Server) -> None:
    answer = stream(
        server, "/login", 0, content_type="application/x-www-form-urlencoded", declared=PAGE_FORM.body_bytes + 1
    )
    assert answer.status == 413
    assert "text/html" in answer.head
    assert "larger than 256 KB" in answer.body and "<html" in answer.body


def test_malformed_content_length_is_refused_by_the_middleware_itself(app: object) -> None:
    # uvicorn already refuses such a header; the middleware does not rely on the server for it.
    sent: list[dict] = []

    async def receive() -> dict:
        raise AssertionError("the body must not be read")

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/samples",
        "headers": [(b"content-length", b"1e9")],
        "query_string": b"",
    }
    asyncio.run(BodyLimit(app)(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 400
    assert "Content-Length" in json.loads(sent[1]["body"])["detail"]


def test_multipart_part_counts_are_bounded(client: TestClient) -> None:
    files = [("photo", (f"{i}.png", b"\x89PNG", "image/png")) for i in range(3)]
    page = client.post("/trace/photo", files=files)
    assert page.status_code == 413
    assert "text/html" in page.headers["content-type"] and "Too many files" in page.text
    fields = {f"f{i}": "x" for i in range(40)}
    api = client.post("/api/v1/scan", files={"image": ("a.png", b"\x89PNG", "image/png")}, data=fields)
    assert api.status_code == 413
    assert "Too many fields" in api.json()["detail"]
    form = client.post("/login", data={"username": "x" * (20 * 1024), "password": "y"})
    assert form.status_code == 413 and "text/html" in form.headers["content-type"]


def test_limits_are_per_route(client: TestClient) -> None:
    photo_sized = b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * MIB)  # over the JSON limit, under the photo limit
    scan = client.post("/api/v1/scan", files={"image": ("a.png", photo_sized, "image/png")})
    assert scan.status_code == 422  # reached the decoder, which found a damaged PNG
    json_body = client.post("/api/v1/samples", content=photo_sized, headers={"Content-Type": "application/json"})
    assert json_body.status_code == 413


def test_under_the_limit_bodies_still_work(client: TestClient, headers: dict) -> None:
    response = client.post("/api/v1/samples", json={"point_code": "NOPE"}, headers=headers["tester"])
    assert response.status_code in (404, 422)  # refused by the service, not by the body limit
