"""The open-data export: local days and months, CSV read back with the csv module and JSON checked against the
published schema, both compared with an independent SQL query; bounds and rate limits."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime
from typer.testing import CliRunner

from lims.cli.main import app as lims
from lims.services.public import open_data
from lims.settings import get_settings
from tests.core.helpers import POSITIVE_OPC, act, register, submit

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "open-data.schema.json").read_text(encoding="utf-8"))
# 23:50 on 30 November in the district (UTC+8); twenty minutes later it is 1 December there, still 30 November in UTC.
LATE_NOV_30 = datetime(2026, 11, 30, 15, 50, tzinfo=UTC)
EARLY_DEC_1 = datetime(2026, 11, 30, 16, 10, tzinfo=UTC)
CHINA = timedelta(hours=8)  # Asia/Shanghai has kept UTC+8 all year since 1991
ZH = {"Accept-Language": "zh-CN"}

INDEPENDENT = text(
    """
    SELECT r.id, s.label_id, s.product_name, i.code AS item_code, r.judgement, r.value, r.published_at,
           p.code AS point_code, d.code AS district_code,
           (SELECT count(*) FROM positive_case c WHERE c.result_id = r.id) AS cases
    FROM test_result r
    JOIN sample s ON s.id = r.sample_id
    JOIN test_item i ON i.id = r.item_id
    JOIN sampling_point p ON p.id = s.point_id
    JOIN district d ON d.id = r.district_id
    WHERE r.status IN ('published', 'archived')
    ORDER BY r.published_at, r.id
    """
).columns(published_at=UTCDateTime())


def expected(engine: Engine, local_prefix: str) -> list[Any]:
    """Public results whose publication's local date (UTC+8, computed here) starts with `local_prefix`."""
    with engine.connect() as conn:
        rows = conn.execute(INDEPENDENT).all()
    return [r for r in rows if (r.published_at.astimezone(UTC) + CHINA).date().isoformat().startswith(local_prefix)]


@pytest.fixture
def stopped() -> Iterator[time_machine.Coordinates]:
    """The clock stopped twenty minutes before local midnight (tokens are issued on it)."""
    with time_machine.travel(LATE_NOV_30 - timedelta(minutes=20), tick=False) as clock:
        yield clock


@pytest.fixture
def world(stopped: time_machine.Coordinates, client: TestClient, headers: dict[str, dict[str, str]]) -> dict[str, int]:
    """Three published results either side of local midnight, one approved but unpublished, one rejected."""
    h, clock = headers, stopped
    ids: dict[str, int] = {}
    tricky = register(client, h["tester"], product_name='小白菜, "特级"\n散装')
    plain = register(client, h["tester"])
    positive = register(client, h["tester"], product_name="菠菜")
    hidden = register(client, h["tester"], product_name="未发布的样品")
    rejected = register(client, h["tester"], product_name="被退回的样品")
    ids["tricky"] = submit(client, h["tester"], tricky["label_id"])["id"]
    ids["plain"] = submit(client, h["tester"], plain["label_id"])["id"]
    ids["positive"] = submit(client, h["tester"], positive["label_id"], POSITIVE_OPC)["id"]
    ids["hidden"] = submit(client, h["tester"], hidden["label_id"])["id"]
    ids["rejected"] = submit(client, h["tester"], rejected["label_id"])["id"]
    for name in ("tricky", "plain", "positive", "hidden"):
        assert act(client, h["reviewer"], ids[name], "approve").status_code == 200
    assert act(client, h["reviewer"], ids["rejected"], "reject", reason="样品量不足").status_code == 200
    clock.move_to(LATE_NOV_30)
    for name in ("tricky", "plain"):
        assert act(client, h["reviewer"], ids[name], "publish").status_code == 200
    clock.move_to(EARLY_DEC_1)
    assert act(client, h["reviewer"], ids["positive"], "publish").status_code == 200
    return ids


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    data = response.content
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark, for Excel
    body = data.decode("utf-8")[1:]
    assert body.endswith("\r\n") and "\n" not in body.replace("\r\n", "").replace("\n散装", "")
    return list(csv.DictReader(io.StringIO(body, newline="")))


