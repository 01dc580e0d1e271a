"""The consumer's pages: signed sample links, trace pages, photo decoding, and clear messages for bad input."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from PIL import Image

from lims.models.common import utcnow
from lims.services.samples import links
from tests.core.helpers import POSITIVE_OPC, act, published_result, register, submit

GTIN13 = "6901234567892"


def _published_sample(client: TestClient, headers: dict[str, dict[str, str]], **sample: Any) -> dict[str, Any]:
    created = register(client, headers["tester"], **sample)
    result = submit(client, headers["tester"], created["label_id"], POSITIVE_OPC)
    assert act(client, headers["reviewer"], result["id"], "approve").status_code == 200
    assert act(client, headers["reviewer"], result["id"], "publish").status_code == 200
    return created


def test_sample_url_is_ascii_under_the_public_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from lims.settings import get_settings

    monkeypatch.setenv("LIMS_PUBLIC_BASE_URL", "https://lims.example.cn/")
    get_settings.cache_clear()
    url = links.sample_url("XQ2611290014")
    assert url.startswith("https://lims.example.cn/s/XQ2611290014?t=")
    assert url.isascii() and " " not in url
    assert links.verify("XQ2611290014", url.split("t=", 1)[1]).label_id == "XQ2611290014"


def test_verify_tells_tampered_wrong_sample_and_expired_apart() -> None:
    token = links.sign("XQ2611290014")
    with pytest.raises(links.LinkError) as tampered:
        links.verify("XQ2611290014", token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert tampered.value.kind == "tampered" and tampered.value.status_code == 403
    with pytest.raises(links.LinkError) as wrong:
        links.verify("XQ2611290022", token)
    assert wrong.value.kind == "wrong_sample"
    short = links.sign("XQ2611290014", max_age=60)
    assert links.verify("XQ2611290014", short).label_id == "XQ2611290014"
    later = utcnow() + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        with pytest.raises(links.LinkError) as expired:
            links.verify("XQ2611290014", short)
        assert expired.value.kind == "expired" and expired.value.status_code == 410
        assert links.verify("XQ2611290014", token).label_id == "XQ2611290014"  # printed labels never expire
        with pytest.raises(links.LinkError):
            links.verify("XQ2611290014", token, max_age=60)  # unless the reader asks for a maximum age


def test_signed_link_page_shows_the_sample(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    sample = _published_sample(client, headers, product_name="上海青")
    page = client.get(links.sample_path(sample["label_id"]))
    assert page.status_code == 200
    assert "上海青" in page.text and "疑似阳性" in page.text and "已验证" in page.text
    assert "快速检测是一种筛查" in page.text  # what a screening result means and does not mean
    english = client.get(links.sample_path(sample["label_id"]) + "&lang=en")
    assert "<dt>Sampled at</dt><dd>x Warehouse Shopping Plaza</dd>" in english.text


def test_bad_signed_links_get_clear_messages(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    first = _published_sample(client, headers)
    second = _published_sample(client, headers)
    token = links.sign(first["label_id"])
    tampered = client.get(f"/s/{first['label_id']}?t={token[:-3]}xyz")
    assert tampered.status_code == 403 and "已被改动" in tampered.text
    wrong = client.get(f"/s/{second['label_id']}?t={token}")
    assert wrong.status_code == 403 and "属于另一份样品" in wrong.text and first["label_id"] in wrong.text
    missing = client.get(f"/s/{first['label_id']}")
    assert missing.status_code == 403
    expired = client.get(links.sample_path(first["label_id"], max_age=0).replace("?", "?lang=en&", 1))
    assert expired.status_code in (200, 410)  # signed in this very second: age 0 is still valid
    for response in (tampered, wrong, missing):
        assert "Traceback" not in response.text and "<html" in response.text


def test_expired_link_page(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    sample = _published_sample(client, headers)
    path = links.sample_path(sample["label_id"], max_age=3600)
    later = utcnow() + timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        response = client.get(path + "&lang=en")
        assert response.status_code == 410
        assert "This link has expired" in response.text


def test_trace_page_for_a_product_code(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    _published_sample(client, headers, gtin=GTIN13, product_name="菠菜")
    page = client.get(f"/trace/{GTIN13}")
    assert page.status_code == 200
    assert "疑似阳性" in page.text and "x仓储购物广场" in page.text  # where it was tested
    assert "条码校验通过" in page.text and "商品库中没有该条码对应的商品" in page.text  # authenticity findings
    english = client.get(f"/trace/{GTIN13}?lang=en")
    assert "Suspected positive" in english.text and "GS1 China" in english.text
    assert "Where it was tested: x Warehouse Shopping Plaza" in english.text


def test_typed_codes_go_to_their_page(client: TestClient) -> None:
    assert client.get("/trace?code=%206901234567892%20", follow_redirects=False).headers["location"] == (
        f"/trace/{GTIN13}"
    )
    assert client.get("/trace?code=(01)06901234567892", follow_redirects=False).headers["location"] == (
        f"/trace/{GTIN13}"
    )
    assert client.get("/trace?code=xq2611290014", follow_redirects=False).headers["location"] == "/trace/XQ2611290014"


@pytest.mark.parametrize(
    ("code", "status", "text"),
    [
        ("6901234567891", 422, "check digit"),
        ("6901234567892", 404, "we know nothing about GTIN"),
        ("XQ2611290015", 422, "check character"),
        ("hello%20world", 422, "not a sample label id or a GS1 product code"),
    ],
)
def test_bad_codes_get_a_clear_message(client: TestClient, code: str, status: int, text: str) -> None:
    response = client.get(f"/trace/{code}?lang=en")
    assert response.status_code == status
    assert text in response.text and 'role="alert"' in response.text and "Traceback" not in response.text


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def barcode_photo(digits: str) -> bytes:
    """A PNG of an EAN-13 barcode as python-barcode draws it."""
    import barcode
    from barcode.writer import ImageWriter

    out = io.BytesIO()
    barcode.get("ean13", digits[:12], writer=ImageWriter()).write(out, options={"module_width": 0.4, "dpi": 200})
    return out.getvalue()


def test_photo_of_a_barcode_leads_to_its_page(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    _published_sample(client, headers, gtin=GTIN13)
    response = client.post(
        "/trace/photo", files={"photo": ("photo.png", barcode_photo(GTIN13), "image/png")}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/trace/{GTIN13}"


def test_photo_of_a_label_qr_leads_to_the_signed_sample_page(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    import segno

    sample = _published_sample(client, headers)
    out = io.BytesIO()
    segno.make(links.sample_url(sample["label_id"]), error="m").save(out, kind="png", scale=6)
    response = client.post("/trace/photo", files={"photo": ("qr.png", out.getvalue(), "image/png")})
    assert response.status_code == 200
    assert sample["label_id"] in response.text and "已验证" in response.text


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        (b"definitely not an image", "不是可识别的图片"),
        (b"", "不是可识别的图片"),
        (_png(Image.new("L", (400, 300), 255)), "没有识别到条码"),
    ],
)
def test_bad_photos_get_a_clear_message(client: TestClient, payload: bytes, text: str) -> None:
    response = client.post("/trace/photo", files={"photo": ("x.png", payload, "image/png")})
    assert response.status_code == 422
    assert text in response.text and "Traceback" not in response.text


def test_photo_of_a_gs1_symbol_with_bad_content_says_why(client: TestClient) -> None:
    photo = Path("/work/shared/benchmarks/zxing-samples/code128-1/1.png").read_bytes()  # GS1-128 "168901"
    response = client.post("/trace/photo", files={"photo": ("x.png", photo, "image/png")}, follow_redirects=False)
    assert response.status_code == 422
    assert "(16)" in response.text and "168901" in response.text and "Traceback" not in response.text


def test_published_result_helper_still_traces(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    result = published_result(client, headers)
    page = client.get(f"/trace/{result['sample_label_id']}")
    assert page.status_code == 200 and "阴性" in page.text


def test_unknown_addresses(client: TestClient) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "未找到" in page.text and "<html" in page.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    assert client.get("/static/site.css").status_code == 200
    assert client.get("/openapi.json").status_code == 200


def test_signed_link_of_an_unpublished_sample(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    sample = register(client, headers["tester"])
    page = client.get(links.sample_path(sample["label_id"]))
    assert page.status_code == 404 and "该样品的检测结果尚未发布" in page.text


def test_an_unexpected_fault_is_a_page_not_a_stack_trace(
    app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from lims.web import feeds

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(feeds.warnings, "active", broken)
    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/warnings")
    assert response.status_code == 500
    assert "系统出错" in response.text and "disk on fire" not in response.text and "Traceback" not in response.text
    assert "page GET /warnings failed" in caplog.text
