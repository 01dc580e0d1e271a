"""The monthly report as a page, a PDF and a spreadsheet, for the roles that may read it, on a small demo history.

The history is `lims demo` for two local days ending 2026-12-01 (30 November and 1 December). The figures each
rendering shows are checked against counts written here in plain SQL; the PDF is read back with Ghostscript and the
spreadsheet with openpyxl.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lims.api.deps import get_session
from lims.app import create_app
from lims.services.demo import builder
from tests.conftest import restore
from tests.web.helpers import sign_in

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=SHANGHAI).astimezone(UTC)
LATER = NOW + timedelta(hours=2)
GS = shutil.which("gs")
# Building the history and rendering a PDF take a while on a busy machine; the default limit is for one test.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def history(base_engine: Engine) -> Iterator[Engine]:
    """The demo's two days, built once per backend."""
    restore(base_engine)
    with time_machine.travel(NOW, tick=True):
        builder.run_demo(base_engine, days=2, samples_per_day=8)
    yield base_engine
    restore(base_engine)


@pytest.fixture(scope="module")
def app(history: Engine) -> Any:
    """The app on the history (the shared `app` fixture would reset the database for each test)."""
    application = create_app(history)

    def override() -> Iterator[Session]:
        with Session(history, expire_on_commit=False) as s:
            yield s

    application.dependency_overrides[get_session] = override
    return application


@pytest.fixture(autouse=True)
def _later() -> Iterator[None]:
    with time_machine.travel(LATER, tick=False):
        yield


def _sql_count(engine: Engine, statuses: str, start_local: datetime, end_local: datetime, positive: bool) -> int:
    """Counted tests (not a repeat, judged negative or positive) of those statuses tested in the local period."""
    start, end = start_local.astimezone(UTC), end_local.astimezone(UTC)
    params: dict[str, Any] = {"start": start, "end": end}
    if engine.dialect.name == "sqlite":  # stored as UTC text without an offset
        params = {k: v.strftime("%Y-%m-%d %H:%M:%S.%f") for k, v in params.items()}
    judged = "('positive')" if positive else "('negative', 'positive')"
    query = (
        "SELECT count(*) FROM test_result WHERE repeat_of_id IS NULL AND judgement IN " + judged + " AND status IN "
        f"({statuses}) AND tested_at >= :start AND tested_at < :end"
    )
    with engine.connect() as conn:
        return int(conn.execute(text(query), params).scalar_one())


def _december(engine: Engine, statuses: str = "'approved', 'published', 'archived'", positive: bool = False) -> int:
    return _sql_count(
        engine, statuses, datetime(2026, 12, 1, tzinfo=SHANGHAI), datetime(2027, 1, 1, tzinfo=SHANGHAI), positive
    )


def _cells(html: str, label: str) -> list[str]:
    """The cells of the headline row headed `label` on the page."""
    row = re.search(r"<tr><th scope=\"row\">" + re.escape(label) + r"</th>(.*?)</tr>", html)
    assert row, label
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))]


def test_reviewer_and_station_read_the_page_in_chinese_with_the_sql_figures(app: Any, history: Engine) -> None:
    reviewer = sign_in(app, "reviewer")
    page = reviewer.get("/reports/month?month=2026-12")
    assert page.status_code == 200
    html = page.text
    assert "食品快速检测月报" in html and "环比" in html and "同比" in html and "签字" in html
    tests, positives = _december(history), _december(history, positive=True)
    assert tests > 0 and positives > 0
    assert _cells(html, "检测数")[0] == f"{tests:,}"
    assert _cells(html, "初筛阳性")[0] == f"{positives:,}"
    # no 2025-12 data: 同比 is a dash; November holds one day, so 环比 is a number
    assert _cells(html, "检测数")[2] == "—" and _cells(html, "检测数")[1] != "—"
    for link in ("/reports/month.pdf?month=2026-12", "/reports/month.xlsx?month=2026-12"):
        assert link in html
    for name in ("pass_rate", "positives_by_item", "positives_by_point", "heat"):
        assert f"/reports/month/{name}.svg?month=2026-12" in html
    # the station counts what was published to it
    station = sign_in(app, "station")
    shared = station.get("/reports/month?month=2026-12").text
    published = _december(history, "'published', 'archived'")
    assert _cells(shared, "检测数")[0] == f"{published:,}"
    assert "统计口径：已公示结果" in shared
    # the navigation of both roles links to the report
    assert 'href="/reports/month"' in reviewer.get("/review").text
    assert 'href="/reports/month"' in station.get("/station").text


def test_other_roles_are_refused_and_bad_months_get_a_reason(app: Any) -> None:
    for role in ("tester", "admin"):
        client = sign_in(app, role)
        for path in ("/reports/month", "/reports/month.pdf", "/reports/month.xlsx", "/reports/month/heat.svg"):
            assert client.get(path).status_code == 403, (role, path)
    visitor = TestClient(app).get("/reports/month", follow_redirects=False)
    assert visitor.status_code in (302, 303) and "/login" in visitor.headers["location"]
    reviewer = sign_in(app, "reviewer")
    for bad in ("2026-13", "26-11", "1850-01", "x" * 20, "2026-11-01"):
        answer = reviewer.get("/reports/month", params={"month": bad, "lang": "en"})
        assert answer.status_code == 422, bad
        assert "is not a month (YYYY-MM)" in answer.text
    assert reviewer.get("/reports/month", params={"month": "2" * 21}).status_code == 422
    assert reviewer.get("/reports/month/nothing.svg?month=2026-12").status_code == 404


