"""The centre applies a vehicle's push: verify the segment, insert each record once, acknowledge.

One transaction per batch, with the vehicle's row locked (two pushes of one vehicle never interleave):
a record whose idempotency key was applied before is skipped (a replay after a lost acknowledgement costs
nothing and is acknowledged again); a new one must carry the row state its last event vouches for, gets
its foreign keys to the vehicle's other rows translated through the id map, is inserted or updated, and is
audited on the centre's own chain. A refused segment changes nothing but the vehicle's refusal count and
last error, and an event at the centre saying why (`record_refusal`, in a transaction of its own).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from lims.i18n import _N
from lims.models import KitStock, SyncApplied, SyncRowMap, Vehicle
from lims.models.common import utcnow
from lims.models.sync import MAX_ERROR, Operation, PushAck, PushBody, PushRecord
from lims.services.core import atomic, audit
from lims.services.core.audit import Actor, canonical, snapshot
from lims.services.core.audit_tables import district_chain
from lims.services.core.errors import Conflict, Invalid, ServiceError
from lims.services.sync import rows, segment
from lims.services.sync.ownership import CENTRE_FIELDS, NODE_FIELDS, NODE_OWNED
from lims.services.sync.segment import Accepted, SegmentRefused
from lims.services.sync.vehicles import ENTITY, audit_key_of


def _lock(session: Session, vehicle: Vehicle) -> Vehicle:
    locked = session.exec(select(Vehicle).where(Vehicle.id == vehicle.id).with_for_update()).one()
    return locked


def centre_id(session: Session, vehicle: Vehicle, table_name: str, node_id: int) -> int | None:
    """The centre id of a vehicle's row, None when it has not arrived."""
    return session.exec(
        select(SyncRowMap.centre_id).where(
            SyncRowMap.vehicle_id == vehicle.id, SyncRowMap.table_name == table_name, SyncRowMap.node_id == node_id
        )
    ).first()


def node_id(session: Session, vehicle: Vehicle, table_name: str, centre: int) -> int | None:
    """The node id of a centre row that came from `vehicle`, None when it did not."""
    return session.exec(
        select(SyncRowMap.node_id).where(
            SyncRowMap.vehicle_id == vehicle.id, SyncRowMap.table_name == table_name, SyncRowMap.centre_id == centre
        )
    ).first()


def _vouched(record: PushRecord, accepted: Accepted) -> tuple[dict[str, Any], str, Actor]:
    """The row state the record's last event vouches for, the event's action and actor; refused if it differs."""
    events = []
    for chain, seq in record.events:
        found = accepted.events.get((chain, seq))
        if found is None or found.entity != record.table or found.entity_id != record.row:
            raise SegmentRefused(
                "sync.record_without_event",
                _N("record {sequence} ({table} {row}) comes without the audit event that vouches for it"),
                sequence=record.sequence,
                table=record.table,
                row=record.row,
            )
        events.append(found)
    last = max(events, key=lambda e: e.seq)
    vouched = dict(last.after or {})
    if record.table not in NODE_OWNED:
        vouched = {name: vouched.get(name) for name in NODE_FIELDS[record.table]} | {"id": record.row}
    if canonical(vouched) != canonical(record.payload):
        raise SegmentRefused(
            "sync.record_changed",
            _N("record {sequence} ({table} {row}) is not what its audit event vouches for (changed after the fact)"),
            sequence=record.sequence,
            table=record.table,
            row=record.row,
        )
    return vouched, last.action, Actor(name=last.actor, role=last.role)


def _translated(session: Session, vehicle: Vehicle, record: PushRecord, model: type[SQLModel]) -> dict[str, Any]:
    """The record's values with the foreign keys to the vehicle's own rows turned into centre ids."""
    values = rows.from_json(model, {k: v for k, v in record.payload.items() if k != "id"})
    for column, target in rows.foreign_keys(record.table).items():
        if target in NODE_OWNED and values.get(column) is not None:
            found = centre_id(session, vehicle, target, int(values[column]))
            if found is None:
                raise Conflict(
                    "sync.parent_missing",
                    _N("record {sequence} refers to {table} {row} of the vehicle, which has not arrived"),
                    sequence=record.sequence,
                    table=target,
                    row=values[column],
                )
            values[column] = found
    if "district_id" in values and values["district_id"] != vehicle.district_id:
        raise Invalid(
            "sync.other_district",
            _N("record {sequence} belongs to another district than the vehicle's"),
            sequence=record.sequence,
        )
    return values


def _move_holding(session: Session, actor: Actor, vehicle: Vehicle, values: dict[str, Any]) -> int:
    """Book a stock movement made on the vehicle on the centre's holding (the units were taken at the point, so
    the booking is not refused); returns the holding's balance after it, which the centre's movement records."""
    holding = session.get(KitStock, values.get("kit_stock_id"))
    if holding is None or holding.district_id != vehicle.district_id:
        raise Invalid(
            "sync.unknown_holding", _N("a stock movement of the vehicle names a kit holding its district does not have")
        )
    before = snapshot(holding)
    atomic.update_where(session, holding, {}, {"remaining": col(KitStock.remaining) + int(values["quantity"])})
    audit.record(session, actor, holding, "vehicle_movement", before)
    return holding.remaining


