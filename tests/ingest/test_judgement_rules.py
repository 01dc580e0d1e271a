"""The judgement rules on a real database, by the API and by the instrument path: repeats of a positive
consolidated into one result, kit lots per matrix, invalid runs for an expired kit or an uncalibrated
instrument, reported values, the interfering-vegetable flag."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from instrument_drivers.reading import Reading
from lims.models import Instrument, KitLot, PositiveCase, TestItem, TestResult
from lims.services.core.audit import verify
from lims.services.core.audit_tables import AUDITED_MODELS
from lims.services.core.errors import Invalid
from lims.services.reference import reference_data
from lims.services.results import ingest
from tests.core.helpers import POSITIVE_OPC, act, register

NEGATIVE = {"control_dA": 0.60, "sample_dA": 0.48}  # (0.60 - 0.48) / 0.60 = 20 %
POSITIVE_2 = {"control_dA": 0.50, "sample_dA": 0.10}  # 80 %
POSITIVE_3 = {"control_dA": 0.50, "sample_dA": 0.20}  # 60 %
INVALID = {"control_dA": 0.20, "sample_dA": 0.10}  # control ΔA below 0.3


def _post(client: TestClient, h: dict[str, str], label: str, raw: dict[str, float], **extra: Any) -> dict[str, Any]:
    body = {"sample_label_id": label, "item_code": "OPC", "raw": raw, **extra}
    response = client.post("/api/v1/results", json=body, headers=h)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _method(engine: Engine, code: str, **keys: Any) -> None:
    with Session(engine) as session:
        item = session.exec(select(TestItem).where(TestItem.code == code)).one()
        item.method = {**item.method, **keys}
        session.add(item)
        session.commit()


# --- repeats of a positive (GB/T 5009.199-2003: a positive is tested again twice) ----------------------


def test_positive_waits_for_its_repeats_and_cannot_be_approved(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    label = register(client, headers["tester"])["label_id"]
    first = _post(client, headers["tester"], label, POSITIVE_OPC)  # 70 %
    assert first["judgement"] == "positive" and first["repeat_state"] == "pending"
    assert first["repeats_required"] == 2 and first["reason_code"] == "repeat_required"
    assert "0 of 2" in first["reason"] and "70.0 %" in first["reason"]  # reported to 0.1 % (the item's decimals)
    refused = act(client, headers["reviewer"], first["id"], "approve", acknowledge_flags=True)
    assert refused.status_code == 409 and refused.json()["code"] == "workflow.repeat_required"
    assert "0 of 2" in refused.json()["detail"]

    second = _post(client, headers["tester"], label, POSITIVE_2)
    assert second["id"] == first["id"] and second["repeat_state"] == "pending" and "1 of 2" in second["reason"]
    assert act(client, headers["reviewer"], first["id"], "approve").status_code == 409

    third = _post(client, headers["tester"], label, POSITIVE_3)
    # confirmed: every run positive; the value is the mean (70 + 80 + 60) / 3 = 70 %
    assert third["id"] == first["id"] and third["repeat_state"] == "confirmed"
    assert third["judgement"] == "positive" and third["value"] == pytest.approx(70.0)
    assert third["reason_code"] == "repeats_confirmed" and third["repeat_runs"] == 2
    assert [run["value"] for run in third["raw"]["runs"]] == pytest.approx([70.0, 80.0, 60.0])

    assert act(client, headers["reviewer"], first["id"], "approve").status_code == 200
    with Session(engine) as session:
        rows = session.exec(select(TestResult).order_by(TestResult.id)).all()
        cases = session.exec(select(PositiveCase)).all()
        assert verify(session, AUDITED_MODELS) is None
    # one result carries the verdict; the repeats are kept as its runs
    assert [(r.status, r.repeat_of_id) for r in rows] == [
        ("approved", None),
        ("superseded", first["id"]),
        ("superseded", first["id"]),
    ]
    assert [c.result_id for c in cases] == [first["id"]]  # the case opens on the consolidated positive


def test_a_repeat_that_does_not_confirm_makes_it_negative_and_no_case(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    label = register(client, headers["tester"])["label_id"]
    first = _post(client, headers["tester"], label, POSITIVE_OPC)
    invalid = _post(client, headers["tester"], label, INVALID)
    assert invalid["repeat_state"] == "pending" and "0 of 2" in invalid["reason"]  # an invalid repeat does not count
    done = _post(client, headers["tester"], label, NEGATIVE)
    assert done["id"] == first["id"] and done["repeat_state"] == "not_confirmed"
    assert done["judgement"] == "negative" and done["value"] == pytest.approx(20.0)
    assert done["reason_code"] == "repeats_not_confirmed" and "70.0 %, 20.0 %" in done["reason"]
    assert [run["judgement"] for run in done["raw"]["runs"]] == ["positive", "invalid", "negative"]
    assert act(client, headers["reviewer"], first["id"], "approve").status_code == 200
    with Session(engine) as session:
        assert session.exec(select(PositiveCase)).all() == []
    # once consolidated, another run is a result of its own again
    after = _post(client, headers["tester"], label, NEGATIVE)
    assert after["id"] != first["id"] and after["repeat_of_id"] is None


def test_a_negative_or_an_item_without_repeats_is_reviewable_at_once(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    label = register(client, headers["tester"])["label_id"]
    negative = _post(client, headers["tester"], label, NEGATIVE)
    assert negative["repeat_state"] == "" and negative["repeats_required"] == 0
    _method(engine, "OPC", repeats_for_positive=0)
    other = register(client, headers["tester"])["label_id"]
    positive = _post(client, headers["tester"], other, POSITIVE_OPC)
    assert positive["repeat_state"] == "" and positive["reason_code"] == "inhibition_above_threshold"
    assert act(client, headers["reviewer"], positive["id"], "approve").status_code == 200


def _reading(label: str, sequence: int, control: float, sample: float) -> Reading:
    return Reading(
        instrument_serial="PR-8CH-0001",
        family="pesticide",
        sequence=sequence,
        item_code="OPC",
        channel=1,
        sample_label_id=label,
        raw={"run": sequence, "control_dA": control, "sample_dA": sample},
        value=(control - sample) / control * 100,
        unit="%",
        judgement="positive" if (control - sample) / control >= 0.5 else "negative",
    )


def test_repeats_from_the_instrument_are_attached_once(client: TestClient, headers: dict, engine: Engine) -> None:
    label = register(client, headers["tester"])["label_id"]
    readings = [_reading(label, 101, 0.60, 0.18), _reading(label, 102, 0.50, 0.10), _reading(label, 103, 0.50, 0.20)]
    with Session(engine) as session:
        first = ingest.store(session, readings[0])
        session.commit()
    with Session(engine) as session:
        second = ingest.store(session, readings[1])
        again = ingest.store(session, readings[1])  # re-sent after a lost acknowledgement
        session.commit()
    with Session(engine) as session:
        ingest.store(session, readings[2])
        session.commit()
        result = session.get(TestResult, first.result_id)
        runs = session.exec(select(TestResult).where(TestResult.repeat_of_id == first.result_id)).all()
    assert second.result_id == first.result_id and again.duplicate and again.result_id == first.result_id
    assert result is not None and result.repeat_state == "confirmed" and result.repeat_runs == 2
    assert result.value == pytest.approx(70.0)
    assert sorted(r.instrument_sequence for r in runs) == [102, 103]
    assert [run["instrument_sequence"] for run in result.raw["runs"]] == [101, 102, 103]


# --- kit lots per matrix, invalid runs, reported values ------------------------------------------------


def _afb1(client: TestClient, h: dict[str, str], category: str, **extra: Any) -> dict[str, Any]:
    label = register(client, h, category_code=category, product_name="样品")["label_id"]
    body = {"sample_label_id": label, "item_code": "AFB1", "raw": {"t": 0.70, "c": 1.00}, **extra}
    response = client.post("/api/v1/results", json=body, headers=h)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_aflatoxin_tc_is_judged_by_the_lot_and_the_matrix(client: TestClient, headers: dict) -> None:
    h = headers["tester"]
    maize = _afb1(client, h, "MAIZE", kit_lot="AFB1-2609C")
    rice = _afb1(client, h, "RICE", kit_lot="AFB1-2609C")
    wheat = _afb1(client, h, "WHEAT", kit_lot="AFB1-2609C")
    # T/C 0.70 against the lot's 0.60 (maize), 0.72 (rice), 0.85 (wheat)
    assert [r["judgement"] for r in (maize, rice, wheat)] == ["negative", "positive", "positive"]
    assert [r["raw"]["details"]["detection_limit"] for r in (maize, rice, wheat)] == [5.0, 2.5, 1.5]
    assert maize["raw"]["details"]["detection_limit_unit"] == "µg/kg"
    none = _afb1(client, h, "MAIZE")
    assert none["judgement"] == "invalid" and none["reason_code"] == "no_kit_lot"


def test_a_lot_not_covering_the_matrix_gives_an_invalid_result(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    with Session(engine) as session:
        item = session.exec(select(TestItem).where(TestItem.code == "AFB1")).one()
        lot = session.exec(select(KitLot).where(KitLot.lot == "AFB1-2609C")).one()
        lot.matrices = {k: v for k, v in lot.matrices.items() if k != "PEANUT"}
        session.add(lot)
        session.commit()
        assert item.id == lot.item_id
    peanut = _afb1(client, headers["tester"], "PEANUT", kit_lot="AFB1-2609C")
    assert peanut["judgement"] == "invalid" and peanut["reason_code"] == "kit_lot_no_matrix"
    assert peanut["reason_params"] == {"lot": "AFB1-2609C", "matrix": "PEANUT"}


def test_instrument_past_calibration_gives_invalid_results_on_the_gateway(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    with Session(engine) as session:
        instrument = session.exec(select(Instrument).where(Instrument.serial == "PR-8CH-0001")).one()
        instrument.calibration_due = date(2026, 1, 31)
        session.add(instrument)
        session.commit()
    label = register(client, headers["tester"])["label_id"]
    with Session(engine) as session:
        stored = ingest.store(session, _reading(label, 55, 0.60, 0.48))
        session.commit()
        result = session.get(TestResult, stored.result_id)
    assert result is not None and result.judgement == "invalid" and result.reason_code == "calibration_overdue"
    assert result.reason_params["serial"] == "PR-8CH-0001" and result.reason_params["due"] == "2026-01-31"
    assert result.value is None and "calibration_overdue" not in result.flags
    assert result.instrument_judgement == "negative" and "instrument_disagrees" in result.flags


def test_expired_gold_lot_on_the_gateway_is_invalid(client: TestClient, headers: dict, engine: Engine) -> None:
    label = register(client, headers["tester"], category_code="PORK", product_name="猪肉")["label_id"]
    reading = Reading(
        instrument_serial="GR-CR-0001",
        family="gold",
        sequence=9,
        item_code="CLB",
        sample_label_id=label,
        raw={"t": 1.0, "c": 1.0, "kit_lot": "CLB-2505X"},
        judgement="negative",
    )
    with Session(engine) as session:
        stored = ingest.store(session, reading)
        session.commit()
        result = session.get(TestResult, stored.result_id)
    assert result is not None and result.judgement == "invalid" and result.reason_code == "kit_lot_expired"
    assert result.reason_params["lot"] == "CLB-2505X" and result.reason_params["expires_on"] == "2026-05-31"


def test_reported_value_is_rounded_and_kept_beside_the_full_value(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    _method(engine, "OPC", significant_figures=3, repeats_for_positive=0)
    label = register(client, headers["tester"])["label_id"]
    # (0.600 - 0.2985) / 0.600 = 50.25 % → 50.3 % to three significant figures; compared in full: positive
    result = _post(client, headers["tester"], label, {"control_dA": 0.600, "sample_dA": 0.2985})
    assert result["value"] == pytest.approx(50.25) and result["reported_value"] == "50.3"
    assert result["raw"]["details"]["reported_value"] == "50.3" and "50.3 %" in result["reason"]
    with Session(engine) as session:
        row = session.get(TestResult, result["id"])
        assert row is not None and row.reported_value == "50.3"


def test_interfering_vegetable_is_flagged_with_the_alternative_procedure(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    _method(engine, "OPC", interfering_species=["葱", "蒜", "萝卜", "韭菜", "芹菜", "香菜", "茭白", "蘑菇", "番茄"])
    label = register(client, headers["tester"], product_name="小葱", category_code="VEG")["label_id"]
    flagged = _post(client, headers["tester"], label, NEGATIVE)
    assert flagged["flags"] == ["interfering_species"]
    plain = _post(client, headers["tester"], register(client, headers["tester"])["label_id"], NEGATIVE)
    assert plain["flags"] == []
    from lims.services.results.records import FLAG_TEXT

    assert "整株" in FLAG_TEXT["interfering_species"] and "表面测定法" in FLAG_TEXT["interfering_species"]


# --- the kit_lots block of the reference data ----------------------------------------------------------


def test_kit_lot_matrices_are_loaded_and_checked(engine: Engine) -> None:
    with Session(engine) as session:
        lot = session.exec(select(KitLot).where(KitLot.lot == "AFB1-2609C")).one()
        assert lot.matrices["WHEAT"] == {"cutoff_tc": 0.85, "detection_limit": 1.5}
        assert lot.cutoff_tc is None and lot.detection_limit_unit == "µg/kg"
    bad = {"lot": "X-1", "matrices": {"NOPE": {"cutoff_tc": 0.5}}}
    with pytest.raises(Invalid) as unknown:
        reference_data._kit_matrices(bad, {"MAIZE": object()})  # type: ignore[dict-item]
    assert unknown.value.code == "reference_data.kit_unknown_matrix"
    with pytest.raises(Invalid) as negative:
        reference_data._kit_matrices({"lot": "X-1", "matrices": {"MAIZE": {"cutoff_tc": -1}}}, {"MAIZE": object()})  # type: ignore[dict-item]
    assert negative.value.code == "reference_data.kit_figure_positive"