def test_a_local_day_and_month_as_csv_match_sql(world: dict[str, int], client: TestClient, engine: Engine) -> None:
    day = _csv(client.get("/api/v1/open-data/results", params={"day": "2026-11-30", "format": "csv"}))
    want = expected(engine, "2026-11-30")
    assert [int(r["result_id"]) for r in day] == [r.id for r in want] == [world["tricky"], world["plain"]]
    for got, row in zip(day, want, strict=True):
        assert (got["sample_label_id"], got["product_name"], got["item_code"], got["judgement"]) == (
            row.label_id,
            row.product_name,
            row.item_code,
            row.judgement,
        )
        assert float(got["value"]) == pytest.approx(row.value) and got["point_code"] == row.point_code
        assert got["published_on"] == "2026-11-30" and got["published_at"].startswith("2026-11-30T15:50")
        assert got["case_state"] == "" and got["trace_url"].endswith(f"/trace/{row.label_id}")
    assert day[0]["product_name"] == '小白菜, "特级"\n散装'  # quoted per RFC 4180 and read back intact
    assert list(day[0]) == documented_fields()

    december = _csv(client.get("/api/v1/open-data/results", params={"month": "2026-12", "format": "csv"}))
    assert [int(r["result_id"]) for r in december] == [r.id for r in expected(engine, "2026-12")] == [world["positive"]]
    assert december[0]["case_state"] == "screening_positive" and december[0]["published_on"] == "2026-12-01"
    november = _csv(client.get("/api/v1/open-data/results", params={"month": "2026-11", "format": "csv"}))
    assert [int(r["result_id"]) for r in november] == [r.id for r in expected(engine, "2026-11")]
    hidden = {world["hidden"], world["rejected"]}
    assert not hidden & {int(r["result_id"]) for r in november + december}
    assert all("tester" not in name and name != "raw" for name in november[0])


def documented_fields() -> list[str]:
    """The field names of the table under "## Fields" in docs/open-data.md, in order."""
    doc = (Path(__file__).parents[2] / "docs" / "open-data.md").read_text(encoding="utf-8")
    section = doc.split("\n## Fields\n", 1)[1].split("\n## ", 1)[0]
    return [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]


def test_json_follows_the_published_schema_and_matches_sql(
    world: dict[str, int], client: TestClient, engine: Engine
) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    for month, prefix in (("2026-11", "2026-11"), ("2026-12", "2026-12"), ("2026-10", "2026-10")):
        response = client.get("/api/v1/open-data/results", params={"month": month})
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
        document = response.json()
        validator.validate(document)
        want = expected(engine, prefix)
        assert [r["result_id"] for r in document["results"]] == [r.id for r in want]
        assert document["count"] == len(want) and document["period"] == {"kind": "month", "value": month}
        for got, row in zip(document["results"], want, strict=True):
            assert got["case_state"] == ("screening_positive" if row.cases else None)
            assert got["value"] == pytest.approx(row.value)
    day = client.get("/api/v1/open-data/results", params={"day": "2026-12-01", "district": "xq"}).json()
    validator.validate(day)
    assert [r["result_id"] for r in day["results"]] == [world["positive"]] and day["district"] == "XQ"
    broken = {**day, "results": [{**day["results"][0], "tester": "张三"}]}
    with pytest.raises(jsonschema.ValidationError):  # the schema is strict: it would catch a private field
        validator.validate(broken)


def test_chunked_reading_returns_every_record_once(world: dict[str, int], engine: Engine) -> None:
    with Session(engine) as session:
        chosen = open_data.period(session, day=None, month="2026-11")
    whole = [r["result_id"] for r in open_data.iter_records(engine, chosen)]
    one_by_one = [r["result_id"] for r in open_data.iter_records(engine, chosen, chunk=1)]
    assert whole == one_by_one == [world["tricky"], world["plain"]]


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2026-13"},
        {"month": "2026-1"},
        {"month": "1999-12"},
        {"month": "２０２６-11"},
        {"day": "2026-02-30"},
        {"day": "2100-01-01"},
        {"day": "2026-11-30", "month": "2026-11"},
        {},
        {"month": "2026-11", "format": "xml"},
    ],
)
def test_bad_periods_and_formats_are_refused_in_chinese(client: TestClient, params: dict[str, str]) -> None:
    response = client.get("/api/v1/open-data/results", params=params, headers=ZH)
    assert response.status_code == 422, response.text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json()["detail"]), response.json()


def test_unknown_district_and_too_many_downloads(client: TestClient) -> None:
    assert client.get("/api/v1/open-data/results", params={"month": "2026-11", "district": "ZZ"}).status_code == 404
    answers = [client.get("/api/v1/open-data/results", params={"month": "2026-11"}).status_code for _ in range(11)]
    assert answers == [200] * 10 + [429]
    refused = client.get("/api/v1/open-data/results", params={"month": "2026-11"}, headers=ZH)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert any("\u4e00" <= ch <= "\u9fff" for ch in refused.json()["detail"])


def test_the_command_writes_the_same_csv_as_the_api(
    world: dict[str, int], client: TestClient, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIMS_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    runner = CliRunner()
    out = tmp_path / "nov.csv"
    done = runner.invoke(lims, ["export", "open-data", "--month", "2026-11", "--format", "csv", "-o", str(out)])
    assert done.exit_code == 0, done.output
    api = client.get("/api/v1/open-data/results", params={"month": "2026-11", "format": "csv"}).content
    assert out.read_bytes() == api
    bad = runner.invoke(lims, ["export", "open-data", "--month", "2026-13", "-o", str(tmp_path / "x.csv")])
    assert bad.exit_code == 1 and "2026-13" in bad.stderr and not (tmp_path / "x.csv").exists()
