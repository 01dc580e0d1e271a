"""The public cannot tell a sample that is not published yet from a label id nobody uses.

Every public channel (the API trace, the consumer page, the signed label link, the photo scan) gives
the same status and the same words for both; only the label id itself differs.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from barcodes.synth import render_code
from lims.services.samples import links
from lims.services.samples.label_ids import make_label_id
from tests.core.helpers import register, submit


def _pair(client: TestClient, headers: dict) -> tuple[str, str]:
    """A registered sample with a result under review, and a well-formed label id no sample has."""
    sample = register(client, headers["tester"])
    submit(client, headers["tester"], sample["label_id"])
    unpublished = sample["label_id"]
    day = date(2000 + int(unpublished[2:4]), int(unpublished[4:6]), int(unpublished[6:8]))
    unknown = make_label_id(unpublished[:2], day, 900)
    return unpublished, unknown


def _same(a: Any, b: Any, label_a: str, label_b: str, token_a: str = "", token_b: str = "") -> None:
    assert a.status_code == b.status_code
    text_a, text_b = a.text.replace(label_a, "LABEL"), b.text.replace(label_b, "LABEL")
    if token_a:
        text_a, text_b = text_a.replace(token_a, "TOKEN"), text_b.replace(token_b, "TOKEN")
    assert text_a == text_b


def _qr_png(text: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.pad(render_code("QR Code", text), 40, constant_values=255)).save(buf, format="PNG")
    return buf.getvalue()


def test_api_trace_answers_alike(client: TestClient, headers: dict) -> None:
    unpublished, unknown = _pair(client, headers)
    a, b = client.get(f"/api/v1/trace/{unpublished}"), client.get(f"/api/v1/trace/{unknown}")
    assert a.status_code == 404
    _same(a, b, unpublished, unknown)
    lower_a, lower_b = (
        client.get(f"/api/v1/trace/{unpublished.lower()}"),
        client.get(f"/api/v1/trace/{unknown.lower()}"),
    )
    _same(lower_a, lower_b, unpublished, unknown)


def test_consumer_pages_answer_alike(client: TestClient, headers: dict) -> None:
    unpublished, unknown = _pair(client, headers)
    client.get("/")  # the browser's cookies, so both pages carry the same form token
    _same(client.get(f"/trace/{unpublished}"), client.get(f"/trace/{unknown}"), unpublished, unknown)
    token_a, token_b = links.sign(unpublished), links.sign(unknown)
    signed_a, signed_b = client.get(f"/s/{unpublished}?t={token_a}"), client.get(f"/s/{unknown}?t={token_b}")
    assert signed_a.status_code == 200 and "正在检测或审核中" in signed_a.text  # a neutral page, not an error
    _same(signed_a, signed_b, unpublished, unknown, token_a, token_b)


def test_photo_scans_answer_alike(client: TestClient, headers: dict) -> None:
    unpublished, unknown = _pair(client, headers)
    scans = []
    for label in (unpublished, unknown):
        response = client.post("/api/v1/scan", files={"image": ("label.png", _qr_png(label), "image/png")})
        assert response.status_code == 200
        (code,) = response.json()["codes"]
        scans.append((code["status"], code["detail"].replace(label, "LABEL"), code["trace"]))
    assert scans[0] == scans[1]
    assert scans[0][0] == 404
