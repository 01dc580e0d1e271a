"""The vehicle console: register a sample and print its label, live results over SSE, held readings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import time_machine
from fastapi.testclient import TestClient
from sqlmodel import Session

from instrument_drivers.reading import Reading
from lims.models.plans import UrgentTaskCreate
from lims.services.results import holding, ingest
from lims.services.samples import plans
from tests.core.helpers import NEGATIVE_OPC, POSITIVE_OPC, register, submit
from tests.web.helpers import actor_of, post_form, sign_in

SAMPLE_FORM = {"point_code": "P05", "product_name": "生菜", "category_code": "VEG_LEAF", "gtin": "6901234567892"}


def test_register_and_print_label(app: Any) -> None:
    tester = sign_in(app, "tester")
    response = post_form(tester, "/vehicle", "/vehicle/samples", SAMPLE_FORM)
    assert response.status_code == 303
    label_id = response.headers["location"].split("registered=", 1)[1].split("#", 1)[0]
    page = tester.get(response.headers["location"])
    assert "已登记样品" in page.text and f"/vehicle/label/{label_id}" in page.text and "生菜" in page.text
    label = tester.get(f"/vehicle/label/{label_id}")
    assert label.status_code == 200
    assert "<svg" in label.text and f"/s/{label_id}?t=" in label.text
    pdf = tester.get(f"/vehicle/label/{label_id}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    png = tester.get(f"/vehicle/label/{label_id}.png")
    assert png.headers["content-type"] == "image/png"
    from barcodes.decode import decode

    texts = {d.text for d in decode(png.content)}
    assert label_id in texts  # the Code 128 of the label id
    assert any(t.startswith("http") and f"/s/{label_id}?t=" in t for t in texts)  # the signed link in the QR
    assert "^XA" in tester.get(f"/vehicle/label/{label_id}.zpl").text
    assert tester.get(f"/vehicle/label/{label_id}.doc").status_code == 422
    assert tester.get("/vehicle/label/XQ0000000000").status_code == 404


def test_register_accepts_a_scanned_gs1_code_and_reports_bad_input(app: Any) -> None:
    tester = sign_in(app, "tester")
    scanned = post_form(tester, "/vehicle", "/vehicle/samples", {**SAMPLE_FORM, "gtin": "(01)06901234567892(10)A1"})
    assert scanned.status_code == 303
    bad_gtin = post_form(tester, "/vehicle", "/vehicle/samples", {**SAMPLE_FORM, "gtin": "6901234567891"})
    assert bad_gtin.status_code == 422 and "校验码错误" in bad_gtin.text and 'value="生菜"' in bad_gtin.text
    no_name = post_form(tester, "/vehicle", "/vehicle/samples", {**SAMPLE_FORM, "product_name": ""})
    assert no_name.status_code == 422 and "product_name" in no_name.text
    bad_point = post_form(tester, "/vehicle", "/vehicle/samples", {**SAMPLE_FORM, "point_code": "P99"})
    assert bad_point.status_code == 422 and "未知抽样点" in bad_point.text  # the page is Chinese first


def _events(client: TestClient, url: str, kind: str = "result", **headers: str) -> list[dict[str, Any]]:
    """The events of one kind ("result" or "held") a stream sends."""
    found = []
    with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event_id, event = None, "message"
        for line in response.iter_lines():
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                if event == kind:
                    found.append({"id": event_id, **json.loads(line[6:])})
                event_id, event = None, "message"
    return found


def test_results_arrive_over_server_sent_events(
    app: Any, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    sample = register(client, headers["tester"])
    first = submit(client, headers["tester"], sample["label_id"], NEGATIVE_OPC)
    second = submit(client, headers["tester2"], register(client, headers["tester"])["label_id"], POSITIVE_OPC)
    tester = sign_in(app, "tester")
    events = _events(tester, "/vehicle/events?seconds=1&after=0")
    assert [e["id"] for e in events] == [first["id"], second["id"]]
    assert events[1]["judgement"] == "positive" and events[1]["judgement_text"] == "疑似阳性"
    assert events[0]["label"] == sample["label_id"]
    resumed = _events(tester, "/vehicle/events?seconds=1&after=0", **{"Last-Event-ID": str(first["id"])})
    assert [e["id"] for e in resumed] == [second["id"]]
    page = tester.get("/vehicle")
    assert f'data-events="/vehicle/events?after={second["id"]}"' in page.text


def test_held_reading_is_shown_and_assigned(
    app: Any, session: Session, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    reading = Reading(
        instrument_serial="PR-8CH-0001",
        family="pesticide",
        sequence=41,
        item_code="OPC",
        channel=3,
        sample_label_id=None,
        raw={"control_dA": 0.6, "sample_dA": 0.18},
        value=70.0,
        judgement="positive",
    )
    stored = ingest.store(session, reading)
    session.commit()
    assert stored.held_id is not None
    sample = register(client, headers["tester"])
    tester = sign_in(app, "tester")
    page = tester.get("/vehicle")
    assert f'data-held="{stored.held_id}"' in page.text and "PR-8CH-0001 #41" in page.text
    wrong = post_form(tester, "/vehicle", f"/vehicle/held/{stored.held_id}/assign", {"label_id": "XQ0000000000"})
    assert wrong.status_code == 422 and "没有样品" in wrong.text  # the page is Chinese first
    done = post_form(tester, "/vehicle", f"/vehicle/held/{stored.held_id}/assign", {"label_id": sample["label_id"]})
    assert done.status_code == 303
    results = client.get("/api/v1/results", headers=headers["reviewer"]).json()
    assigned = [r for r in results if r["sample_label_id"] == sample["label_id"]]
    assert len(assigned) == 1 and assigned[0]["judgement"] == "positive" and assigned[0]["status"] == "tested"
    assert assigned[0]["instrument_serial"] == "PR-8CH-0001" and assigned[0]["instrument_judgement"] == "positive"
    again = post_form(tester, "/vehicle", f"/vehicle/held/{stored.held_id}/assign", {"label_id": sample["label_id"]})
    assert again.status_code == 409
    session.expire_all()
    assert holding.pending(session, actor_of(session, "tester")) == []


def test_day_sheet_tasks_and_registering_against_one(
    app: Any, session: Session, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    tester_actor = actor_of(session, "tester")
    task = plans.create_urgent(
        session,
        tester_actor,
        UrgentTaskCreate(point_code="P05", complaint="顾客投诉青菜有异味", category_code="VEG_LEAF"),
    )
    session.commit()
    tester = sign_in(app, "tester")
    page = tester.get("/vehicle")
    assert f'data-task="T{task.id}"' in page.text and "紧急投诉检测" in page.text and "0/1" in page.text
    chosen = tester.get(f"/vehicle?task=T{task.id}")
    assert f'value="T{task.id}" data-point="P05" data-category="VEG_LEAF" selected' in chosen.text
    registered = post_form(tester, "/vehicle", "/vehicle/samples", {**SAMPLE_FORM, "task_ref": f"T{task.id}"})
    assert registered.status_code == 303
    after = tester.get("/vehicle?lang=en")
    assert "1/1" in after.text and "Today&#39;s samples (1)" in after.text
    wrong_point = post_form(
        tester, "/vehicle", "/vehicle/samples", {**SAMPLE_FORM, "point_code": "P02", "task_ref": f"T{task.id}"}
    )
    assert wrong_point.status_code == 422 and "another sampling point" in wrong_point.text
    assert post_form(tester, "/vehicle", f"/vehicle/tasks/{task.id}/arrived").status_code == 303
    assert "1/1 ✓" in tester.get("/vehicle").text  # an urgent task is done once the vehicle is on site
    again = post_form(tester, "/vehicle", f"/vehicle/tasks/{task.id}/arrived")
    assert again.status_code == 409 and "already marked as reached" in again.text


# 09:30 in Beijing on a working day: the plan's month is one the holiday calendar knows whenever the suite runs.
@time_machine.travel(datetime(2026, 12, 2, 1, 30, tzinfo=UTC), tick=False)
def test_generated_plan_shows_on_the_day_sheet(app: Any, session: Session) -> None:
    admin = actor_of(session, "admin")
    today = plans.today(session, actor_of(session, "tester"))  # the district's date, not UTC's
    plans.generate(session, admin, plans.load(), f"{today:%Y-%m}", today=today)
    session.commit()
    sheet = plans.day_sheet(session, actor_of(session, "tester"), today)
    page = sign_in(app, "tester").get("/vehicle")
    assert page.status_code == 200
    for task in sheet:
        assert f'data-task="T{task.id}"' in page.text
    if not sheet:
        assert "今日没有计划任务" in page.text
