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
    assert page.status_code == 200 and "该样品的检测结果尚未发布" in page.text and "已验证" in page.text
    assert 'role="alert"' not in page.text  # a sample being tested is not an error


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


# --------------------------------------------------------------------------- the verdict card and neutral pages

GOLD_POSITIVE = {"t": 0.4, "c": 1.0}  # T/C 0.40, under the kit's 0.90 cut-off
GOLD_NEGATIVE = {"t": 1.0, "c": 1.0}


def _published(
    client: TestClient, headers: dict[str, dict[str, str]], item: str, raw: dict[str, float], **sample: Any
) -> dict[str, Any]:
    """A sample with one published result of `item` (a gold-card item on pork, else OPC on vegetables)."""
    if item != "OPC":
        sample.setdefault("category_code", "PORK")
    created = register(client, headers["tester"], **sample)
    extra = {"item_code": item, "kit_lot": f"{item}-2611A"} if item != "OPC" else {}
    result = submit(client, headers["tester"], created["label_id"], raw, **extra)
    assert act(client, headers["reviewer"], result["id"], "approve").status_code == 200
    assert act(client, headers["reviewer"], result["id"], "publish").status_code == 200
    return result


def _warn(client: TestClient, headers: dict[str, dict[str, str]], title: str, **extra: Any) -> None:
    body = {"title_zh": title, "body_zh": "近期抽检发现问题，请谨慎购买。", **extra}
    assert client.post("/api/v1/warnings", json=body, headers=headers["reviewer"]).status_code == 201


