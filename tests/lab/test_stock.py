"""Kit lots as stock: receipt and acceptance, every result taking its card in its own transaction, refusals of an
unaccepted, expired or exhausted lot (also on the instrument path), levels and alerts, the monthly reconciliation."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from instrument_drivers.reading import Reading
from lims.models import HeldReading, KitLot, KitStock, StockAlert, StockMovement, TestResult, User
from lims.services.access import auth
from lims.services.core import clock
from lims.services.core.audit import Actor, verify
from lims.services.core.audit_tables import AUDITED_MODELS
from lims.services.core.errors import Conflict, Invalid, NotFound
from lims.services.lab import stock
from lims.services.results import ingest
from tests.core.helpers import register

NEGATIVE_CARD = {"t": 1.0, "c": 1.0}  # T/C 1.0, above the lot's 0.90 cut-off
RETEST = "retest after rejection"  # a retest is a run of its own; a correction re-reads the same card


def _actor(session: Session, name: str) -> Actor:
    return auth.actor_for(session.exec(select(User).where(User.username == name)).one())


def _lot(session: Session, code: str = "CLB-2611A") -> KitLot:
    return session.exec(select(KitLot).where(KitLot.lot == code)).one()


def _stocked(engine: Engine, units: int, *, accept: bool = True, code: str = "CLB-2611A") -> int:
    with Session(engine) as session:
        admin = _actor(session, "admin")
        lot_id = int(_lot(session, code).id or 0)
        stock.receive(session, admin, lot_id, units, note="delivery 1")
        if accept:
            stock.accept(session, admin, lot_id, True, "control cards read as expected")
        session.commit()
    return lot_id


def _card(client: TestClient, h: dict[str, str], lot: str = "CLB-2611A", **extra: Any) -> Any:
    label = register(client, h, category_code="PORK", product_name="猪肉")["label_id"]
    body = {"sample_label_id": label, "item_code": "CLB", "raw": NEGATIVE_CARD, "kit_lot": lot, **extra}
    return client.post("/api/v1/results", json=body, headers=h)


def _remaining(engine: Engine, lot_id: int) -> int:
    with Session(engine) as session:
        held = session.exec(select(KitStock).where(KitStock.kit_lot_id == lot_id)).one()
        movements = session.exec(select(StockMovement).where(StockMovement.kit_stock_id == held.id)).all()
        assert held.remaining == sum(m.quantity for m in movements)  # remaining is the sum of the ledger
        return held.remaining


def test_a_lot_never_received_is_not_stock_tracked(client: TestClient, headers: dict, engine: Engine) -> None:
    response = _card(client, headers["tester"])
    assert response.status_code == 201 and response.json()["judgement"] == "negative"
    with Session(engine) as session:
        assert session.exec(select(StockMovement)).first() is None


def test_each_result_takes_one_card_with_its_result_id(client: TestClient, headers: dict, engine: Engine) -> None:
    lot_id = _stocked(engine, 3)
    ids = [_card(client, headers["tester"]).json()["id"] for _ in range(2)]
    assert _remaining(engine, lot_id) == 1
    with Session(engine) as session:
        used = session.exec(select(StockMovement).where(StockMovement.kind == "consumed")).all()
        assert sorted(m.result_id for m in used) == sorted(ids) and {m.quantity for m in used} == {-1}
        held = session.exec(select(KitStock).where(KitStock.kit_lot_id == lot_id)).one()
        assert held.opened_on == clock.today_of(session, held.district_id)  # the first use opened the lot
        assert verify(session, AUDITED_MODELS) is None


def test_an_exhausted_lot_refuses_the_next_result_with_the_reason(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    lot_id = _stocked(engine, 1)
    assert _card(client, headers["tester"]).status_code == 201
    refused = _card(client, headers["tester"])
    assert refused.status_code == 409 and refused.json()["code"] == "stock.exhausted"
    assert "CLB-2611A is used up" in refused.json()["detail"]
    chinese = _card(client, {**headers["tester"], "Accept-Language": "zh-CN"})
    assert chinese.status_code == 409 and "CLB-2611A" in chinese.json()["detail"]
    assert "used up" not in chinese.json()["detail"]
    assert _remaining(engine, lot_id) == 0
    with Session(engine) as session:  # the refused results left nothing behind
        assert len(session.exec(select(TestResult).where(TestResult.kit_lot_id == lot_id)).all()) == 1


def test_an_unaccepted_or_rejected_lot_is_refused(client: TestClient, headers: dict, engine: Engine) -> None:
    lot_id = _stocked(engine, 5, accept=False)
    refused = _card(client, headers["tester"])
    assert refused.status_code == 422 and refused.json()["code"] == "stock.not_accepted"
    with Session(engine) as session:
        admin = _actor(session, "admin")
        with pytest.raises(Invalid, match="why the lot is rejected"):
            stock.accept(session, admin, lot_id, False)
        stock.accept(session, admin, lot_id, False, "positive control card showed a T line")
        session.commit()
        with pytest.raises(Conflict, match="already been checked"):
            stock.accept(session, admin, lot_id, True)
    refused = _card(client, headers["tester"])
    assert refused.status_code == 422 and refused.json()["code"] == "stock.rejected"
    assert _remaining(engine, lot_id) == 5


def test_an_expired_tracked_lot_is_refused_and_takes_nothing(client: TestClient, headers: dict, engine: Engine) -> None:
    lot_id = _stocked(engine, 5)
    with Session(engine) as session:
        lot = session.get(KitLot, lot_id)
        assert lot is not None
        lot.expires_on = clock.today_of(session, None) - timedelta(days=1)
        session.add(lot)
        session.commit()
    refused = _card(client, headers["tester"])
    assert refused.status_code == 422 and refused.json()["code"] == "stock.expired"
    assert _remaining(engine, lot_id) == 5


def test_past_shelf_life_after_opening_is_refused(client: TestClient, headers: dict, engine: Engine) -> None:
    lot_id = _stocked(engine, 5)
    with Session(engine) as session:
        lot = session.get(KitLot, lot_id)
        assert lot is not None
        lot.shelf_life_after_opening_days = 1
        session.add(lot)
        held = session.exec(select(KitStock).where(KitStock.kit_lot_id == lot_id)).one()
        today = clock.today_of(session, held.district_id)
        held.received_on = held.opened_on = today - timedelta(days=3)
        session.add(held)
        session.commit()
    refused = _card(client, headers["tester"])
    assert refused.status_code == 422 and refused.json()["code"] == "stock.past_shelf_life"


def test_the_instrument_path_holds_a_reading_on_an_exhausted_lot(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    lot_id = _stocked(engine, 1)
    readings = []
    for sequence in (1, 2):
        label = register(client, headers["tester"], category_code="PORK", product_name="猪肉")["label_id"]
        readings.append(
            Reading(
                instrument_serial="GR-CR-0001",
                family="gold",
                sequence=sequence,
                item_code="CLB",
                sample_label_id=label,
                raw={"t": 1.0, "c": 1.0, "kit_lot": "CLB-2611A"},
                judgement="negative",
            )
        )
    stored = ingest.store_record(engine, readings)
    assert stored[0].result_id is not None and stored[1].result_id is None
    assert stored[1].held_id is not None and "used up" in stored[1].hold_reason
    with Session(engine) as session:
        held = session.get(HeldReading, stored[1].held_id)
        assert held is not None and held.reading["reason_code"] == "stock.exhausted"
    assert _remaining(engine, lot_id) == 0


def test_write_offs_and_receipts_move_the_ledger(engine: Engine) -> None:
    lot_id = _stocked(engine, 10)
    with Session(engine) as session:
        admin, tester = _actor(session, "admin"), _actor(session, "tester")
        stock.write_off(session, tester, lot_id, "broken", 2, "dropped")
        stock.write_off(session, admin, lot_id, "qc", 1)
        with pytest.raises(Invalid, match="why the units are written off"):
            stock.write_off(session, admin, lot_id, "other", 1)
        with pytest.raises(Conflict, match="fewer than 20"):
            stock.write_off(session, admin, lot_id, "spoiled", 20)
        with pytest.raises(Invalid, match="unknown reason"):
            stock.write_off(session, admin, lot_id, "lost", 1)
        stock.receive(session, admin, lot_id, 5)
        session.commit()
    assert _remaining(engine, lot_id) == 12


def test_another_district_does_not_see_or_touch_the_holding(engine: Engine) -> None:
    lot_id = _stocked(engine, 10)
    with Session(engine) as session:
        stranger = Actor(name="x", role="admin", user_id=None, district_id=999_999)
        with pytest.raises(NotFound):
            stock.accept(session, stranger, lot_id, True)
        assert stock._levels(session, 999_999) == []


def test_levels_and_low_stock_notify_the_administrator_once(client: TestClient, headers: dict, engine: Engine) -> None:
    lot_id = _stocked(engine, 4)
    with Session(engine) as session:
        held = session.exec(select(KitStock).where(KitStock.kit_lot_id == lot_id)).one()
        held.min_units = 3
        session.add(held)
        session.commit()
        held_id = held.id
    for _ in range(3):
        assert _card(client, headers["tester"]).status_code == 201
    with Session(engine) as session:
        admin = _actor(session, "admin")
        level = next(lv for lv in stock.stock_levels(session, admin) if lv.kit_lot_id == lot_id)
        assert level.remaining == 1 and level.received == 4 and level.low and level.usable
        assert level.tests_per_day == pytest.approx(3 / 14, abs=0.01)
        assert level.runs_out_on is not None and level.days_to_expiry > 0
        raised = session.exec(select(StockAlert).where(StockAlert.kit_stock_id == held_id)).all()
        assert [a.condition for a in raised] == ["low"]  # once, though two results left it low
        assert [n.condition for n in stock.alerts(session, admin)] == ["low"]
        assert stock.check_alerts(session, admin) == []


def test_reconciliation_balances_on_generated_movements(client: TestClient, headers: dict, engine: Engine) -> None:
    lot_id = _stocked(engine, 20)
    for _ in range(4):
        assert _card(client, headers["tester"]).status_code == 201
    with Session(engine) as session:
        admin = _actor(session, "admin")
        stock.write_off(session, admin, lot_id, "broken", 1, "cracked")
        stock.write_off(session, admin, lot_id, "qc", 2)
        stock.write_off(session, admin, lot_id, "spoiled", 3, "damp")
        session.commit()
        year, month = clock.this_month(clock.zone_of(session, admin.district_id))
        report = stock.reconcile(session, admin, f"{year:04d}-{month:02d}")
    assert report.balanced and report.stored_balances_match
    row = next(r for r in report.lots if r.kit_lot_id == lot_id)
    assert (row.opening, row.received, row.tests_recorded, row.units_by_tests) == (0, 20, 4, 4)
    assert row.difference == {"qc": 2, "broken": 1, "spoiled": 3} and row.closing == 10
    assert row.opening + row.received - row.units_by_tests - sum(row.difference.values()) == row.closing
    with pytest.raises(Invalid):
        stock.reconcile(session, admin, "2026-13")


# --- the API ------------------------------------------------------------------------------------------------------


def test_administrators_manage_stock_through_the_api(client: TestClient, headers: dict, engine: Engine) -> None:
    admin, tester = headers["admin"], headers["tester"]
    lots = client.get("/api/v1/kit-lots", headers=admin).json()
    lot = next(k for k in lots if k["lot"] == "CLB-2611A")
    assert not lot["held"] and lot["storage_condition"]
    url = f"/api/v1/kit-lots/{lot['id']}"
    assert client.post(f"{url}/receive", json={"quantity": 3}, headers=tester).status_code == 403
    assert client.post(f"{url}/receive", json={"quantity": 0}, headers=admin).status_code == 422
    assert client.post(f"{url}/receive", json={"quantity": 10**9}, headers=admin).status_code == 422
    future = {"quantity": 3, "received_on": "2099-01-01"}
    assert client.post(f"{url}/receive", json=future, headers=admin).status_code == 422
    level = client.post(f"{url}/receive", json={"quantity": 3, "min_units": 1}, headers=admin)
    assert level.status_code == 200 and level.json()["acceptance"] == "pending" and not level.json()["usable"]
    assert "acceptance" in level.json()["refusal"]
    accepted = client.post(f"{url}/accept", json={"accepted": True, "note": "controls read"}, headers=admin)
    assert accepted.status_code == 200 and accepted.json()["usable"]
    again = client.post(f"{url}/accept", json={"accepted": True}, headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "stock.already_checked"
    opened = client.post(f"{url}/open", json={}, headers=tester)
    assert opened.status_code == 200 and opened.json()["opened_on"]
    assert client.post(f"{url}/open", json={}, headers=tester).status_code == 409
    bad = client.post(f"{url}/write-off", json={"reason": "lost", "quantity": 1}, headers=tester)
    assert bad.status_code == 422
    off = client.post(f"{url}/write-off", json={"reason": "broken", "quantity": 1}, headers=tester)
    assert off.status_code == 200 and off.json()["remaining"] == 2
    levels = client.get("/api/v1/stock", headers=tester).json()
    assert [(x["lot"], x["remaining"], x["received"]) for x in levels] == [("CLB-2611A", 2, 3)]
    assert client.get("/api/v1/stock", headers=headers["station"]).status_code == 403
    report = client.get("/api/v1/stock/reconciliation?month=2026-13", headers=admin)
    assert report.status_code == 422
    missing = client.post("/api/v1/kit-lots/999999/accept", json={"accepted": True}, headers=admin)
    assert missing.status_code == 404
    # a low stock condition was raised once, and the administrator can mark it read
    assert [a["condition"] for a in client.get("/api/v1/stock/alerts", headers=admin).json()] == []
    with Session(engine) as session:
        admin_actor = _actor(session, "admin")
        stock.write_off(session, admin_actor, lot["id"], "spoiled", 2, "left out of the fridge")
        session.commit()
    alerts = client.get("/api/v1/stock/alerts", headers=admin).json()
    assert [a["condition"] for a in alerts] == ["low"]
    assert client.post("/api/v1/stock/alerts/read", headers=admin).status_code == 200
    assert client.get("/api/v1/stock/alerts", headers=admin).json() == []
    assert client.post("/api/v1/stock/alerts/read", headers=tester).status_code == 403


def test_the_reconciliation_over_the_api_and_the_console(client: TestClient, headers: dict, engine: Engine) -> None:
    lot_id = _stocked(engine, 6)
    assert _card(client, headers["tester"]).status_code == 201
    with Session(engine) as session:
        year, month = clock.this_month(clock.zone_of(session, _actor(session, "admin").district_id))
    report = client.get(f"/api/v1/stock/reconciliation?month={year:04d}-{month:02d}", headers=headers["admin"])
    assert report.status_code == 200 and report.json()["balanced"]
    row = next(r for r in report.json()["lots"] if r["kit_lot_id"] == lot_id)
    assert (row["received"], row["units_by_tests"], row["closing"]) == (6, 1, 5)


# --- two results, one card ------------------------------------------------------------------------------------------


def test_two_results_taking_the_last_card_at_once_exactly_one_wins(
    client: TestClient, headers: dict, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lims.models.results import ResultSubmit
    from lims.services.results import records
    from tests.security.races import audit_intact, one_wins, race, read_together

    lot_id = _stocked(engine, 1)
    labels = [
        register(client, headers["tester"], category_code="PORK", product_name="猪肉")["label_id"] for _ in range(2)
    ]
    with Session(engine) as session:
        tester, tester2 = _actor(session, "tester"), _actor(session, "tester2")

    def submit(actor: Actor, label: str) -> Any:
        data = ResultSubmit(sample_label_id=label, item_code="CLB", raw=NEGATIVE_CARD, kit_lot="CLB-2611A")
        return lambda s: records.submit(s, actor, data)

    with read_together(monkeypatch, 2):
        outcomes = race(engine, [submit(tester, labels[0]), submit(tester2, labels[1])])
    one_wins(outcomes)
    assert _remaining(engine, lot_id) == 0
    with Session(engine) as session:
        assert len(session.exec(select(TestResult).where(TestResult.kit_lot_id == lot_id)).all()) == 1
    audit_intact(engine)


# --- the demo ---------------------------------------------------------------------------------------------------


def test_a_demo_day_takes_exactly_the_tests_run_and_the_month_balances(engine: Engine) -> None:
    import time_machine

    from lims.models.results import ResultSubmit
    from lims.services.demo import builder
    from lims.services.results import records

    afternoon = clock.day_bounds(date(2026, 12, 1), "Asia/Shanghai")[0] + timedelta(hours=15)
    with time_machine.travel(afternoon, tick=True):
        summary = builder.run_demo(engine, days=1, samples_per_day=12)
        assert summary.stock_used and sum(summary.stock_used.values()) > 0
        with Session(engine) as session:
            admin = _actor(session, "admin")
            levels = {lv.lot: lv for lv in stock.stock_levels(session, admin)}
            written_off = {r.lot: sum(r.difference.values()) for r in stock.reconcile(session, admin, "2026-12").lots}
            for lot, level in levels.items():
                kit = _lot(session, lot)
                runs = session.exec(
                    select(TestResult).where(
                        TestResult.kit_lot_id == kit.id,
                        TestResult.correction_reason.in_(["", "retest after rejection"]),  # type: ignore[attr-defined]
                    )
                ).all()
                # one card per run of the day (a repeat is a run; a correction re-reads the same card)
                taken = level.received - level.remaining - written_off[lot]  # controls' cards are QC, not tests
                assert taken == len(runs) == summary.stock_used.get(lot, 0), lot
            report = stock.reconcile(session, admin, "2026-12")
            assert report.balanced
            for row in report.lots:
                assert row.units_by_tests == summary.stock_used.get(row.lot, 0)
                assert row.tests_recorded == row.units_by_tests and row.tests_without_units == 0
                assert row.opening + row.received - row.units_by_tests - sum(row.difference.values()) == row.closing
            # an exhausted lot refuses the next result with a clear reason
            used = max(summary.stock_used, key=lambda lot: summary.stock_used[lot])
            kit = _lot(session, used)
            stock.write_off(session, admin, int(kit.id or 0), "other", levels[used].remaining, "counted out")
            session.commit()
            sample = session.exec(
                select(TestResult).where(TestResult.kit_lot_id == kit.id).order_by(col(TestResult.id))
            ).first()
            assert sample is not None
            tester = _actor(session, "tester")
            from lims.models import Sample, TestItem

            label = session.get(Sample, sample.sample_id)
            item = session.get(TestItem, sample.item_id)
            assert label is not None and item is not None
            data = ResultSubmit(sample_label_id=label.label_id, item_code=item.code, raw=NEGATIVE_CARD, kit_lot=used)
            with pytest.raises(stock.LotExhausted, match=f"kit lot {used} is used up"):
                records.submit(session, tester, data)


def test_a_control_run_takes_its_card_as_qc_even_before_acceptance(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    lot_id = _stocked(engine, 2, accept=False)
    body = {"item_code": "CLB", "kit_lot": "CLB-2611A", "kind": "negative", "raw": NEGATIVE_CARD}
    assert client.post("/api/v1/qc/controls", json=body, headers=headers["tester"]).status_code == 201
    assert _remaining(engine, lot_id) == 1
    with Session(engine) as session:
        admin = _actor(session, "admin")
        year, month = clock.this_month(clock.zone_of(session, admin.district_id))
        row = next(r for r in stock.reconcile(session, admin, f"{year:04d}-{month:02d}").lots if r.kit_lot_id == lot_id)
        assert row.qc == 1 and row.difference == {"qc": 1} and row.units_by_tests == 0
