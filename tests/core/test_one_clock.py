"""One clock: at 01:30 Beijing time on the 1st of a month (17:30 UTC the day before) every date is the local one.

The clock is frozen there; label ids, the vehicle's day sheet, kit and calibration expiry, hotspot months and
date filters are checked through the real API and pages. A district in another zone proves the zone is data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from lims.cli.main import app as lims
from lims.models import District, Instrument, KitLot, PlanTask, TestItem, User
from lims.services.access import auth
from lims.services.core import clock, dates
from lims.services.core.audit import SYSTEM
from lims.services.core.errors import Invalid
from lims.services.public import hotspots
from lims.services.reference import reference_data
from lims.services.samples import plans
from lims.settings import get_settings
from tests.conftest import PASSWORD
from tests.core.helpers import act, register, submit
from tests.web.helpers import sign_in

# 2026-12-01 01:30 in Beijing: still 30 November in UTC, and still November in UTC months.
FROZEN = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)
LOCAL_DAY = date(2026, 12, 1)
UTC_DAY = date(2026, 11, 30)


@pytest.fixture
def frozen() -> Iterator[None]:
    """The clock stopped at 01:30 Beijing time on 1 December 2026."""
    with time_machine.travel(FROZEN, tick=False):
        yield


def _headers(engine: Engine, *names: str) -> dict[str, dict[str, str]]:
    """Tokens issued at the frozen time (a token issued at the real time may be expired or not yet valid)."""
    with Session(engine) as session:
        users = {u.username: u for u in session.exec(select(User).where(col(User.username).in_(names)))}
        tokens = {name: auth.issue_token(session, user) for name, user in users.items()}
        session.commit()
    return {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}


def test_clock_reads_the_frozen_time_and_the_local_day(frozen: None) -> None:
    assert clock.now() == FROZEN
    assert clock.local_today() == LOCAL_DAY
    assert clock.day_bounds(LOCAL_DAY) == (
        datetime(2026, 11, 30, 16, tzinfo=UTC),
        datetime(2026, 12, 1, 16, tzinfo=UTC),
    )
    assert clock.month_bounds(2026, 12) == (
        datetime(2026, 11, 30, 16, tzinfo=UTC),
        datetime(2026, 12, 31, 16, tzinfo=UTC),
    )
    assert clock.this_month() == (2026, 12)
    assert clock.last_days(7) == (datetime(2026, 11, 24, 16, tzinfo=UTC), datetime(2026, 12, 1, 16, tzinfo=UTC))


def test_label_id_is_dated_with_the_local_day(frozen: None, client: TestClient, engine: Engine) -> None:
    h = _headers(engine, "tester")
    sample = register(client, h["tester"])
    assert sample["label_id"][2:8] == "261201"


def test_vehicle_page_and_day_sheet_default_to_the_local_day(
    frozen: None, app: Any, client: TestClient, engine: Engine
) -> None:
    with Session(engine) as session:
        plans.generate(session, SYSTEM, plans.load(), "2026-12")
        plans.generate(session, SYSTEM, plans.load(), "2026-11")
        session.commit()
        local_tasks = {f"T{t.id}" for t in session.exec(select(PlanTask).where(PlanTask.day == LOCAL_DAY))}
        utc_tasks = {f"T{t.id}" for t in session.exec(select(PlanTask).where(PlanTask.day == UTC_DAY))}
    assert local_tasks and utc_tasks  # both are working days with visits: the default decides which shows
    h = _headers(engine, "tester")
    sheet = client.get("/api/v1/day-sheet", headers=h["tester"])
    assert sheet.status_code == 200, sheet.text
    assert {t["day"] for t in sheet.json() if not t["carried_from"]} == {LOCAL_DAY.isoformat()}
    assert {f"T{t['id']}" for t in sheet.json()} >= local_tasks
    page = sign_in(app, "tester").get("/vehicle")
    assert page.status_code == 200
    shown = set(re.findall(r'data-task="(T\d+)"', page.text))
    assert local_tasks <= shown and not shown & utc_tasks


def test_kit_and_calibration_are_valid_all_of_their_last_local_day(
    frozen: None, client: TestClient, engine: Engine
) -> None:
    with Session(engine) as session:
        opc = session.exec(select(TestItem).where(TestItem.code == "OPC")).one()
        session.add(KitLot(item_id=int(opc.id or 0), lot="OPC-LAST-DAY", expires_on=LOCAL_DAY))
        session.add(KitLot(item_id=int(opc.id or 0), lot="OPC-DAY-BEFORE", expires_on=UTC_DAY))
        instrument = session.exec(select(Instrument).where(Instrument.serial == "PR-8CH-0001")).one()
        instrument.calibration_due = LOCAL_DAY
        session.add(instrument)
        session.commit()
    h = _headers(engine, "tester")
    label = register(client, h["tester"])["label_id"]
    valid = submit(client, h["tester"], label, kit_lot="OPC-LAST-DAY", instrument_serial="PR-8CH-0001")
    assert valid["judgement"] == "negative" and valid["reason_code"] == "inhibition_below_threshold"
    expired = submit(client, h["tester"], register(client, h["tester"])["label_id"], kit_lot="OPC-DAY-BEFORE")
    # a kit used the day after its expiry makes the result invalid, not a flag to wave through
    assert expired["judgement"] == "invalid" and expired["reason_code"] == "kit_lot_expired"
    assert expired["reason_params"] == {
        "lot": "OPC-DAY-BEFORE",
        "expires_on": str(UTC_DAY),
        "tested_on": str(LOCAL_DAY),
    }
    assert expired["value"] is None and "kit_lot_expired" not in expired["flags"]
    with Session(engine) as session:
        instrument = session.exec(select(Instrument).where(Instrument.serial == "PR-8CH-0001")).one()
        instrument.calibration_due = UTC_DAY
        session.add(instrument)
        session.commit()
    overdue = submit(client, h["tester"], register(client, h["tester"])["label_id"], instrument_serial="PR-8CH-0001")
    assert overdue["judgement"] == "invalid" and overdue["reason_code"] == "calibration_overdue"
    assert overdue["raw"]["details"]["judged_before_invalid"] == "negative"


def test_hotspot_month_and_date_filters_count_the_local_day(frozen: None, client: TestClient, engine: Engine) -> None:
    h = _headers(engine, "tester", "reviewer", "station")
    result = submit(client, h["tester"], register(client, h["tester"])["label_id"])
    assert act(client, h["reviewer"], result["id"], "approve").status_code == 200
    assert act(client, h["reviewer"], result["id"], "publish").status_code == 200
    with Session(engine) as session:
        reviewer = auth.actor_for(session.exec(select(User).where(User.username == "reviewer")).one())
        station = auth.actor_for(session.exec(select(User).where(User.username == "station")).one())
        for actor in (reviewer, station):
            spots = hotspots.positive_rates(session, actor, date_from="2026-12-01", date_to="2026-12-01")
            assert [r.key for r in spots.by["month"]] == ["2026-12"] and spots.tested == 1
            year, month = clock.this_month()
            assert hotspots.positive_rates(session, actor, date_from=f"{year}-{month:02d}-01").tested == 1
            assert hotspots.positive_rates(session, actor, date_to="2026-11-30").tested == 0
    found = client.get("/api/v1/results?date_from=2026-12-01&date_to=2026-12-01", headers=h["reviewer"])
    assert [r["id"] for r in found.json()] == [result["id"]]
    before = client.get("/api/v1/results?date_from=2026-11-30&date_to=2026-11-30", headers=h["reviewer"])
    assert before.json() == []
    shared = client.get("/api/v1/results?date_from=2026-12-01&date_to=2026-12-01", headers=h["station"])
    assert [r["id"] for r in shared.json()] == [result["id"]]
    samples = client.get("/api/v1/samples?day=2026-12-01", headers=h["tester"])
    assert [s["label_id"] for s in samples.json()] == [result["sample_label_id"]]
    assert client.get("/api/v1/samples?day=2026-11-30", headers=h["tester"]).json() == []


def test_one_date_filter_parser_names_the_field() -> None:
    tz = clock.zone("Asia/Shanghai")
    window = dates.window("2026-12-01", "2026-12-02", tz)
    assert (window.start, window.end) == (datetime(2026, 11, 30, 16, tzinfo=UTC), datetime(2026, 12, 2, 16, tzinfo=UTC))
    assert dates.window(None, "", tz) == dates.Window()
    for args, field in ((("2026-13-01", None), "date_from"), ((None, "1999-12-31"), "date_to")):
        with pytest.raises(Invalid, match=field):
            dates.window(*args, tz)
    with pytest.raises(Invalid, match="before"):
        dates.window("2026-12-02", "2026-12-01", tz)


def test_bad_date_filters_are_clear_400s(frozen: None, client: TestClient, engine: Engine) -> None:
    h = _headers(engine, "reviewer")
    for query, field in (("date_from=2026-02-30", "date_from"), ("date_to=9999-01-01", "date_to")):
        response = client.get(f"/api/v1/results?{query}", headers=h["reviewer"])
        assert response.status_code in (400, 422), response.text
        assert field in response.text


BERLIN = """
district: {code: ZB, name: z区, name_en: z District (Berlin time), time_zone: Europe/Berlin}
stations:
  - {code: ST00, level: provincial, kind: shopping_centre, name: z区站, name_en: z station}