def test_verdict_card_says_in_one_line_what_was_found_positives_and_warnings_first(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    for _ in range(2):
        _published(client, headers, "OPC", {"control_dA": 0.60, "sample_dA": 0.48}, gtin=GTIN13)
    _published(client, headers, "CLB", GOLD_NEGATIVE, gtin=GTIN13)
    _published(client, headers, "CLB", GOLD_POSITIVE, gtin=GTIN13, product_name="猪里脊")
    _warn(client, headers, "猪肉克伦特罗警示", gtin=GTIN13)
    page = client.get(f"/trace/{GTIN13}").text
    verdict = page.index('id="verdict"')
    assert "近30天抽检4次" in page and "1次疑似阳性（克伦特罗，" in page
    assert verdict < page.index("猪肉克伦特罗警示") < page.index('id="results"') < page.index('id="authenticity"')
    assert page.index("克伦特罗") < page.index('id="results"')  # the positive, with its case state, in the card
    assert 'data-case-state="screening_positive"' in page[verdict : page.index('id="results"')]
    groups = page[page.index('id="results"') : page.index('id="authenticity"')]
    assert groups.count("<details") == 2  # one group per item that found nothing, collapsed
    assert "2次检测" in groups and "T/C" not in page and "µg/kg ·" not in groups  # a ratio is never a value
    english = client.get(f"/trace/{GTIN13}?lang=en").text
    assert "Last 30 days: 4 test(s)" in english and "1 suspected positive(s) (Clenbuterol, " in english


def test_values_are_shown_in_the_unit_of_their_limit_or_not_at_all() -> None:
    from datetime import UTC, datetime

    from lims.models.trace import TracedResult
    from lims.services.public.trace import ShownValue, shown_value

    def result(value: float | None, unit: str, limit_unit: str, reported: str | None = None) -> TracedResult:
        return TracedResult(
            sample_label_id="XQ2611290014",
            item_code="X",
            item_name_zh="x",
            item_name_en="x",
            judgement="negative",
            meaning_zh="",
            meaning_en="",
            value=value,
            reported_value=reported,
            unit=unit,
            limit=20.0,
            limit_unit=limit_unit,
            limit_source="",
            method_standard="",
            point_name="",
            point_name_en="",
            tested_at=datetime(2026, 12, 2, tzinfo=UTC),
            published_at=None,
        )

    assert shown_value(result(0.559, "T/C", "µg/kg")) is None  # a gold card's ratio: the judgement alone
    assert shown_value(result(23.0, "%", "")) is None  # the enzyme method's inhibition
    assert shown_value(result(12.5, "mg/kg", "mg/kg", "12.5")) == ShownValue("12.5", "mg/kg")
    assert shown_value(result(0.012, "mg/kg", "µg/kg")) == ShownValue("12", "µg/kg")
    assert shown_value(result(35.0, "mg/kg", "g/kg")) == ShownValue("0.035", "g/kg")
    assert shown_value(result(None, "mg/kg", "mg/kg")) is None


def test_a_product_nobody_has_tested_is_a_neutral_page_that_says_what_the_code_tells(client: TestClient) -> None:
    page = client.get(f"/trace/{GTIN13}")
    assert page.status_code == 200 and 'role="alert"' not in page.text
    assert "这里还没有人检测过这个商品" in page.text and "中国物品编码中心" in page.text
    assert "GTIN-13 (EAN-13) 6901234567892" in page.text and "GTIN-14 06901234567892" in page.text
    assert 'id="report"' in page.text  # it can still be reported
    upc = client.get("/trace/012345678905?lang=en").text
    assert "GTIN-12 (UPC-A) 012345678905" in upc and "GTIN-13 (EAN-13) 0012345678905" in upc
    assert client.get("/api/v1/trace/6901234567892").status_code == 404  # the API's answer is unchanged


def test_a_restricted_circulation_number_says_it_names_no_product(client: TestClient) -> None:
    from barcodes.gs1 import check_digit

    for payload in ("020123456789", "041234567890", "250000000001"):
        code = payload + str(check_digit(payload))
        page = client.get(f"/trace/{code}?lang=en")
        assert page.status_code == 200, code
        assert "in-store or company-internal number" in page.text and "Restricted-circulation prefix" in page.text


def test_results_under_another_packaging_level_of_the_same_item_are_found(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    case_code = "16901234567899"  # a case (indicator 1) of the item 6901234567892
    _published(client, headers, "OPC", {"control_dA": 0.60, "sample_dA": 0.48}, gtin=case_code)
    page = client.get(f"/trace/{GTIN13}").text
    assert f'href="/trace/{case_code}"' in page and "1条已发布结果" in page


def test_a_sample_being_tested_is_a_neutral_page_alike_for_unknown_labels(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    from lims.services.core import clock
    from lims.services.samples.label_ids import make_label_id

    sample = register(client, headers["tester"])
    page = client.get(f"/trace/{sample['label_id']}")
    assert page.status_code == 200 and 'role="alert"' not in page.text
    assert "正在检测或审核中" in page.text
    missing = make_label_id("XQ", clock.local_today(), 977)
    other = client.get(f"/trace/{missing}")
    # the public must not learn which label ids exist: the two pages differ only in the label id
    assert other.status_code == 200
    assert other.text.replace(missing, "L") == page.text.replace(sample["label_id"], "L")


def test_look_alike_marks_are_a_warning_never_the_products_own_mark(client: TestClient, engine: Any) -> None:
    from sqlmodel import Session

    from lims.services.core.audit import SYSTEM
    from lims.services.reference import registry

    with Session(engine) as session:
        registry.load_samples(session, SYSTEM)
        session.commit()
    page = client.get("/trace/6920152400012").text
    own = page[page.index("<h3>注册商标</h3>") :]
    own = own[: own.index("</ul>")]
    assert "康师傅" in own and "康帅傅" not in own
    alike = page[page.index('id="look-alikes"') : page.index('id="authenticity"')]
    assert "康帅傅" in alike and "宣告无效" in alike
    body = client.get("/api/v1/trace/6920152400012").json()
    assert [m["mark"] for m in body["trademarks"]] == ["康师傅"]
    assert "康帅傅" in [m["mark"] for m in body["look_alikes"]]


def test_home_page_shows_warnings_before_the_staff_links(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    _warn(client, headers, "节日食品消费警示")
    page = client.get("/").text
    assert page.index("节日食品消费警示") < page.index('href="/station"') < page.index('href="/review"')


def test_photo_forms_shrink_photos_in_the_browser_and_still_work_without_scripts(client: TestClient) -> None:
    page = client.get("/trace").text
    assert 'action="/trace/photo"' in page and "data-upload" in page and "data-progress" in page
    assert '<script src="/static/upload.js" defer></script>' in page
    script = client.get("/static/upload.js").text
    assert "MAX_SIDE = 1600" in script and "QUALITY = 0.85" in script and "upload.onprogress" in script
    assert "<script>" not in page  # no inline scripts (CSP)