def test_the_page_opens_on_the_last_complete_month(app: Any) -> None:
    page = sign_in(app, "reviewer").get("/reports/month")
    assert page.status_code == 200
    assert 'value="2026-11"' in page.text


def test_charts_are_svg_with_their_labels_drawn(app: Any) -> None:
    reviewer = sign_in(app, "reviewer")
    for name in ("pass_rate", "positives_by_item", "positives_by_point", "heat"):
        chart = reviewer.get(f"/reports/month/{name}.svg?month=2026-12")
        assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
        assert chart.text.lstrip().startswith("<?xml") and "<svg" in chart.text
        assert chart.text.count("<path") > 20, name  # bars, cells and the text drawn as outlines


def _gs(*args: str) -> str:
    assert GS, "Ghostscript (gs) is installed by scripts/setup.sh"
    done = subprocess.run([GS, "-q", *args], capture_output=True, check=True, timeout=60)
    return done.stdout.decode("utf-8", "replace")


def _pdf_read(data: bytes, tmp_path: Path) -> tuple[list[str], str]:
    """Each page's MediaBox and the text of a PDF, read by Ghostscript."""
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    boxes = _gs(
        "-dNODISPLAY", "-dNOSAFER", "-c",
        f"({path}) (r) file runpdfbegin 1 1 pdfpagecount {{ pdfgetpage /MediaBox pget pop == }} for quit",
    )  # fmt: skip
    words = _gs("-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=txtwrite", "-sOutputFile=-", str(path))
    return boxes.split("\n")[:-1], words


def test_the_pdf_is_a4_with_page_numbers_chinese_text_and_the_sql_figures(
    app: Any, history: Engine, tmp_path: Path
) -> None:
    answer = sign_in(app, "reviewer").get("/reports/month.pdf?month=2026-12")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert 'filename="report-2026-12.pdf"' in answer.headers["content-disposition"]
    data = answer.content
    assert data.startswith(b"%PDF-")
    boxes, words = _pdf_read(data, tmp_path)
    pages = len(boxes)
    assert pages >= 3
    for box in boxes:  # A4 (210 × 297 mm) in points, on every page
        assert [round(float(v)) for v in box.strip("[]").split()] == [0, 0, 595, 842]
    flat = re.sub(r"\s+", "", words)
    assert "食品快速检测月报" in flat and "主要指标" in flat and "编制" in flat
    assert f"1/{pages}" in flat and f"{pages}/{pages}" in flat
    assert f"检测数{_december(history):,}" in flat


def test_the_spreadsheet_has_a_sheet_per_table_with_number_formats(app: Any, history: Engine) -> None:
    answer = sign_in(app, "reviewer").get("/reports/month.xlsx?month=2026-12&lang=zh")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    book = load_workbook(io.BytesIO(answer.content))
    assert len(book.sheetnames) == 12 and book.sheetnames[0] == "汇总"
    summary = book["汇总"]
    rows = {row[0].value: row for row in summary.iter_rows(min_row=2) if row[0].value}
    tests, passed = rows["检测数"], rows["合格率"]
    assert tests[1].value == _december(history) and tests[1].number_format == "#,##0"
    assert passed[1].number_format == "0.0%"
    assert passed[1].value == pytest.approx(1 - _december(history, positive=True) / _december(history))
    assert tests[5].value is None  # no 同比 without the same month a year before
    days = [c for row in summary.iter_rows() for c in row if isinstance(c.value, datetime)]
    assert days and all(c.number_format.startswith("yyyy-mm-dd") for c in days)
    items = book.worksheets[2]  # by test item
    assert sum(int(r[2].value or 0) for r in items.iter_rows(min_row=2)) == _december(history)
    assert {items.cell(2, 5).number_format, items.cell(2, 3).number_format} == {"0.0%", "#,##0"}


def test_the_console_writes_each_format_and_refuses_a_bad_month(
    history: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from lims.cli import main
    from lims.settings import get_settings

    monkeypatch.setenv("LIMS_DATABASE_URL", history.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    runner = CliRunner()
    for form, magic in (("pdf", b"%PDF-"), ("xlsx", b"PK\x03\x04"), ("html", b"<!doctype html>")):
        out = tmp_path / f"report.{form}"
        done = runner.invoke(main.app, ["report", "month", "2026-12", "--format", form, "-o", str(out), "--lang", "zh"])
        assert done.exit_code == 0, done.output
        assert out.read_bytes().startswith(magic)
    html = (tmp_path / "report.html").read_text()
    assert "食品快速检测月报" in html and "data:image/svg+xml;base64," in html
    assert f"{_december(history):,}" in html
    for bad in ("2026-13", "november", "2026-1"):
        refused = runner.invoke(main.app, ["report", "month", bad, "-o", str(tmp_path / "x.pdf")])
        assert refused.exit_code == 2, (bad, refused.output)
        assert "is not a month (YYYY-MM)" in refused.output
        assert not (tmp_path / "x.pdf").exists()
    unknown = runner.invoke(main.app, ["report", "month", "2026-12", "--district", "NOPE", "-o", str(tmp_path / "y")])
    assert unknown.exit_code != 0 and "Traceback" not in unknown.output
