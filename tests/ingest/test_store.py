"""Storing readings: judged again by the LIMS, exactly once, unknown samples held, disagreements flagged."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from instrument_drivers.reading import Reading
from lims.models import AuditEvent, HeldReading, TestResult
from lims.services.core.audit import verify
from lims.services.core.audit_tables import AUDITED_MODELS
from lims.services.results import ingest
from tests.core.helpers import register


def _pesticide(label: str | None, sequence: int, control: float, sample: float, judgement: str) -> Reading:
    return Reading(
        instrument_serial="PR-8CH-0001",
        family="pesticide",
        sequence=sequence,
        item_code="OPC",
        channel=sequence % 8,
        sample_label_id=label,
        raw={
            "run": 1,
            "control_dA": control,
            "sample_dA": sample,
            "inhibition_pct": (control - sample) / control * 100,
        },
        value=(control - sample) / control * 100,
        unit="%",
        judgement=judgement,
    )


def test_reading_becomes_a_judged_result_once(client: TestClient, headers: dict, engine: Engine) -> None:
    label = register(client, headers["tester"])["label_id"]
    reading = _pesticide(label, 41, 0.60, 0.18, "positive")  # 70 % inhibition
    with Session(engine) as session:
        first = ingest.store(session, reading)
        session.commit()
    with Session(engine) as session:
        again = ingest.store(session, reading)
        session.commit()
        results = session.exec(select(TestResult)).all()
    assert not first.duplicate and again.duplicate and again.result_id == first.result_id
    assert len(results) == 1
    assert first.judgement == "positive" and abs((first.value or 0) - 70.0) < 1e-9
    assert results[0].raw["instrument"]["run"] == 1 and results[0].instrument_sequence == 41


def test_disagreement_with_the_instrument_is_flagged(client: TestClient, headers: dict, engine: Engine) -> None:
    label = register(client, headers["tester"])["label_id"]
    with Session(engine) as session:
        stored = ingest.store(session, _pesticide(label, 7, 0.60, 0.48, "positive"))  # 20 %: negative for us
        session.commit()
        result = session.get(TestResult, stored.result_id)
    assert result is not None and result.judgement == "negative"
    assert "instrument_disagrees" in result.flags


def test_unknown_sample_and_instrument_are_held_not_dropped(engine: Engine) -> None:
    with Session(engine) as session:
        unknown_sample = ingest.store(session, _pesticide("ZZ0000000000", 1, 0.6, 0.5, "negative"))
        stranger = Reading(
            instrument_serial="NOPE-1", family="gold", sequence=3, item_code="CLB", raw={"t": 1.0, "c": 1.0}
        )
        unknown_instrument = ingest.store(session, stranger)
        session.commit()
    with Session(engine) as session:
        again = ingest.store(session, stranger)
        held = session.exec(select(HeldReading)).all()
        assert verify(session, AUDITED_MODELS) is None
        assert session.exec(select(AuditEvent).where(AuditEvent.entity == "held_reading")).all()
    assert unknown_sample.held_id and "unknown sample" in unknown_sample.hold_reason
    assert unknown_instrument.held_id and "unknown instrument" in unknown_instrument.hold_reason
    assert again.duplicate and len(held) == 2
    with Session(engine) as session:
        listed = [s.as_json() for s in ingest.stored_for(session, "NOPE-1")]
    assert listed == [{**listed[0], "sequence": 3, "held": True}]
