"""The vehicle console: register a sample (errors shown at the form, nothing typed lost, no default category) and
print its label, correct it, live results and held readings over SSE, held readings assigned or discarded."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from instrument_drivers.reading import Reading
from lims.models import AuditEvent, HeldReading
from lims.models.plans import UrgentTaskCreate
from lims.services.results import holding, ingest
from lims.services.samples import plans
from tests.core.helpers import NEGATIVE_OPC, POSITIVE_OPC, published_result, register, submit
from tests.security.races import audit_intact, one_wins, race, read_together
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


def _held(session: Session, sequence: int, judgement: str, label_id: str | None = None, **raw: Any) -> int:
    """Store an instrument reading that is held (unknown sample, or figures the method cannot judge)."""
    reading = Reading(
        instrument_serial="PR-8CH-0001",
        family="pesticide",
        sequence=sequence,
        item_code="OPC",
        channel=1,
        sample_label_id=label_id,
        raw=raw or {"control_dA": 0.6, "sample_dA": 0.18 if judgement == "positive" else 0.5},
        value=70.0 if judgement == "positive" else 10.0,
        judgement=judgement,
    )
    stored = ingest.store(session, reading)
    session.commit()
    assert stored.held_id is not None, stored
    return stored.held_id


def test_held_positives_are_highlighted_counted_and_shown_with_their_sample(
    app: Any, session: Session, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    sample = register(client, headers["tester"], product_name="油麦菜")
    unknown = _held(session, 51, "positive")
    negative = _held(session, 52, "negative")
    known = _held(session, 53, "positive", sample["label_id"], control_dA=0.6)  # a figure missing: held
    tester = sign_in(app, "tester")
    page = tester.get("/vehicle")
    summary = page.text.split("data-held-summary", 1)[1].split("</p>", 1)[0]
    assert "data-count-held>3<" in summary and "data-count-held-positives>2<" in summary  # at the top
    assert "样品未知" not in page.text.split('id="held"', 1)[0]
    section = page.text.split('id="held"', 1)[1]
    assert section.count("data-held-positive") == 2
    assert section.index(f'data-held="{known}"') < section.index(f'data-held="{negative}"')  # positives first
    shown = section.split(f'data-held="{known}"', 1)[1].split("</article>", 1)[0]
    assert sample["label_id"] in shown and "油麦菜" in shown and "样品未知" not in shown
    assert f'value="{sample["label_id"]}"' in shown  # the assign field starts with the sample the instrument named
    assert "样品未知" in section.split(f'data-held="{unknown}"', 1)[1].split("</article>", 1)[0]
    fragment = tester.get("/vehicle/held")  # what the page fetches when the stream says the queue changed
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert all(f'data-held="{h}"' in fragment.text for h in (unknown, negative, known))
    queue = _events(tester, "/vehicle/events?seconds=1", kind="held")
    assert queue and queue[0]["count"] == 3 and queue[0]["positives"] == 2
    assert sorted(queue[0]["ids"]) == sorted([unknown, negative, known])
    english = tester.get("/vehicle?lang=en").text
    assert "Held readings" in english and "suspected positive" in english and "Sample unknown" in english


def test_a_held_reading_is_discarded_with_a_reason_and_audited(
    app: Any, session: Session, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    held_id = _held(session, 61, "positive")
    tester = sign_in(app, "tester")
    url = f"/vehicle/held/{held_id}/discard"
    page = tester.get("/vehicle")
    assert f'action="{url}#held-{held_id}"' in page.text and f'id="held-{held_id}"' in page.text
    short = post_form(tester, "/vehicle", url, {"reason": "x"})
    assert short.status_code == 422 and "原因" in short.text
    kept = short.text.split(f'data-held="{held_id}"', 1)[1].split("</article>", 1)[0]
    assert "data-form-error" in kept and 'value="x"' in kept and '<details class="discard" open' in kept
    done = post_form(tester, "/vehicle", url, {"reason": "空白对照误测"})
    assert done.status_code == 303 and done.headers["location"] == "/vehicle?discarded=1#held"
    after = tester.get(done.headers["location"])
    assert f'data-held="{held_id}"' not in after.text and "读数已作废" in after.text
    session.expire_all()
    assert holding.pending(session, actor_of(session, "tester")) == []
    row = session.get(HeldReading, held_id)
    assert row is not None and row.reading["discarded"]["reason"] == "空白对照误测"
    assert row.reading["raw"] == {"control_dA": 0.6, "sample_dA": 0.18}  # the reading itself is kept
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "discard")).all()
    assert len(events) == 1
    again = post_form(tester, "/vehicle", url, {"reason": "再次作废"})
    assert again.status_code == 409 and "已作废" in again.text
    sample = register(client, headers["tester"])
    assign = post_form(tester, "/vehicle", f"/vehicle/held/{held_id}/assign", {"label_id": sample["label_id"]})
    assert assign.status_code == 409 and "空白对照误测" in assign.text
    reviewer = sign_in(app, "reviewer")
    assert post_form(reviewer, "/warnings", url, {"reason": "审核员作废"}).status_code == 403


@pytest.mark.parametrize("second", ["discard", "assign"])
def test_two_testers_act_on_one_held_reading_at_the_same_moment(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    second: str,
) -> None:
    with Session(engine) as session:
        held_id = _held(session, 71, "positive")
        tester, tester2 = actor_of(session, "tester"), actor_of(session, "tester2")
    label_id = register(client, headers["tester"])["label_id"]

    def other(s: Session) -> Any:
        if second == "discard":
            return holding.discard(s, tester2, held_id, "试纸条污染")
        return holding.assign(s, tester2, held_id, label_id)

    with read_together(monkeypatch, 2):
        outcomes = race(engine, [lambda s: holding.discard(s, tester, held_id, "空白对照误测"), other])
    one_wins(outcomes)
    with Session(engine) as session:
        row = session.get(HeldReading, held_id)
        assert row is not None
        assert (row.assigned_result_id is None) != (holding.discarded(row) is None)  # exactly one of the two
    audit_intact(engine)


def test_a_form_error_is_shown_at_the_form_with_what_was_typed(app: Any) -> None:
    tester = sign_in(app, "tester")
    page = tester.get("/vehicle")
    assert 'action="/vehicle/samples#register"' in page.text  # a refused form comes back scrolled to itself
    register_form = page.text.split('id="register"', 1)[1].split("</form>", 1)[0]
    category = register_form.split('name="category_code"', 1)[1].split("</select>", 1)[0]
    assert category.startswith(' required><option value="">请选择…</option>') and "selected" not in category
    point = register_form.split('name="point_code"', 1)[1].split("</select>", 1)[0]
    assert point.startswith(' required><option value="">请选择…</option>') and "selected" not in point
    typed = {
        **SAMPLE_FORM,
        "category_code": "",
        "vendor": "城东农贸市场李记蔬菜",
        "stall": "B-12",
        "brand": "李记",
        "batch": "20261202",
    }
    refused = post_form(tester, "/vehicle", "/vehicle/samples", typed)
    assert refused.status_code in (404, 422)
    form = refused.text.split('id="register"', 1)[1].split("</form>", 1)[0]
    assert "data-form-error" in form and 'role="alert"' in form
    for value in ("生菜", "城东农贸市场李记蔬菜", "B-12", "李记", "20261202", "6901234567892"):
        assert f'value="{value}"' in form, value
    assert 'value="P05" selected' in form
    done = post_form(tester, "/vehicle", "/vehicle/samples", {**typed, "category_code": "VEG_LEAF"})
    assert done.status_code == 303
    following = tester.get(done.headers["location"]).text.split('id="register"', 1)[1].split("</form>", 1)[0]
    category = following.split('name="category_code"', 1)[1].split("</select>", 1)[0]
    assert "selected" not in category  # the next sample's category is chosen for it, never carried over
    assert 'value="P05" selected' in following  # the point is
    later = tester.get("/vehicle").text.split('id="register"', 1)[1].split("</form>", 1)[0]
    assert 'value="P05" selected' in later  # where the tester last sampled today, until another point is chosen


def test_stall_and_business_are_registered_and_shown_on_the_sample_card(app: Any, client: TestClient) -> None:
    tester = sign_in(app, "tester")
    form = {**SAMPLE_FORM, "vendor": "城东农贸市场李记蔬菜", "stall": "B-12"}
    done = post_form(tester, "/vehicle", "/vehicle/samples", form)
    label_id = done.headers["location"].split("registered=", 1)[1].split("#", 1)[0]
    page = tester.get("/vehicle")
    card = page.text.split(f'data-sample="{label_id}"', 1)[1].split("</li>", 1)[0]
    assert "被检单位" in card and "城东农贸市场李记蔬菜" in card and "摊位" in card and "B-12" in card
    assert card.index(label_id) < card.index("生菜")  # the label id first
    too_long = post_form(tester, "/vehicle", "/vehicle/samples", {**SAMPLE_FORM, "stall": "摊" * 65})
    assert too_long.status_code == 422  # bounded


def test_a_registered_sample_is_corrected_from_the_console(
    app: Any, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    tester = sign_in(app, "tester")
    done = post_form(tester, "/vehicle", "/vehicle/samples", {**SAMPLE_FORM, "stall": "B-12"})
    label_id = done.headers["location"].split("registered=", 1)[1].split("#", 1)[0]
    page = tester.get("/vehicle")
    assert f'href="/vehicle?correct={label_id}#correct"' in page.text
    chosen = tester.get(f"/vehicle?correct={label_id}")
    form = chosen.text.split('id="correct"', 1)[1].split("</form>", 1)[0]
    assert f'action="/vehicle/samples/{label_id}/correction#correct"' in form
    assert 'value="生菜"' in form and 'value="B-12"' in form and 'value="VEG_LEAF" selected' in form
    url = f"/vehicle/samples/{label_id}/correction"
    changed = {**SAMPLE_FORM, "product_name": "油麦菜", "stall": "B-14"}
    no_reason = post_form(tester, "/vehicle", url, changed)
    assert no_reason.status_code == 422
    kept = no_reason.text.split('id="correct"', 1)[1].split("</form>", 1)[0]
    assert "data-form-error" in kept and 'value="油麦菜"' in kept and 'value="B-14"' in kept
    fixed = post_form(tester, "/vehicle", url, {**changed, "reason": "品名登记错误"})
    assert fixed.status_code == 303 and "#samples" in fixed.headers["location"]
    after = tester.get(fixed.headers["location"])
    assert "更正已记录" in after.text
    card = after.text.split(f'data-sample="{label_id}"', 1)[1].split("</li>", 1)[0]
    assert "油麦菜" in card and "B-14" in card
    versions = client.get(f"/api/v1/samples/{label_id}/versions", headers=headers["tester"]).json()
    assert [v["version"] for v in versions] == [1, 2] and versions[1]["reason"] == "品名登记错误"
    assert versions[0]["data"]["product_name"] == "生菜"  # the earlier version stays readable
    same = post_form(tester, "/vehicle", url, {**changed, "reason": "再次提交"})
    assert same.status_code == 409 and 'value="油麦菜"' in same.text
    assert post_form(tester, "/vehicle", "/vehicle/samples/XQ0000000000/correction", changed).status_code == 404


def test_a_correction_after_publication_waits_for_a_reviewer(
    app: Any, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    result = published_result(client, headers)
    label_id = result["sample_label_id"]
    tester = sign_in(app, "tester")
    url = f"/vehicle/samples/{label_id}/correction"
    fixed = post_form(tester, "/vehicle", url, {**SAMPLE_FORM, "product_name": "小油菜", "reason": "品名登记错误"})
    assert fixed.status_code == 303 and "review=1" in fixed.headers["location"]
    page = tester.get(fixed.headers["location"])
    assert "须经审核员批准后生效" in page.text
    card = page.text.split(f'data-sample="{label_id}"', 1)[1].split("</li>", 1)[0]
    assert "data-pending-correction" in card and "data-correct-link" not in card


def test_photo_fallback_for_browsers_without_camera_scanning(app: Any) -> None:
    page = sign_in(app, "tester").get("/vehicle").text
    photo = page.split("data-photo-scan", 1)[1].split("</div>", 1)[0]
    assert 'type="file" accept="image/*" capture="environment"' in photo and 'data-fill="#gtin"' in photo
    assert "<progress" in photo and "拍照识别条码" in photo
    script = TestClient(app).get("/static/scan.js").text
    assert "LONG_SIDE = 1600" in script and '"/api/v1/scan"' in script and "image/jpeg" in script
    assert "upload.onprogress" in script and "BarcodeDetector" in script


def test_phone_layout_and_target_sizes(app: Any, client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    sample = register(client, headers["tester"])
    submit(client, headers["tester"], sample["label_id"], NEGATIVE_OPC)
    page = sign_in(app, "tester").get("/vehicle").text
    assert '<link rel="stylesheet" href="/static/vehicle.css">' in page
    row = page.split("data-live-rows", 1)[1].split("</tr>", 1)[0]
    assert row.split("<td", 2)[1].startswith(' class="label-cell"') and sample["label_id"] in row  # label id first
    css = TestClient(app).get("/static/vehicle.css").text
    assert "min-height:24px" in css and ".cards-on-phone" in css
