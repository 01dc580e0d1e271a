"""The pull: what the centre decided since the node's cursor, and the node applying it with the cursor.

The centre's audit chains are the change log: every change of a row is an event at position `seq` of its
chain, and a chain's appends are serialised by the lock on its head, so `seq` grows in commit order and a
keyset on it never skips a change that commits late. A vehicle reads two chains: `shared` (districts, food
categories, items, limits, kit lots) and its district's (stations, points, users, instruments, kit holdings,
plans and tasks, and the reviews and results). The cursor is "<shared seq>.<district seq>"; the shared chain
is read up to its end before the district's, so that the rows a district's row refers to come first.
For each event the current row is sent once (a later change only sends it again); a review or result goes
only to the vehicle it came from, with the node's id for the result and only the fields the centre decides.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlmodel import Session, SQLModel, col, select

from lims.i18n import _N
from lims.models import AuditEvent, NodeIdentity, SyncCursor, Vehicle
from lims.models.common import utcnow
from lims.models.sync import MAX_PULL_CHANGES, PullChange, PullPage
from lims.services.core import audit
from lims.services.core.audit import Actor, canonical, snapshot
from lims.services.core.audit_tables import SHARED, district_chain
from lims.services.core.errors import Invalid
from lims.services.sync import rows
from lims.services.sync.apply import node_id
from lims.services.sync.outbox import pulling
from lims.services.sync.ownership import CENTRE_FIELDS, NODE_OWNED

# The centre's tables a node keeps a copy of, in no particular order (the chains give the order).
PULLED: frozenset[str] = frozenset(
    {
        "district",
        "station",
        "sampling_point",
        "food_category",
        "test_item",
        "item_limit",
        "kit_lot",
        "kit_stock",
        "instrument",
        "instrument_calibration",
        "app_user",
        "plan_version",
        "plan_task",
        "review",
        "test_result",
    }
)
CURSOR = re.compile(r"^\d{1,18}\.\d{1,18}$")
CENTRE = Actor(name="centre", role="system")


def parse_cursor(cursor: str | None) -> tuple[int, int]:
    """(shared seq, district seq) from the cursor text; 422 for anything else."""
    if not cursor:
        return 0, 0
    if not CURSOR.match(cursor):
        raise Invalid("sync.bad_cursor", _N("the cursor must look like 120.4031 (two whole numbers)"))
    shared, district = cursor.split(".")
    return int(shared), int(district)


def _plain_row(row: SQLModel) -> dict[str, Any]:
    """A row's values as JSON (secret columns too: a node signs users in offline with their hashes)."""
    values: dict[str, Any] = json.loads(canonical({name: getattr(row, name) for name in type(row).model_fields}))
    return values


def _change(session: Session, vehicle: Vehicle, entity: str, entity_id: int, action: str) -> PullChange | None:
    model = rows.model_of(entity)
    if entity not in PULLED or model is None:
        return None
    row = session.get(model, entity_id)
    if row is None:
        return None
    if entity in NODE_OWNED:  # a result that came from this vehicle: the fields the centre decides
        theirs = node_id(session, vehicle, entity, entity_id)
        if theirs is None:
            return None
        values = {name: v for name, v in _plain_row(row).items() if name in CENTRE_FIELDS[entity]}
        return PullChange(table=entity, id=theirs, action=action, values=values)
    values = _plain_row(row)
    for column, target in rows.foreign_keys(entity).items():
        if target in NODE_OWNED and values.get(column) is not None:
            theirs = node_id(session, vehicle, target, int(values[column]))
            if theirs is None:
                return None  # about another vehicle's or the centre's own row
            values[column] = theirs
    return PullChange(table=entity, id=entity_id, action=action, values=values)


def pull_page(session: Session, vehicle: Vehicle, cursor: str | None, limit: int = MAX_PULL_CHANGES) -> PullPage:
    """The changes for `vehicle` after `cursor`: at most `limit` events are read."""
    shared_at, district_at = parse_cursor(cursor)
    changes: dict[tuple[str, int], PullChange] = {}
    more = False
    for chain, after in ((SHARED, shared_at), (district_chain(vehicle.district_id), district_at)):
        events = session.exec(
            select(AuditEvent.seq, AuditEvent.entity, AuditEvent.entity_id, AuditEvent.action)
            .where(AuditEvent.chain == chain, col(AuditEvent.seq) > after)
            .order_by(col(AuditEvent.seq))
            .limit(limit)
        ).all()
        for seq, entity, entity_id, action in events:
            found = _change(session, vehicle, entity, int(entity_id), action)
            if found is not None:
                changes.pop((found.table, found.id), None)  # keep the order of the last change
                changes[(found.table, found.id)] = found
            after = int(seq)
        if chain == SHARED:
            shared_at = after
        else:
            district_at = after
        if len(events) == limit:
            more = True
            break  # the district's rows wait until the shared rows they refer to are on the node
    return PullPage(changes=list(changes.values()), cursor=f"{shared_at}.{district_at}", more=more)


def apply_page(session: Session, page: PullPage, district_id: int) -> int:
    """Apply a pulled page on the node and keep its cursor, in one transaction; commits. Returns rows changed."""
    changed = 0
    with pulling(session):
        for change in page.changes:
            model = rows.model_of(change.table)
            if model is None or change.table not in PULLED:
                continue
            values = rows.from_json(model, change.values)
            row = session.get(model, change.id)
            if row is None:
                if change.table in NODE_OWNED:
                    continue
                row = model(**values)
                session.add(row)
                session.flush()
                audit.record(session, CENTRE, row, change.action, None)
                changed += 1
                continue
            before = snapshot(row)
            for name, value in values.items():
                if name != "id":
                    setattr(row, name, value)
            session.add(row)
            session.flush()
            if snapshot(row) != before:
                audit.record(session, CENTRE, row, change.action, before)
                changed += 1
        shared_at, district_at = parse_cursor(page.cursor)
        cursors = {row.chain: row for row in session.exec(select(SyncCursor))}
        for chain, position in ((SHARED, shared_at), (district_chain(district_id), district_at)):
            cursor = cursors.get(chain) or SyncCursor(chain=chain)
            cursor.pulled = position
            session.add(cursor)
        identity = session.exec(select(NodeIdentity)).first()
        if identity is not None:
            identity.last_pull, identity.offline_since, identity.last_error = utcnow(), None, None
            session.add(identity)
        session.commit()
    return changed


def node_cursor(session: Session, district_id: int) -> str:
    """The node's pull cursor."""
    cursors = {row.chain: int(row.pulled) for row in session.exec(select(SyncCursor))}
    return f"{cursors.get(SHARED, 0)}.{cursors.get(district_chain(district_id), 0)}"
