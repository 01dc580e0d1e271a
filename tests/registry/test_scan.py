"""POST /api/v1/scan: a photo of a product barcode gives its trace; hostile uploads get a 4xx with a reason."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import barcode
from barcode.writer import ImageWriter
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lims.services.core.audit import SYSTEM
from lims.services.reference import registry
from lims.services.samples import links
from tests.core.helpers import published_result


def _ean13_png(digits: str) -> bytes:
    out = io.BytesIO()
    barcode.get("ean13", digits, writer=ImageWriter()).write(out, options={"module_width": 0.4, "quiet_zone": 8})
    return out.getvalue()


def test_photo_of_a_registered_product(client: TestClient, engine: Engine) -> None:
    with Session(engine) as session:
        registry.load_samples(session, SYSTEM)
        session.commit()
    response = client.post("/api/v1/scan", files={"image": ("pack.png", _ean13_png("692015240001"), "image/png")})
    assert response.status_code == 200, response.text
    codes = response.json()["codes"]
    assert [c["text"] for c in codes] == ["6920152400012"]
    assert codes[0]["status"] == 200 and codes[0]["trace"]["product"]["brand"] == "康师傅"


def test_label_qr_with_a_signed_link_opens_the_sample(client: TestClient, headers: dict) -> None:
    import segno

    result = published_result(client, headers)
    url = links.sample_url(result["sample_label_id"])
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=6, border=4)
    codes = client.post("/api/v1/scan", files={"image": ("label.png", out.getvalue(), "image/png")}).json()["codes"]
    assert codes[0]["code"] == result["sample_label_id"] and codes[0]["status"] == 200
    forged = url.replace(result["sample_label_id"], result["sample_label_id"][:-3] + "00X")
    out = io.BytesIO()
    segno.make(forged, error="m").save(out, kind="png", scale=6, border=4)
    codes = client.post("/api/v1/scan", files={"image": ("label.png", out.getvalue(), "image/png")}).json()["codes"]
    assert codes[0]["status"] in (403, 422) and codes[0]["trace"] is None


def test_gs1_symbol_with_bad_content_gets_the_gs1_reason(client: TestClient) -> None:
    photo = Path("/work/shared/benchmarks/zxing-samples/code128-1/1.png").read_bytes()
    (code,) = client.post("/api/v1/scan", files={"image": ("pack.png", photo, "image/png")}).json()["codes"]
    assert (code["text"], code["status"], code["trace"]) == ("168901", 422, None)
    assert "breaks GS1 syntax" in code["detail"] and "(16)" in code["detail"]


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def test_hostile_uploads_are_refused_with_a_reason(client: TestClient) -> None:
    cases = {
        "not an image": b"%PDF-1.4 definitely not a photo",
        "truncated": _ean13_png("692015240001")[:200],
        "bomb": _png_header(100_000, 100_000) + b"\x00" * 64,
        "empty": b"",
    }
    for name, data in cases.items():
        response = client.post("/api/v1/scan", files={"image": ("x.png", data, "image/png")})
        assert 400 <= response.status_code < 500, (name, response.status_code)
        assert response.json()["detail"], name
    assert client.post("/api/v1/scan").status_code == 422
