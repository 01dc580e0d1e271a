"""The sync engine in one process: outbox atomicity, exactly-once push, refused tampering, pull, enrolment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from lims.models import (
    AuditEvent,
    KitLot,
    KitStock,
    Review,
    Sample,
    StockMovement,
    SyncApplied,
    SyncOutbox,
    TestResult,
    Vehicle,
)
from lims.models.common import utcnow
from lims.models.results import ResultSubmit
from lims.models.samples import SampleCreate
from lims.services.core import audit
from lims.services.core.audit import SYSTEM
from lims.services.core.audit_tables import AUDITED_MODELS
from lims.services.core.errors import Unauthorized
from lims.services.lab import stock
from lims.services.results import records, reviewing
from lims.services.samples import sampling
from lims.services.sync import vehicles
from lims.services.sync.segment import SegmentRefused
from lims.services.sync.status import node_status, vehicle_statuses
from tests.sync.conftest import VEHICLE, actor, deliver, next_push, pull_all, push_all

# Each test enrols a node: a pull of the whole district from the centre, slow on PostgreSQL under load.
pytestmark = pytest.mark.timeout(300)

NEGATIVE_OPC = {"control_dA": 0.60, "sample_dA": 0.48}


def register(node: Engine, product: str = "小白菜") -> str:
    """A sample registered on the node, with one OPC result; returns its label id."""
    tester = actor(node, "tester")
    with Session(node) as session:
        sample = sampling.register(
            session, tester, SampleCreate(point_code="P05", product_name=product, category_code="VEG_LEAF")
        )
        label = sample.label_id
        session.commit()
        records.submit(session, tester, ResultSubmit(sample_label_id=label, item_code="OPC", raw=NEGATIVE_OPC))
        session.commit()
    return label


def count(engine: Engine, model: type, *where: object) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())  # type: ignore[arg-type]


def test_the_pull_gives_an_enrolled_node_its_district_data(node: Engine) -> None:
    with Session(node) as session:
        assert session.exec(select(func.count()).select_from(SyncOutbox)).one() == 0  # nothing of its own yet
        assert audit.verify(session, AUDITED_MODELS) is None
    assert count(node, Sample) == 0
    status = node_status(Session(node))
    assert status.vehicle == VEHICLE and status.waiting == 0


def test_a_change_and_its_outbox_record_commit_together_or_not_at_all(node: Engine) -> None:
    tester = actor(node, "tester")
    with Session(node) as session:
        sampling.register(
            session, tester, SampleCreate(point_code="P05", product_name="菠菜", category_code="VEG_LEAF")
        )
        session.flush()
        assert session.exec(select(func.count()).select_from(Sample)).one() == 1
        session.rollback()
    assert count(node, Sample) == 0
    assert count(node, SyncOutbox) == 0

    label = register(node)
    with Session(node) as session:
        rows = session.exec(select(SyncOutbox).order_by(col(SyncOutbox.id))).all()
        tables = [row.table_name for row in rows]
        assert "sample" in tables and "test_result" in tables
        sample_record = next(row for row in rows if row.table_name == "sample")
        assert sample_record.payload["label_id"] == label
        assert sample_record.operation == "insert"
        event = session.exec(
            select(AuditEvent).where(AuditEvent.entity == "sample", AuditEvent.entity_id == sample_record.row_key)
        ).one()
        assert [event.chain, event.seq] in sample_record.events
    assert node_status(Session(node)).waiting == len(rows)


def test_a_push_is_applied_exactly_once_even_when_replayed(engine: Engine, node: Engine) -> None:
    labels = [register(node, f"样品{i}") for i in range(3)]
    body = next_push(node)
    assert body is not None
    first = deliver(engine, body)
    replay = deliver(engine, body)  # the acknowledgement was lost: the node sends the same batch again
    assert first.acked == replay.acked == body.records[-1].sequence
    assert first.applied == len(body.records) and replay.applied == 0
    for label in labels:
        assert count(engine, Sample, Sample.label_id == label) == 1
    with Session(engine) as session:
        centre_sample = session.exec(select(Sample).where(Sample.label_id == labels[0])).one()
        results = session.exec(select(TestResult).where(TestResult.sample_id == centre_sample.id)).all()
        assert len(results) == 1 and results[0].status == "tested"  # in the centre's review queue
        assert count(engine, SyncApplied) == len(body.records)
        assert audit.verify(session, AUDITED_MODELS) is None
    push_all(engine, node)
    assert next_push(node) is None
    assert node_status(Session(node)).waiting == 0
    with Session(node) as session:
        assert audit.verify(session, AUDITED_MODELS) is None


@pytest.mark.parametrize("what", ["row", "event"])
def test_a_node_record_changed_after_the_fact_is_refused_and_reported(engine: Engine, node: Engine, what: str) -> None:
    register(node, "pakchoi")
    with node.begin() as connection:
        if what == "row":
            connection.execute(text("UPDATE sample SET product_name = 'forged'"))
        else:
            changed = connection.execute(
                text("UPDATE audit_event SET after = replace(after, 'pakchoi', 'forged') WHERE entity = 'sample'")
            )
            assert changed.rowcount == 1
    body = next_push(node)
    assert body is not None
    with pytest.raises(SegmentRefused):
        deliver(engine, body)
    assert count(engine, Sample) == 0
    status = next(s for s in vehicle_statuses(Session(engine), "XQ") if s.vehicle == VEHICLE)
    assert status.refused == 1 and status.last_error
    with Session(engine) as session:
        refusal = session.exec(
            select(AuditEvent).where(AuditEvent.entity == "vehicle", AuditEvent.action == "push_refused")
        ).one()
        assert refusal.after is not None and refusal.after["code"] == VEHICLE


def test_a_review_at_the_centre_reaches_the_node(engine: Engine, node: Engine) -> None:
    label = register(node)
    push_all(engine, node)
    with Session(engine) as session:
        sample = session.exec(select(Sample).where(Sample.label_id == label)).one()
        result = session.exec(select(TestResult).where(TestResult.sample_id == sample.id)).one()
        reviewing.act(session, actor(engine, "reviewer"), int(result.id or 0), "approve")
        session.commit()
    pull_all(engine, node)
    with Session(node) as session:
        node_sample = session.exec(select(Sample).where(Sample.label_id == label)).one()
        node_result = session.exec(select(TestResult).where(TestResult.sample_id == node_sample.id)).one()
        assert node_result.status == "approved"
        review = session.exec(select(Review).where(Review.result_id == node_result.id)).one()
        assert review.action == "approve"
        assert audit.verify(session, AUDITED_MODELS) is None
        # the centre's decision is not the node's change: nothing goes back
        assert (
            session.exec(select(func.count()).select_from(SyncOutbox).where(col(SyncOutbox.acked_at).is_(None))).one()
            == 0
        )


def test_an_enrolment_code_works_once_and_not_after_it_expires(engine: Engine) -> None:
    with Session(engine) as session:
        _vehicle, code = vehicles.add_vehicle(session, SYSTEM, "VEH-02", "XQ")
        session.commit()
        grant = vehicles.enrol(session, "VEH-02", code.lower().replace("-", " "))
        session.commit()
        assert vehicles.authenticate(session, grant.credential).code == "VEH-02"
        with pytest.raises(Unauthorized):
            vehicles.enrol(session, "VEH-02", code)
        session.rollback()
        vehicle = session.exec(select(Vehicle).where(Vehicle.code == "VEH-02")).one()
        stored = vehicle.credential_hash or ""
        assert grant.credential not in stored and code not in (vehicle.enrol_code_hash or "")
        fresh = vehicles.issue_code(session, SYSTEM, vehicle)
        vehicle.enrol_expires_at = utcnow() - timedelta(seconds=1)
        session.add(vehicle)
        session.commit()
        with pytest.raises(Unauthorized):
            vehicles.enrol(session, "VEH-02", fresh)
        session.rollback()
        with pytest.raises(Unauthorized):
            vehicles.authenticate(session, "not-a-credential")


def test_a_card_used_on_the_vehicle_is_booked_on_the_centres_holding(engine: Engine, node: Engine) -> None:
    admin = actor(engine, "admin")
    with Session(engine) as session:
        lot_id = int(session.exec(select(KitLot.id).where(KitLot.lot == "CLB-2611A")).one() or 0)
        stock.receive(session, admin, lot_id, 10, note="delivery")
        stock.accept(session, admin, lot_id, True, "control cards read as expected")
        session.commit()
    pull_all(engine, node)  # the holding reaches the node
    tester = actor(node, "tester")
    with Session(node) as session:
        sample = sampling.register(
            session, tester, SampleCreate(point_code="P05", product_name="猪肉", category_code="PORK")
        )
        session.commit()
        card = ResultSubmit(
            sample_label_id=sample.label_id, item_code="CLB", raw={"t": 1.0, "c": 1.0}, kit_lot="CLB-2611A"
        )
        records.submit(session, tester, card)
        session.commit()
    push_all(engine, node)
    with Session(engine) as session:
        holding = session.exec(select(KitStock).where(KitStock.kit_lot_id == lot_id)).one()
        movements = session.exec(select(StockMovement).where(StockMovement.kit_stock_id == holding.id)).all()
        assert sorted(m.quantity for m in movements) == [-1, 10]
        assert holding.remaining == sum(m.quantity for m in movements) == 9
        used = next(m for m in movements if m.quantity == -1)
        result = session.get(TestResult, used.result_id)
        assert result is not None and result.kit_lot_id == lot_id  # the centre's own result row
        assert audit.verify(session, AUDITED_MODELS) is None