def _apply(session: Session, vehicle: Vehicle, record: PushRecord, accepted: Accepted) -> None:
    model = rows.model_of(record.table)
    if model is None or (record.table not in NODE_OWNED and record.table not in NODE_FIELDS):
        raise Invalid("sync.not_node_owned", _N("a vehicle cannot send changes of {table}"), table=record.table)
    _vouched_state, action, actor = _vouched(record, accepted)
    actor = Actor(name=f"{actor.name}@{vehicle.code}", role=actor.role)
    values = _translated(session, vehicle, record, model)
    if record.table in NODE_OWNED:
        target = centre_id(session, vehicle, record.table, record.row)
        if target is None:
            if record.operation != Operation.INSERT:
                raise Conflict(
                    "sync.update_before_insert",
                    _N("record {sequence} changes {table} {row}, which has not arrived"),
                    sequence=record.sequence,
                    table=record.table,
                    row=record.row,
                )
            if record.table == "stock_movement":
                values["balance_after"] = _move_holding(session, actor, vehicle, values)
            row = model(**values)
            session.add(row)
            session.flush()
            assert vehicle.id is not None
            session.add(
                SyncRowMap(
                    vehicle_id=vehicle.id,
                    table_name=record.table,
                    node_id=record.row,
                    centre_id=row.id,  # type: ignore[attr-defined]
                )
            )
            audit.record(session, actor, row, action, None)
            return
        values = {k: v for k, v in values.items() if k not in CENTRE_FIELDS.get(record.table, frozenset())}
    else:
        target = record.row
    row_found = session.get(model, target)
    if row_found is None:
        raise Conflict(
            "sync.row_missing", _N("{table} {row} does not exist at the centre"), table=record.table, row=target
        )
    if "district_id" in model.model_fields and row_found.district_id != vehicle.district_id:  # type: ignore[attr-defined]
        raise Invalid(
            "sync.other_district",
            _N("record {sequence} belongs to another district than the vehicle's"),
            sequence=record.sequence,
        )
    before = snapshot(row_found)
    for name, value in values.items():
        setattr(row_found, name, value)
    session.add(row_found)
    session.flush()
    if snapshot(row_found) != before:
        audit.record(session, actor, row_found, action, before)


def apply_push(session: Session, vehicle: Vehicle, body: PushBody, key: bytes | None = None) -> PushAck:
    """Verify and apply one push of `vehicle` and commit; SegmentRefused or another ServiceError on refusal
    (nothing applied)."""
    vehicle = _lock(session, vehicle)
    sequences = [record.sequence for record in body.records]
    if sequences != sorted(set(sequences)):
        raise Invalid("sync.records_out_of_order", _N("the records of a push must come in their outbox order"))
    accepted = segment.verify(session, vehicle, body.events, key or audit_key_of(vehicle))
    keys = [record.key for record in body.records]
    done = (
        set(
            session.exec(
                select(SyncApplied.idempotency_key).where(
                    SyncApplied.vehicle_id == vehicle.id, col(SyncApplied.idempotency_key).in_(keys)
                )
            ).all()
        )
        if keys
        else set()
    )
    applied = 0
    assert vehicle.id is not None
    for record in body.records:
        if record.key in done:
            continue
        _apply(session, vehicle, record, accepted)
        session.add(SyncApplied(vehicle_id=vehicle.id, idempotency_key=record.key, sequence=record.sequence))
        applied += 1
    segment.store_heads(session, vehicle, accepted.heads)
    vehicle.last_contact = utcnow()
    vehicle.backlog = body.backlog
    vehicle.last_error = None
    session.add(vehicle)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            "sync.push_conflict", _N("the push conflicts with rows at the centre (a duplicate); it was not applied")
        ) from None
    return PushAck(
        acked=max(sequences, default=0),
        applied=applied,
        heads={chain: count for chain, (count, _head) in accepted.heads.items()},
    )


def record_refusal(session: Session, vehicle: Vehicle, error: ServiceError, backlog: int | None = None) -> None:
    """Count a refused push on the vehicle, keep its reason and, for a segment that does not verify, record an
    event at the centre; commits."""
    session.rollback()
    locked = _lock(session, vehicle)
    locked.last_contact = utcnow()
    locked.last_error = error.reason[:MAX_ERROR]
    if backlog is not None:
        locked.backlog = backlog
    if isinstance(error, SegmentRefused):
        locked.refused += 1
        assert locked.id is not None
        audit.append(
            session,
            Actor(name=locked.code, role="vehicle"),
            district_chain(locked.district_id),
            ENTITY,
            locked.id,
            "push_refused",
            None,
            {"code": locked.code, "reason": error.code, "params": error.json_params(), "at": utcnow().isoformat()},
        )
    session.add(locked)
    session.commit()
