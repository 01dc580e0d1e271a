"""The node's audit segment: the events a push carries, and the centre's check of them.

Each of the node's chains continues, at the centre, from the last event the centre accepted for that
vehicle (`VehicleChain`). An event is authentic when its content hashes to its `hash` and its `mac` is the
HMAC of that hash under the vehicle's audit key; a segment is accepted when every event is authentic and
each chain continues without a gap from the accepted head (events the centre accepted before may come
again, as after a lost acknowledgement: they are checked, then skipped). A record is accepted only with
the row state its last event vouches for, so an outbox record, an event or a row edited on the node after
the fact is refused.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from lims.i18n import _N
from lims.models import AuditEvent, Vehicle, VehicleChain
from lims.models.sync import SegmentEvent
from lims.services.core.audit import GENESIS, canonical, event_hash
from lims.services.core.audit_keys import event_mac
from lims.services.core.errors import Conflict


class SegmentRefused(Conflict):
    """The node's audit segment does not verify: its records were changed after the fact, or events are missing."""


@dataclass
class Accepted:
    """A verified segment: the events by (chain, seq) and the chain heads after it."""

    events: dict[tuple[str, int], SegmentEvent] = field(default_factory=dict)
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    new_events: int = 0


def event_values(row: AuditEvent) -> dict[str, Any]:
    """An event row as it travels (times as the hash writes them)."""
    at = row.at
    return {
        "chain": row.chain,
        "seq": int(row.seq),
        "at": canonical(at).strip('"'),
        "actor": row.actor,
        "role": row.role,
        "entity": row.entity,
        "entity_id": int(row.entity_id),
        "action": row.action,
        "before": row.before,
        "after": row.after,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
        "mac": row.mac,
    }


def node_events(session: Session, chain: str, after: int, upto: int) -> list[dict[str, Any]]:
    """The node's events of `chain` with `after` < seq <= `upto`, in order."""
    rows = session.exec(
        select(AuditEvent)
        .where(AuditEvent.chain == chain, col(AuditEvent.seq) > after, col(AuditEvent.seq) <= upto)
        .order_by(col(AuditEvent.seq))
    ).all()
    return [event_values(row) for row in rows]


def accepted_heads(session: Session, vehicle: Vehicle) -> dict[str, tuple[int, str]]:
    """The heads of the vehicle's chains the centre has accepted: chain -> (count, hash of the last)."""
    rows = session.exec(select(VehicleChain).where(VehicleChain.vehicle_id == vehicle.id)).all()
    return {row.chain: (int(row.count), row.head) for row in rows}


def verify(session: Session, vehicle: Vehicle, events: list[SegmentEvent], key: bytes) -> Accepted:
    """Check a pushed segment against the vehicle's accepted heads; SegmentRefused says what is wrong."""
    accepted = Accepted(heads=accepted_heads(session, vehicle))
    for item in sorted(events, key=lambda e: (e.chain, e.seq)):
        where: dict[str, Any] = {"chain": item.chain, "seq": item.seq}
        if event_hash(item.model_dump()) != item.hash:
            raise SegmentRefused(
                "sync.event_content_changed",
                _N("event {seq} of the vehicle's chain {chain} does not match its hash (changed after the fact)"),
                **where,
            )
        if item.mac is None or not hmac.compare_digest(item.mac, event_mac(key, item.hash)):
            raise SegmentRefused(
                "sync.event_mac_refused",
                _N("event {seq} of the vehicle's chain {chain} is not signed with the vehicle's key"),
                **where,
            )
        count, head = accepted.heads.get(item.chain, (0, GENESIS))
        if item.seq == count + 1:
            if item.prev_hash != head:
                raise SegmentRefused(
                    "sync.chain_link_broken",
                    _N("event {seq} of the vehicle's chain {chain} does not follow the accepted one"),
                    **where,
                )
            accepted.heads[item.chain] = (item.seq, item.hash)
            accepted.new_events += 1
        elif item.seq > count + 1:
            raise SegmentRefused(
                "sync.chain_gap",
                _N("events {first} to {last} of the vehicle's chain {chain} are missing"),
                chain=item.chain,
                first=count + 1,
                last=item.seq - 1,
            )
        elif item.seq == count and item.hash != head:
            raise SegmentRefused(
                "sync.event_replaced",
                _N("event {seq} of the vehicle's chain {chain} is not the one accepted before"),
                **where,
            )
        accepted.events[(item.chain, item.seq)] = item
    return accepted


def store_heads(session: Session, vehicle: Vehicle, heads: dict[str, tuple[int, str]]) -> None:
    """Keep the accepted heads (in the push's transaction)."""
    assert vehicle.id is not None
    stored = {row.chain: row for row in session.exec(select(VehicleChain).where(VehicleChain.vehicle_id == vehicle.id))}
    for chain, (count, head) in heads.items():
        row = stored.get(chain)
        if row is None:
            session.add(VehicleChain(vehicle_id=vehicle.id, chain=chain, count=count, head=head))
        elif int(row.count) != count:
            row.count, row.head = count, head
            session.add(row)
