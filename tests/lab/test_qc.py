"""Quality control that holds results: control runs, holds and releases, Westgard on spectro standards, blind
samples, method verification, the Levey-Jennings chart."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.models import KitLot
from lims.models.qc import ControlRun as ControlRunModel
from lims.services.lab import verification
from tests.core.helpers import act, register

Headers = dict[str, dict[str, str]]
CLB_LOT = "CLB-2611A"
GOLD_NEGATIVE = {"t": 1.00, "c": 1.00}  # T/C 1.00 ≥ cut-off 0.90
GOLD_POSITIVE = {"t": 0.30, "c": 1.00}  # T/C 0.30 < 0.90
# nitrite: curve A = 0.47 × c (mg/L); established mean 1.2 mg/L, SD 0.05 (reference/qc.yaml)
STANDARD_AT = {1.2: 0.564, 1.31: 0.6157, 1.38: 0.6486, 1.5: 0.705}


def control(client: TestClient, h: Headers, kind: str, raw: dict[str, float], **extra: Any) -> dict[str, Any]:
    body = {"item_code": "CLB", "kit_lot": CLB_LOT, "kind": kind, "raw": raw, **extra}
    response = client.post("/api/v1/qc/controls", json=body, headers=h["tester"])
    assert response.status_code == 201, response.text
    return dict(response.json())


def gold_result(
    client: TestClient, h: Headers, raw: dict[str, float] = GOLD_NEGATIVE, lot: str = CLB_LOT
) -> dict[str, Any]:
    sample = register(client, h["tester"], product_name="猪肉", category_code="PORK")
    body = {"sample_label_id": sample["label_id"], "item_code": "CLB", "raw": raw, "kit_lot": lot}
    response = client.post("/api/v1/results", json=body, headers=h["tester"])
    assert response.status_code == 201, response.text
    return dict(response.json())


def result(client: TestClient, h: Headers, result_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/results/{result_id}", headers=h["reviewer"])
    assert response.status_code == 200, response.text
    return dict(response.json())


def spectro_standard(client: TestClient, h: Headers, conc: float) -> dict[str, Any]:
    body = {"item_code": "NO2", "kind": "standard", "raw": {"absorbance": STANDARD_AT[conc], "blank": 0.0}}
    response = client.post("/api/v1/qc/controls", json=body, headers=h["tester"])
    assert response.status_code == 201, response.text
    return dict(response.json())


def nitrite_result(client: TestClient, h: Headers) -> dict[str, Any]:
    sample = register(client, h["tester"], product_name="腊肉", category_code="CURED_MEAT")
    raw = {"absorbance": 0.10, "blank": 0.01, "dilution": 1.0, "mass_g": 5.0}
    body = {"sample_label_id": sample["label_id"], "item_code": "NO2", "raw": raw}
    response = client.post("/api/v1/results", json=body, headers=h["tester"])
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_failed_positive_control_holds_the_lots_results_of_the_day_and_a_passing_one_releases_them(
    client: TestClient, headers: Headers
) -> None:
    h = headers
    first = gold_result(client, h)
    second = gold_result(client, h, GOLD_POSITIVE)
    assert control(client, h, "negative", GOLD_NEGATIVE)["passed"] is True
    failed = control(client, h, "positive", GOLD_NEGATIVE)  # the positive card read negative: the lot fails
    assert failed["passed"] is False and failed["reason_code"] == "qc_outcome_unexpected"

    for held in (first, second):
        shown = result(client, h, held["id"])
        assert shown["qc_hold"] == "control_failed" and shown["qc_hold_kinds"] == ["positive"]
        refused = act(client, h["reviewer"], held["id"], "approve", acknowledge_flags=True)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "qc.control_failed"
    zh = client.post(f"/api/v1/results/{first['id']}/approve", headers={**h["reviewer"], "Accept-Language": "zh"})
    assert "质控" in zh.json()["detail"] and "阳性质控" in zh.json()["detail"], zh.json()
    status = client.get("/api/v1/qc/status", params={"item": "CLB", "lot": CLB_LOT}, headers=h["reviewer"]).json()
    assert status["failed"] == ["positive"] and status["hold"] == "control_failed" and status["held_results"] == 2

    assert control(client, h, "positive", GOLD_POSITIVE)["passed"] is True  # repeated: it passes
    assert result(client, h, first["id"])["qc_hold"] is None
    assert act(client, h["reviewer"], first["id"], "approve").status_code == 200
    assert act(client, h["reviewer"], first["id"], "publish").status_code == 200
    status = client.get("/api/v1/qc/status", params={"item": "CLB", "lot": CLB_LOT}, headers=h["reviewer"]).json()
    assert status["hold"] is None and status["passed"] == ["negative", "positive"]


def test_a_reviewer_may_still_reject_a_held_result_with_a_reason(client: TestClient, headers: Headers) -> None:
    h = headers
    held = gold_result(client, h)
    control(client, h, "positive", GOLD_NEGATIVE)
    assert act(client, h["reviewer"], held["id"], "reject").status_code in (400, 422)  # a rejection needs a reason
    response = act(client, h["reviewer"], held["id"], "reject", reason="positive control card failed")
    assert response.status_code == 200 and response.json()["status"] == "rejected"


def test_a_missing_control_holds_once_the_item_is_under_quality_control(client: TestClient, headers: Headers) -> None:
    h = headers
    before = gold_result(client, h)
    assert result(client, h, before["id"])["qc_hold"] is None  # no control of the item recorded yet: not started
    control(client, h, "negative", GOLD_NEGATIVE)
    shown = result(client, h, before["id"])
    assert shown["qc_hold"] == "control_missing" and shown["qc_hold_kinds"] == ["positive"]
    refused = act(client, h["reviewer"], before["id"], "approve")
    assert refused.status_code == 409 and refused.json()["code"] == "qc.control_missing"
    control(client, h, "positive", GOLD_POSITIVE)
    assert act(client, h["reviewer"], before["id"], "approve").status_code == 200


def test_a_westgard_1_3s_violation_on_a_spectro_standard_holds_its_batch(client: TestClient, headers: Headers) -> None:
    h = headers
    batch = [nitrite_result(client, h), nitrite_result(client, h)]
    blank = client.post(
        "/api/v1/qc/controls",
        json={"item_code": "NO2", "kind": "blank", "raw": {"absorbance": 0.012}},
        headers=h["tester"],
    )
    assert blank.status_code == 201 and blank.json()["passed"] is True, blank.text
    bad = spectro_standard(client, h, 1.38)  # recovery 115 %: within 80–120 %, but 3.6 SD above the mean
    assert bad["recovery_pct"] == pytest.approx(115.0, abs=0.1)
    assert bad["passed"] is False and "1-3s" in bad["westgard"] and bad["reason_code"] == "qc_westgard_rejected"
    for held in batch:
        assert result(client, h, held["id"])["qc_hold"] == "control_failed"
        assert act(client, h["reviewer"], held["id"], "approve").status_code == 409
    good = spectro_standard(client, h, 1.2)
    assert good["passed"] is True and good["westgard"] == []
    for released in batch:
        assert act(client, h["reviewer"], released["id"], "approve").status_code == 200


def test_a_1_2s_standard_passes_with_a_warning_and_recovery_outside_the_range_fails(
    client: TestClient, headers: Headers
) -> None:
    h = headers
    warned = spectro_standard(client, h, 1.31)
    assert warned["passed"] is True and warned["westgard"] == ["1-2s"]
    assert warned["reason_code"] == "qc_westgard_warning"
    far = spectro_standard(client, h, 1.5)  # recovery 125 %
    assert far["passed"] is False and far["reason_code"] == "qc_recovery_out_of_range"


def test_enzyme_controls_use_the_methods_figures(client: TestClient, headers: Headers) -> None:
    h = headers
    weak = client.post(
        "/api/v1/qc/controls",
        json={"item_code": "OPC", "kind": "blank", "raw": {"control_dA": 0.2}},
        headers=h["tester"],
    ).json()
    assert weak["passed"] is False and weak["reason_code"] == "qc_control_dA_out_of_range"
    good = client.post(
        "/api/v1/qc/controls",
        json={"item_code": "OPC", "kind": "blank", "raw": {"control_dA": 0.6}},
        headers=h["tester"],
    ).json()
    assert good["passed"] is True and good["value"] == pytest.approx(0.6)
    spiked = client.post(
        "/api/v1/qc/controls",
        json={"item_code": "OPC", "kind": "spiked", "raw": {"control_dA": 0.6, "sample_dA": 0.1}},
        headers=h["tester"],
    ).json()
    assert spiked["passed"] is True


def test_bad_control_input_is_a_clear_4xx(client: TestClient, headers: Headers) -> None:
    h = headers
    post = lambda body: client.post("/api/v1/qc/controls", json=body, headers=h["tester"])  # noqa: E731
    assert post({"item_code": "CLB", "kind": "standard", "raw": GOLD_NEGATIVE, "kit_lot": CLB_LOT}).status_code == 422
    assert post({"item_code": "CLB", "kind": "positive", "raw": GOLD_NEGATIVE}).status_code == 422  # no kit lot
    assert post({"item_code": "CLB", "kind": "positive", "raw": GOLD_NEGATIVE, "kit_lot": "NOPE"}).status_code == 422
    assert post({"item_code": "NO2", "kind": "standard", "raw": {"blank": 0.0}}).status_code == 422
    assert post({"item_code": "NO2", "kind": "wrong", "raw": {"absorbance": 1}}).status_code == 422
    assert post({"item_code": "ZZZ", "kind": "blank", "raw": {"absorbance": 1}}).status_code in (404, 422)
    review = client.post(
        "/api/v1/qc/controls",
        json={"item_code": "NO2", "kind": "blank", "raw": {"absorbance": 0.0}},
        headers=h["reviewer"],
    )
    assert review.status_code == 403


def test_history_and_levey_jennings_chart_per_lot(client: TestClient, headers: Headers, engine: Engine) -> None:
    h = headers
    control(client, h, "negative", GOLD_NEGATIVE)
    control(client, h, "positive", GOLD_NEGATIVE)
    with Session(engine) as session:
        lot = session.exec(select(KitLot).where(KitLot.lot == CLB_LOT)).one()
    history = client.get(f"/api/v1/qc/lots/{lot.id}/controls", headers=h["reviewer"])
    assert history.status_code == 200
    assert [r["kind"] for r in history.json()] == ["positive", "negative"]
    chart = client.get(f"/api/v1/qc/lots/{lot.id}/chart.svg", headers=h["reviewer"])
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
    assert chart.text.startswith("<svg") and "<script" not in chart.text
    assert client.get("/api/v1/qc/lots/999999/chart.svg", headers=h["reviewer"]).status_code == 404
    assert client.get(f"/api/v1/qc/lots/{lot.id}/controls", headers=h["station"]).status_code == 403


def test_blind_samples_are_scored_on_review_and_only_administrators_see_the_truth(
    client: TestClient, headers: Headers
) -> None:
    h = headers
    sample = register(client, h["tester"], product_name="猪肉", category_code="PORK")
    blind = {"sample_label_id": sample["label_id"], "item_code": "CLB", "true_outcome": "positive"}
    assert client.post("/api/v1/qc/blind", json=blind, headers=h["tester"]).status_code == 403
    created = client.post("/api/v1/qc/blind", json=blind, headers=h["admin"])
    assert created.status_code == 201, created.text
    assert client.post("/api/v1/qc/blind", json=blind, headers=h["admin"]).status_code == 409
    for role in ("tester", "reviewer", "station"):
        assert client.get("/api/v1/qc/blind", headers=h[role]).status_code == 403
    body = {"sample_label_id": sample["label_id"], "item_code": "CLB", "raw": GOLD_NEGATIVE, "kit_lot": CLB_LOT}
    submitted = client.post("/api/v1/results", json=body, headers=h["tester"]).json()
    for role in ("tester", "reviewer"):
        seen = client.get(f"/api/v1/results/{submitted['id']}", headers=h[role]).text
        seen += client.get(f"/api/v1/samples/{sample['label_id']}", headers=h[role]).text
        assert "true_outcome" not in seen and "blind" not in seen.lower()
    assert act(client, h["reviewer"], submitted["id"], "approve").status_code == 200
    not_public = act(client, h["reviewer"], submitted["id"], "publish")
    assert not_public.status_code == 409 and not_public.json()["code"] == "qc.blind_not_published"
    listed = client.get("/api/v1/qc/blind", headers=h["admin"]).json()
    assert listed[0]["score"] == "disagree" and listed[0]["result_judgement"] == "negative"
    figures = client.get("/api/v1/qc/verification", params={"item": "CLB"}, headers=h["admin"]).json()
    assert figures[0]["false_negative"] == 1 and figures[0]["manufacturer"] == "x生物"
    assert figures[0]["sensitivity"]["value"] == 0.0 and figures[0]["specificity"]["value"] is None


def test_a_quantitative_blind_sample_gets_a_z_score(client: TestClient, headers: Headers) -> None:
    h = headers
    sample = register(client, h["tester"], product_name="腊肉", category_code="CURED_MEAT")
    blind = {
        "sample_label_id": sample["label_id"],
        "item_code": "NO2",
        "true_outcome": "negative",
        "true_value": 4.0,
        "true_sd": 0.5,
    }
    assert client.post("/api/v1/qc/blind", json=blind, headers=h["admin"]).status_code == 201
    raw = {"absorbance": 0.10, "blank": 0.01, "dilution": 1.0, "mass_g": 5.0}
    submitted = client.post(
        "/api/v1/results",
        json={"sample_label_id": sample["label_id"], "item_code": "NO2", "raw": raw},
        headers=h["tester"],
    ).json()
    assert act(client, h["reviewer"], submitted["id"], "approve").status_code == 200
    scored = client.get("/api/v1/qc/blind", headers=h["admin"]).json()[0]
    assert scored["score"] == "agree"
    assert scored["z_score"] == pytest.approx((submitted["value"] - 4.0) / 0.5)


def test_wilson_interval_matches_the_textbook() -> None:
    # Newcombe (1998), table I: 81/263 → 0.2553–0.3662; 15/148 → 0.0624–0.1605
    low, high = verification.wilson(81, 263) or (0, 0)
    assert low == pytest.approx(0.2553, abs=5e-4) and high == pytest.approx(0.3662, abs=5e-4)
    low, high = verification.wilson(15, 148) or (0, 0)
    assert low == pytest.approx(0.0624, abs=5e-4) and high == pytest.approx(0.1605, abs=5e-4)
    assert verification.wilson(0, 0) is None
    low, high = verification.wilson(0, 10) or (1, 1)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=5e-4)


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `lims …` in-process against the test database; returns (exit code, stdout, stderr)."""
    from typer.testing import CliRunner

    from lims.cli.main import app as lims
    from lims.settings import get_settings

    monkeypatch.setenv("LIMS_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("LIMS_LANG", "en")
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(lims, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return run


def test_the_cli_records_controls_and_reports_status_history_chart_and_verification(
    cli: Any, tmp_path: Any, client: TestClient, headers: Headers
) -> None:
    held = gold_result(client, headers)
    code, out, _ = cli("qc", "record", "CLB", "negative", "--lot", CLB_LOT, "--raw", "t=1.0", "--raw", "c=1.0",
                       "--tester", "tester")  # fmt: skip
    assert code == 0 and out.startswith("PASS"), out
    code, out, _ = cli("qc", "record", "CLB", "positive", "--lot", CLB_LOT, "--raw", "t=1.0", "--raw", "c=1.0")
    assert code == 2 and out.startswith("FAIL") and "positive control" in out, out
    code, out, _ = cli("qc", "status", "CLB", "--lot", CLB_LOT)
    status = json.loads(out)
    assert code == 0 and status["hold"] == "control_failed" and status["held_results"] == 1
    assert result(client, headers, held["id"])["qc_hold"] == "control_failed"
    code, out, _ = cli("qc", "history", "--lot", CLB_LOT, "--json")
    assert code == 0 and [json.loads(line)["kind"] for line in out.splitlines()] == ["positive", "negative"]
    chart = tmp_path / "lj.svg"
    assert cli("qc", "chart", CLB_LOT, "--out", str(chart))[0] == 0 and chart.read_text().startswith("<svg")
    assert cli("qc", "verify")[0] == 0
    assert cli("qc", "blind", "list")[0] == 0
    code, _, err = cli("qc", "record", "CLB", "positive", "--raw", "t=oops")
    assert code == 1 and "NAME=NUMBER" in err
    code, _, err = cli("qc", "record", "CLB", "positive", "--raw", "t=1", "--raw", "c=1")
    assert code == 1 and "kit lot" in err
    code, _, err = cli("qc", "history", "--lot", "NO-SUCH-LOT")
    assert code == 1 and "NO-SUCH-LOT" in err


def test_the_demo_records_the_days_controls_one_failing_then_repeated(engine: Engine) -> None:
    import datetime as dt

    import time_machine

    from lims.models.qc import ControlRun
    from lims.services.demo import builder

    with time_machine.travel(dt.datetime(2026, 12, 2, 5, 0, tzinfo=dt.UTC), tick=True):  # 13:00 in the district
        summary = builder.run_demo(engine, samples_per_day=6)
    assert summary.controls > 10 and summary.qc_failed == 1 and summary.held_results >= 1
    assert summary.published == summary.results - summary.rejected
    with Session(engine) as session:
        runs = session.exec(select(ControlRun).order_by(ControlRun.tested_at)).all()  # type: ignore[arg-type]
    failed = [r for r in runs if not r.passed]
    assert len(failed) == 1 and failed[0].kind == "positive"
    repeated = [r for r in runs if r.kind == "positive" and r.kit_lot_id == failed[0].kit_lot_id and r.passed]
    assert repeated and repeated[-1].tested_at > failed[0].tested_at


def test_the_review_page_shows_the_hold_and_refuses_approval_in_the_readers_language(
    app: Any, client: TestClient, headers: Headers
) -> None:
    from tests.web.helpers import post_form, sign_in

    held = gold_result(client, headers)
    control(client, headers, "negative", GOLD_NEGATIVE)
    control(client, headers, "positive", GOLD_NEGATIVE)
    browser = sign_in(app, "reviewer")
    page = browser.get("/review?lang=zh")
    assert page.status_code == 200
    assert "因质控暂停审核" in page.text and "阳性质控" in page.text
    refused = post_form(browser, "/review", f"/review/results/{held['id']}/approve")
    assert refused.status_code == 409 and "质控" in refused.text
    assert result(client, headers, held["id"])["status"] == "tested"


def test_an_instrument_reading_marked_as_a_control_is_stored_once_as_a_control_run(
    engine: Engine, client: TestClient, headers: Headers
) -> None:
    from instrument_drivers.reading import Reading
    from lims.services.results import ingest

    held = gold_result(client, headers)
    control(client, headers, "negative", GOLD_NEGATIVE)
    reading = Reading(
        instrument_serial="GR-CR-0001",
        family="gold",
        sequence=9001,
        item_code="CLB",
        sample_label_id="QC-POS",
        raw={**GOLD_NEGATIVE, "kit_lot": CLB_LOT},  # the positive card reads negative: the control fails
        judgement="negative",
    )
    with Session(engine) as session:
        stored = ingest.store(session, reading)
        session.commit()
        again = ingest.store(session, reading)
    assert stored.control_id is not None and stored.result_id is None and stored.held_id is None
    assert again.duplicate and again.control_id == stored.control_id
    assert stored.as_json()["control_id"] == stored.control_id
    assert result(client, headers, held["id"])["qc_hold"] == "control_failed"
    history = client.get("/api/v1/qc/controls", params={"item": "CLB"}, headers=headers["reviewer"]).json()
    assert history[0]["instrument_serial"] == "GR-CR-0001" and history[0]["passed"] is False
    bad = Reading("GR-CR-0001", "gold", 9002, "CLB", sample_label_id="QC-POS", raw=GOLD_NEGATIVE)  # no kit lot
    with Session(engine) as session:
        refused = ingest.store(session, bad)
        session.commit()
    assert refused.held_id is not None and "kit lot" in refused.hold_reason


# Who may do what on the quality-control routes (written out by hand so that a change has to be deliberate).
QC_ROLES = {
    ("POST", "/api/v1/qc/controls"): {"tester", "admin"},
    ("GET", "/api/v1/qc/controls"): {"tester", "reviewer", "admin"},
    ("GET", "/api/v1/qc/status?item=CLB"): {"tester", "reviewer", "admin"},
    ("GET", "/api/v1/qc/lots/1/controls"): {"tester", "reviewer", "admin"},
    ("GET", "/api/v1/qc/lots/1/chart.svg"): {"tester", "reviewer", "admin"},
    ("POST", "/api/v1/qc/blind"): {"admin"},
    ("GET", "/api/v1/qc/blind"): {"admin"},
    ("GET", "/api/v1/qc/verification"): {"reviewer", "admin"},
}


@pytest.mark.parametrize("route", list(QC_ROLES), ids=lambda r: f"{r[0]} {r[1]}")
def test_quality_control_routes_enforce_roles(client: TestClient, headers: Headers, route: tuple[str, str]) -> None:
    method, url = route
    sample = register(client, headers["tester"]) if url == "/api/v1/qc/blind" and method == "POST" else None
    bodies = {
        "/api/v1/qc/controls": {"item_code": "OPC", "kind": "blank", "raw": {"control_dA": 0.6}},
        "/api/v1/qc/blind": {
            "sample_label_id": sample["label_id"] if sample else "",
            "item_code": "OPC",
            "true_outcome": "negative",
        },
    }
    for role in ("anonymous", "tester", "reviewer", "station", "admin"):
        auth = {} if role == "anonymous" else headers[role]
        response = client.request(method, url, json=bodies.get(url) if method == "POST" else None, headers=auth)
        if role in QC_ROLES[route]:
            assert response.status_code in (200, 201), f"{role} {method} {url}: {response.text}"
        else:
            assert response.status_code == (401 if role == "anonymous" else 403), f"{role} {method} {url}"


def test_a_control_on_a_stock_tracked_lot_takes_its_card_as_qc(
    client: TestClient, headers: Headers, engine: Engine
) -> None:
    from lims.models import KitStock, StockMovement, User
    from lims.services.access import auth
    from lims.services.lab import stock

    with Session(engine) as session:
        admin = auth.actor_for(session.exec(select(User).where(User.username == "admin")).one())
        lot_id = int(session.exec(select(KitLot).where(KitLot.lot == CLB_LOT)).one().id or 0)
        stock.receive(session, admin, lot_id, 2, note="delivery 1")
        stock.accept(session, admin, lot_id, True, "control cards read as expected")
        session.commit()
    control(client, headers, "negative", GOLD_NEGATIVE)
    with Session(engine) as session:
        held = session.exec(select(KitStock).where(KitStock.kit_lot_id == lot_id)).one()
        moved = session.exec(select(StockMovement).where(StockMovement.kit_stock_id == held.id)).all()
    assert held.remaining == 1 and [m.kind for m in moved][-1] == "qc"
    control(client, headers, "positive", GOLD_POSITIVE)
    refused = client.post(
        "/api/v1/qc/controls",
        json={"item_code": "CLB", "kit_lot": CLB_LOT, "kind": "positive", "raw": GOLD_POSITIVE},
        headers=headers["tester"],
    )
    assert refused.status_code in (409, 422) and CLB_LOT in refused.json()["detail"]
    with Session(engine) as session:
        assert len(session.exec(select(ControlRunModel)).all()) == 2  # the refused control stored nothing
