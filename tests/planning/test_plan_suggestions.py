"""Next month's plan weighted by risk: fixed minimums kept, free capacity moved to the risky point, accepted once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import schedules
from lims.models import PlanSuggestion, PlanTask, PlanVersion
from lims.services.core.audit import SYSTEM
from lims.services.core.errors import Conflict, Invalid
from lims.services.public import leads
from lims.services.samples import plan_suggestions, plans
from lims.services.samples.plan_suggestions import CellRisk
from schedules import Month
from tests.core.helpers import NEGATIVE_OPC, POSITIVE_OPC, act, register, submit
from tests.web.helpers import post_form, sign_in

# 10:00 in Shanghai on Wednesday 2026-11-18: the history lies in the 30 days before, the plan is for December.
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
MONTH = "2026-12"
RISKY = ("P05", "VEG_LEAF")


@pytest.fixture
def traveller() -> Iterator[time_machine.Coordinates]:
    """The clock stopped at NOW."""
    with time_machine.travel(NOW, tick=False) as t:
        yield t


def _at(days_ago: int) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def _tested(client: TestClient, h: dict[str, dict[str, str]], point: str, raw: dict[str, float], days_ago: int) -> int:
    sample = register(client, h["tester"], point_code=point, collected_at=_at(days_ago))
    result = submit(client, h["tester"], sample["label_id"], raw, tested_at=_at(days_ago))
    return int(result["id"])


def _seed(client: TestClient, h: dict[str, dict[str, str]], session: Session) -> str:
    """P05's leafy vegetables: three reviewed positives, an urgent complaint and a consumer's report; P02 and P09
    quiet (P09's positive is not reviewed yet, so it is no finding). Returns the label of a P05 sample."""
    for days_ago in (25, 12, 4):
        result_id = _tested(client, h, "P05", POSITIVE_OPC, days_ago)
        assert act(client, h["reviewer"], result_id, "approve").status_code == 200
    for days_ago in (20, 6):
        for point in ("P05", "P02"):
            result_id = _tested(client, h, point, NEGATIVE_OPC, days_ago)
            assert act(client, h["reviewer"], result_id, "approve").status_code == 200
    _tested(client, h, "P09", POSITIVE_OPC, 3)  # tested, never reviewed
    complaint = {"point_code": "P05", "complaint": "顾客投诉小白菜农药味重", "category_code": "VEG_LEAF"}
    assert client.post("/api/v1/tasks/urgent", json=complaint, headers=h["tester"]).status_code == 201
    sample = register(client, h["tester"], point_code="P05", collected_at=_at(2))
    form = leads.LeadForm(code=sample["label_id"], what_happened="买回的小白菜有刺鼻气味", kind="complaint")
    leads.submit(session, leads.LeadLimiter(), "203.0.113.7", form)
    session.commit()
    return str(sample["label_id"])


def _batches(plan: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {p["code"]: dict(p["batches"]) for p in plan["points"]}


def test_suggested_plan_keeps_every_minimum_and_moves_free_capacity_to_the_risky_point(
    traveller: time_machine.Coordinates, client: TestClient, headers: dict[str, dict[str, str]], session: Session
) -> None:
    _seed(client, headers, session)
    row = plan_suggestions.suggest(session, SYSTEM, MONTH)
    session.commit()
    minimums = plan_suggestions.monthly_minimums(plans.load(), Month.parse(MONTH))
    after = _batches(row.plan)
    for point, quota in minimums.items():
        for category, n in quota.items():
            assert after[point].get(category, 0) >= n, (point, category)
    point, category = RISKY
    assert after[point][category] > minimums[point][category]
    # The quiet points keep exactly their minimums: P02 (negatives only) and P09 (a positive nobody reviewed).
    assert after["P02"] == minimums["P02"] and after["P09"] == minimums["P09"]
    extra = {p: sum(after[p].values()) - sum(minimums[p].values()) for p in minimums}
    assert max(extra, key=lambda p: extra[p]) == "P05" and extra["P05"] == sum(extra.values())
    change = next(c for c in row.changes if (c["point"], c["category"]) == RISKY)
    codes = {r["code"]: r["params"] for r in change["reasons"]}
    assert codes["positives"]["count"] == 3 and codes["positives"]["items"] == "OPC"
    assert codes["complaints"]["count"] == "1" and codes["leads"]["count"] == "1"
    assert change["after"] - change["minimum"] <= plan_suggestions.risk_model().max_extra_per_category
    # What is added stays inside the free capacity and the vehicle's days hold all of it.
    cap = row.capacity
    assert cap["given"] == sum(extra.values()) <= cap["free"]
    suggested = schedules.parse_plan(row.plan)
    assert schedules.generate(suggested, MONTH).shortfalls == ()
    assert plan_suggestions.reason_text(change["reasons"][0], "zh") != plan_suggestions.reason_text(
        change["reasons"][0], "en"
    )


def _engine_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_cli_prints_a_table_json_and_a_plan_file_and_refuses_bad_months(
    traveller: time_machine.Coordinates,
    client: TestClient,
    headers: dict[str, dict[str, str]],
    session: Session,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from lims.cli.main import app as lims
    from lims.settings import get_settings

    _seed(client, headers, session)
    monkeypatch.setenv("LIMS_DATABASE_URL", _engine_url(engine))
    get_settings.cache_clear()
    runner = CliRunner()
    out = tmp_path / "suggested.yaml"
    done = runner.invoke(lims, ["plan", "suggest", "--month", MONTH, "--json", "-o", str(out)])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["status"] == "open" and data["accepted_version"] is None
    written = schedules.load_plan(out)
    assert written.digest() == data["digest"] and written.month == MONTH
    assert _batches(data["plan"])["P05"]["VEG_LEAF"] > 3

    table = runner.invoke(lims, ["plan", "suggest", "--month", MONTH])
    assert table.exit_code == 0, table.output
    line = next(x for x in table.stdout.splitlines() if x.startswith("P05    VEG_LEAF"))
    assert "3 positive samples (OPC) in the last 90 days" in line and "1 urgent complaint tests" in line
    assert "accept it with: lims plan accept" in table.stdout
    monkeypatch.setenv("LIMS_LANG", "zh")
    chinese = runner.invoke(lims, ["plan", "suggest", "--month", MONTH])
    assert chinese.exit_code == 0 and "阳性" in chinese.stdout and "positive" not in chinese.stdout
    monkeypatch.setenv("LIMS_LANG", "en")

    for month, says in [
        ("2026-13", "is not a month"),
        ("12-2026", "is not a month"),
        ("2026-10", "can be suggested for 2026-11 to 2027-11"),
        ("2028-01", "can be suggested for 2026-11 to 2027-11"),
        ("2027-03", "holiday calendar knows the years"),
    ]:
        refused = runner.invoke(lims, ["plan", "suggest", "--month", month])
        assert refused.exit_code == 1 and says in refused.stderr, (month, refused.output)
    unknown = runner.invoke(lims, ["plan", "suggest", "--month", MONTH, "--district", "NOPE"])
    assert unknown.exit_code == 1 and "NOPE" in unknown.stderr
    missing = runner.invoke(lims, ["plan", "accept", "99999"])
    assert missing.exit_code == 1 and "no plan suggestion 99999" in missing.stderr

    latest = session.exec(select(PlanSuggestion).order_by(PlanSuggestion.id.desc())).first()  # type: ignore[union-attr]
    assert latest is not None
    accepted = runner.invoke(lims, ["plan", "accept", str(latest.id)])
    assert accepted.exit_code == 0 and "accepted as plan version 1 of 2026-12" in accepted.stdout
    again = runner.invoke(lims, ["plan", "accept", str(latest.id)])
    assert again.exit_code == 1 and "was accepted already" in again.stderr
    older = runner.invoke(lims, ["plan", "accept", str(int(latest.id or 0) - 1)])
    assert older.exit_code == 1 and "replaced by a newer suggestion" in older.stderr


def test_admin_accepts_through_the_plans_page_once_and_a_stale_suggestion_is_refused(
    traveller: time_machine.Coordinates,
    app: Any,
    client: TestClient,
    headers: dict[str, dict[str, str]],
    session: Session,
    engine: Engine,
) -> None:
    _seed(client, headers, session)
    admin = sign_in(app, "admin")
    admin.headers["Accept-Language"] = "en"
    page = admin.get("/admin/plans")
    assert page.status_code == 200 and 'value="2026-12"' in page.text
    bad = post_form(admin, "/admin/plans", "/admin/plans/suggestions", {"month": "2026-99"})
    assert bad.status_code == 422 and "is not a month" in bad.text
    made = post_form(admin, "/admin/plans", "/admin/plans/suggestions", {"month": MONTH})
    assert made.status_code == 303
    url = made.headers["location"]
    shown = admin.get(url)
    assert shown.status_code == 200 and 'data-point="P05" data-category="VEG_LEAF"' in shown.text
    assert "Accept as the next plan version" in shown.text
    accepted = post_form(admin, url, f"{url}/accept")
    assert accepted.status_code == 303
    row_id = int(url.rsplit("/", 1)[1])
    with Session(engine) as fresh:
        row = fresh.get(PlanSuggestion, row_id)
        assert row is not None and row.status == "accepted"
        version = fresh.get(PlanVersion, row.accepted_version_id)
        assert version is not None and (version.month, version.number, version.digest) == (MONTH, 1, row.digest)
        # The stored tasks carry the extra leafy-vegetable batches at P05 (checked in plain SQL).
        taken = fresh.execute(
            text(
                "SELECT t.batches FROM plan_task t JOIN sampling_point p ON p.id = t.point_id "
                "WHERE t.plan_version_id = :v AND p.code = 'P05'"
            ),
            {"v": version.id},
        ).all()
        leafy = sum(int((b if isinstance(b, dict) else json.loads(b)).get("VEG_LEAF", 0)) for (b,) in taken)
        assert leafy == _batches(row.plan)["P05"]["VEG_LEAF"] > 3
    # The page once more (a second click, another tab): 409 with the reason, nothing stored twice.
    twice = admin.post(f"{url}/accept", data={"csrf": _csrf(admin, url)}, follow_redirects=False)
    assert twice.status_code == 409 and "accepted already" in twice.text
    with Session(engine) as fresh:
        assert len(fresh.exec(select(PlanVersion).where(PlanVersion.month == MONTH)).all()) == 1

    # Stale: a suggestion made, then someone stores another version of December: accepting it is refused.
    stale = plan_suggestions.suggest(session, SYSTEM, MONTH)
    session.commit()
    plans.generate(session, SYSTEM, plans.load(), MONTH)
    session.commit()
    refused = admin.post(
        f"/admin/plans/suggestions/{stale.id}/accept",
        data={"csrf": _csrf(admin, f"/admin/plans/suggestions/{stale.id}")},
        follow_redirects=False,
    )
    assert refused.status_code == 409 and "out of date" in refused.text
    with Session(engine) as fresh:
        assert fresh.get(PlanSuggestion, stale.id).status == "open"  # type: ignore[union-attr]
        assert len(fresh.exec(select(PlanVersion).where(PlanVersion.month == MONTH)).all()) == 2


def _csrf(client: TestClient, url: str) -> str:
    from tests.web.helpers import csrf_of

    return csrf_of(client.get(url, headers={"Accept-Language": "en"}).text)


def test_a_suggestion_built_on_an_accepted_one_keeps_the_original_minimums(
    traveller: time_machine.Coordinates, client: TestClient, headers: dict[str, dict[str, str]], session: Session
) -> None:
    _seed(client, headers, session)
    first = plan_suggestions.suggest(session, SYSTEM, MONTH)
    plan_suggestions.accept(session, SYSTEM, int(first.id or 0))
    session.commit()
    # With the risk gone (a model that weighs nothing), December's next suggestion returns P05 to its minimum.
    calm = plan_suggestions.risk_model().model_copy(
        update={"weights": plan_suggestions.Weights(positive=0, complaint=0, lead=0, unvisited=0, signal=0)}
    )
    second = plan_suggestions.suggest(session, SYSTEM, MONTH, model=calm)
    session.commit()
    assert second.minimums == first.minimums
    assert _batches(second.plan)["P05"]["VEG_LEAF"] == first.minimums["P05"]["VEG_LEAF"] == 3
    back = next(c for c in second.changes if (c["point"], c["category"]) == RISKY)
    assert back["before"] > back["after"] == back["minimum"] and back["reasons"] == [{"code": "quiet", "params": {}}]
    assert second.capacity["note"]["code"] == "no_risk" and second.capacity["base"]["kind"] == "version"
    with pytest.raises(Invalid):
        plan_suggestions.suggest(session, SYSTEM, "2026-1")


def _example() -> schedules.Plan:
    return schedules.load_example()


def test_no_free_capacity_keeps_only_the_minimums_and_says_so() -> None:
    data = _example().model_dump(mode="json")
    data["vehicle"]["samples_per_day"] = 8  # 23 days × 8 × 0.8 = 147 batches, fewer than the 180 fixed
    plan = schedules.parse_plan(data)
    month = Month.parse(MONTH)
    minimums = plan_suggestions.monthly_minimums(plan, month)
    risks = {RISKY: CellRisk(positives=5, positive_items={"OPC"})}
    result = plan_suggestions.distribute(plan, minimums, risks, month, plan_suggestions.risk_model())
    assert _batches(result.plan.model_dump(mode="json")) == minimums
    assert result.changes == [] and result.capacity["given"] == 0 and result.capacity["free"] == 0
    assert result.capacity["note"]["code"] == "no_free_capacity"
    assert "no free capacity" in plan_suggestions.reason_text(result.capacity["note"], "en")


def test_free_capacity_is_shared_in_proportion_to_risk_within_the_channel_budget() -> None:
    plan = _example()
    month = Month.parse(MONTH)
    minimums = plan_suggestions.monthly_minimums(plan, month)
    model = plan_suggestions.risk_model().model_copy(update={"max_extra_per_category": 1000, "reserve_share": 0.6})
    risks = {("P01", "VEG"): CellRisk(positives=2), ("P04", "VEG"): CellRisk(positives=1)}
    result = plan_suggestions.distribute(plan, minimums, risks, month, model)
    after = _batches(result.plan.model_dump(mode="json"))
    p01, p04 = after["P01"]["VEG"] - minimums["P01"]["VEG"], after["P04"]["VEG"] - minimums["P04"]["VEG"]
    # 23 days × 24 batches, 60 % kept in reserve: 220 batches, 180 of them fixed, so 40 free.
    assert p01 + p04 == result.capacity["given"] == result.capacity["free"] == 40
    assert abs(p01 - 2 * p04) <= 2 and p04 > 0
    again = plan_suggestions.distribute(plan, minimums, risks, month, model)
    assert again.plan.digest() == result.plan.digest()  # deterministic
    schedule = schedules.generate(result.plan, month)
    assert schedule.shortfalls == ()


def test_signal_seam_adds_risk_per_point_and_item() -> None:
    plan = _example()
    month = Month.parse(MONTH)
    minimums = plan_suggestions.monthly_minimums(plan, month)
    risks: dict[tuple[str, str], CellRisk] = {}
    # What gather_risk does with the signals' {(point, item): strength}: CLB at P04 splits over pork and beef.
    for category in ("PORK", "BEEF_MUTTON"):
        risks[("P04", category)] = CellRisk(signal=1.5)
    result = plan_suggestions.distribute(plan, minimums, risks, month, plan_suggestions.risk_model())
    moved = {(c["point"], c["category"]) for c in result.changes}
    assert moved == {("P04", "PORK"), ("P04", "BEEF_MUTTON")}
    assert all(r["code"] == "signal" for c in result.changes for r in c["reasons"])


def test_gather_risk_takes_signals_and_ignores_what_is_not_planned(
    traveller: time_machine.Coordinates, session: Session
) -> None:
    plan = _example()
    model = plan_suggestions.risk_model()
    extra = {("P04", "CLB"): 3.0, ("P04", "NOPE"): 9.0, ("P99", "CLB"): 9.0, ("P01", "OPC"): float("nan")}
    district_id = plans.district_of(session, SYSTEM)
    risks = plan_suggestions.gather_risk(session, district_id, plan, NOW.date(), model, extra)
    assert {cell for cell, r in risks.items() if r.signal} == {("P04", "PORK"), ("P04", "BEEF_MUTTON")}
    assert risks[("P04", "PORK")].signal == 1.5


def test_stale_and_superseded_suggestions_are_refused_in_the_service(
    traveller: time_machine.Coordinates, session: Session
) -> None:
    first = plan_suggestions.suggest(session, SYSTEM, MONTH)
    second = plan_suggestions.suggest(session, SYSTEM, MONTH)
    session.commit()
    with pytest.raises(Conflict, match="replaced by a newer suggestion"):
        plan_suggestions.accept(session, SYSTEM, int(first.id or 0))
    version = plan_suggestions.accept(session, SYSTEM, int(second.id or 0))
    session.commit()
    assert session.exec(select(PlanTask).where(PlanTask.plan_version_id == version.id)).first() is not None
    with pytest.raises(Conflict, match="accepted already"):
        plan_suggestions.accept(session, SYSTEM, int(second.id or 0))


def test_two_administrators_accept_one_suggestion_at_the_same_moment(
    traveller: time_machine.Coordinates, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.security.races import audit_intact, one_wins, race, read_together
    from tests.web.helpers import actor_of

    with Session(engine) as session:
        admin = actor_of(session, "admin")
        row_id = int(plan_suggestions.suggest(session, admin, MONTH).id or 0)
        session.commit()
    with read_together(monkeypatch, 2):  # both pass every check before either writes
        outcomes = race(engine, [lambda s: plan_suggestions.accept(s, admin, row_id) for _ in range(2)])
    one_wins(outcomes)
    with Session(engine) as session:
        assert len(session.exec(select(PlanVersion).where(PlanVersion.month == MONTH)).all()) == 1
    audit_intact(engine)