points:
  - {code: P05, station: ST00, area: urban, kind: supermarket, name: z区超市, name_en: z supermarket}
"""


def _district_folder(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "ref"
    (folder / "districts").mkdir(parents=True)
    (folder / "districts" / "zb.yaml").write_text(text, encoding="utf-8")
    return folder


def test_the_zone_is_district_data(frozen: None, client: TestClient, engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as session:
        reference_data.load_reference(session, SYSTEM, _district_folder(tmp_path, BERLIN))
        auth.add_user(session, SYSTEM, "zb_tester", "tester", PASSWORD, district_code="ZB")
        session.commit()
        berlin = session.exec(select(District).where(District.code == "ZB")).one()
        shipped = session.exec(select(District).where(District.code == "XQ")).one()
        assert (berlin.time_zone, shipped.time_zone) == ("Europe/Berlin", "Asia/Shanghai")
    h = _headers(engine, "zb_tester", "tester")
    # 17:30 UTC is 18:30 on 30 November in Berlin, 01:30 on 1 December in Beijing.
    assert register(client, h["zb_tester"])["label_id"][:8] == "ZB261130"
    assert register(client, h["tester"])["label_id"][:8] == "XQ261201"
    sheet = client.get("/api/v1/day-sheet", headers=h["zb_tester"])
    assert sheet.status_code == 200 and sheet.json() == []
    with Session(engine) as session:
        zb = session.exec(select(User).where(User.username == "zb_tester")).one()
        assert plans.today(session, auth.actor_for(zb)) == UTC_DAY
    # Berlin keeps summer time: its July day is 22 hours UTC the day before to 22 hours UTC.
    assert clock.day_bounds(date(2026, 7, 1), "Europe/Berlin") == (
        datetime(2026, 6, 30, 22, tzinfo=UTC),
        datetime(2026, 7, 1, 22, tzinfo=UTC),
    )


def test_an_unknown_zone_is_refused_with_the_file_and_field(engine: Engine, tmp_path: Path) -> None:
    folder = _district_folder(tmp_path, BERLIN.replace("Europe/Berlin", "Mars/Olympus_Mons"))
    with Session(engine) as session, pytest.raises(Invalid, match=r"zb.yaml.*time_zone.*Mars/Olympus_Mons"):
        reference_data.load_reference(session, SYSTEM, folder)


def test_cli_day_sheet_and_progress_default_to_the_local_day_and_month(
    frozen: None, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIMS_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(lims, ["plan", "generate", "--month", "2026-12"]).exit_code == 0
    assert runner.invoke(lims, ["plan", "generate", "--month", "2026-11"]).exit_code == 0
    sheet = runner.invoke(lims, ["plan", "day", "--json"])
    assert sheet.exit_code == 0, sheet.output
    assert {t["day"] for t in json.loads(sheet.stdout)} == {LOCAL_DAY.isoformat()}
    other = runner.invoke(lims, ["plan", "day", "--day", "2026-11-30", "--json"])
    assert {t["day"] for t in json.loads(other.stdout) if not t["carried_from"]} == {UTC_DAY.isoformat()}
    bad = runner.invoke(lims, ["plan", "day", "--day", "2026-11-31"])
    assert bad.exit_code == 1 and "day" in bad.output
    progress = runner.invoke(lims, ["plan", "progress", "--json"])
    assert progress.exit_code == 0, progress.output
    # December, the local month: nothing overdue yet (in November every visit would be overdue by now).
    assert json.loads(progress.stdout)["progress"] and json.loads(progress.stdout)["overdue"] == []
    get_settings.cache_clear()
