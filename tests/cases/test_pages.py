"""The station and review pages walk a case through its steps; the results notice prints as a page and a PDF."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.cases.helpers import PDF, PHOTO, SEAL, START, VERDICT, vegetable_case
from tests.web.helpers import csrf_of, post_form, sign_in

Headers = dict[str, dict[str, str]]


def _multipart(client: TestClient, page: str, action: str, data: dict[str, Any], files: list[Any]) -> Any:
    token = csrf_of(client.get(page).text)
    return client.post(action, data={"csrf": token, **data}, files=files, follow_redirects=False)


def test_a_case_walks_through_the_station_and_review_pages(app: Any, client: TestClient, h: Headers) -> None:
    case = vegetable_case(client, h, supplier="城南批发市场")
    station = sign_in(app, "station")
    page = station.get("/station")
    assert f'data-case="{case["id"]}"' in page.text
    assert "告知书尚未送达" in page.text and "未登记暂停销售" in page.text
    base = f"/station/cases/{case['id']}"
    steps = [
        # The form's datetime-local is the district's wall clock: 20:02 in Shanghai is START + 2 minutes.
        (
            "notice",
            {"delivery": "in_person", "received_at": "2026-12-03T20:02", "recipient": "王五", "recipient_role": "摊主"},
        ),
        ("suspend", {"confirmed_by": "王五"}),
        ("seal", {"seal_number": SEAL}),
        ("retest", {"lab": "省食品检验研究院", "seal_number": SEAL}),
    ]
    for step, data in steps:
        done = post_form(station, "/station", f"{base}/{step}", data)
        assert done.status_code == 303, (step, done.text)
    # A station user cannot reach the reviewer's verdict form.
    assert station.post(f"/review/cases/{case['id']}/verdict", data={}).status_code in (403, 422)
    reviewer = sign_in(app, "reviewer")
    review = reviewer.get("/review")
    assert f'action="/review/cases/{case["id"]}/verdict"' in review.text
    bad = _multipart(
        reviewer,
        "/review",
        f"/review/cases/{case['id']}/verdict",
        VERDICT,
        [("report", ("r.pdf", PHOTO, "application/pdf"))],
    )
    assert bad.status_code == 422 and "不是 PDF" in bad.text
    recorded = _multipart(
        reviewer,
        "/review",
        f"/review/cases/{case['id']}/verdict",
        VERDICT,
        [("report", ("r.pdf", PDF, "application/pdf"))],
    )
    assert recorded.status_code == 303, recorded.text
    disposal = {"action": "destruction", "quantity": "4", "unit": "kg", "officer": "李执法", "witness": "赵见证"}
    disposed = _multipart(station, "/station", f"{base}/disposal", disposal, [("photo", ("p.png", PHOTO, "image/png"))])
    assert disposed.status_code == 303, disposed.text
    closed = client.get(f"/api/v1/cases/{case['id']}", headers=h["reviewer"]).json()
    assert datetime.fromisoformat(closed["notified_at"]) == START + timedelta(minutes=2)
    assert closed["status"] == "closed" and closed["state"] == "confirmed" and len(closed["photo_ids"]) == 1
    assert closed["disposal_supplier"] == "城南批发市场"
    photo = station.get(f"/cases/{case['id']}/files/{closed['photo_ids'][0]}")
    assert photo.status_code == 200 and photo.content == PHOTO


def _pdf_text(data: bytes, tmp_path: Path) -> str:
    source = tmp_path / "notice.pdf"
    source.write_bytes(data)
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", str(source), "-"], capture_output=True, check=True, text=True).stdout
    if not shutil.which("gs"):
        pytest.skip("neither pdftotext nor ghostscript is installed")
    out = tmp_path / "notice.txt"
    subprocess.run(
        ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=txtwrite", f"-sOutputFile={out}", str(source)],
        capture_output=True,
        check=True,
    )
    return out.read_text(encoding="utf-8", errors="replace")


def test_the_notice_is_a_page_and_a_pdf(app: Any, client: TestClient, h: Headers, tmp_path: Path) -> None:
    case = vegetable_case(client, h, seal_number=SEAL, product_name="小油菜")
    station = sign_in(app, "station")
    page = station.get(f"/cases/{case['id']}/notice")
    assert page.status_code == 200
    for text in ("快速检测结果告知书", "小油菜", SEAL, "四小时", "不是监督抽检", "GB/T 5009.199-2003"):
        assert text in page.text, text
    assert sign_in(app, "station_other").get(f"/cases/{case['id']}/notice").status_code == 404
    pdf = station.get(f"/cases/{case['id']}/notice.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    text = "".join(_pdf_text(pdf.content, tmp_path).split())
    for expected in ("快速检测结果告知书", "小油菜", SEAL, case["sample_label_id"]):
        assert expected in text, expected
