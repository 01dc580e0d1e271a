"""The node's outbox: every audited change of a node-owned row becomes an outbox record in the same transaction.

One mechanism for every service: the audit trail already records each create, change and transition
(ORM or conditional update alike), so the session's flushes are watched for new audit events of node-owned
tables, and of the fields a node records in centre-owned tables (`ownership.NODE_FIELDS`). Just before the
transaction commits, each changed row gets one outbox record: its state after the transaction (the `after`
of its last event, which is the row as the centre must insert it) and the events that vouch for it. A
transaction that rolls back takes its events and its outbox records with it. Active only on the engines of
a node (`enable`); applying what the centre sent (`pulling`) writes none.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lims.models import AuditEvent, SyncOutbox
from lims.models.sync import Operation
from lims.services.sync.ownership import NODE_FIELDS, NODE_OWNED

_NODE_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
_PENDING = "sync_outbox_events"
_PULLING = "sync_pulling"


def enable(engine: Engine) -> None:
    """Write outbox records for the node-owned changes made on `engine` (a node's database)."""
    _NODE_ENGINES.add(engine)


def disable(engine: Engine) -> None:
    """Stop writing outbox records for `engine`."""
    _NODE_ENGINES.discard(engine)


def is_enabled(engine: Engine) -> bool:
    """Whether `engine` is a node's database whose changes go to the outbox."""
    return engine in _NODE_ENGINES


@contextmanager
def pulling(session: Session) -> Iterator[None]:
    """Changes made inside are the centre's (applied from a pull): they go to no outbox."""
    session.info[_PULLING] = True
    try:
        yield
    finally:
        session.info.pop(_PULLING, None)


def _on_node(session: Session) -> bool:
    if not _NODE_ENGINES or session.info.get(_PULLING):
        return False
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return engine in _NODE_ENGINES


def _node_fields_changed(event_row: AuditEvent) -> bool:
    fields = NODE_FIELDS.get(event_row.entity)
    if not fields or event_row.before is None or event_row.after is None:
        return False
    return any(event_row.before.get(name) != event_row.after.get(name) for name in fields)


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _context: Any) -> None:
    if not _on_node(session):
        return
    pending: list[AuditEvent] = session.info.setdefault(_PENDING, [])
    for obj in session.new:
        if isinstance(obj, AuditEvent) and (obj.entity in NODE_OWNED or _node_fields_changed(obj)):
            pending.append(obj)


@event.listens_for(Session, "before_commit")
def _write(session: Session) -> None:
    if not _on_node(session):
        return
    session.flush()  # the commit's own flush comes after this event: collect the events it would write
    pending: list[AuditEvent] = session.info.pop(_PENDING, [])
    if not pending:
        return
    by_row: dict[tuple[str, int], list[AuditEvent]] = {}
    for audit_event in pending:
        state = inspect(audit_event)
        if not state.persistent or state.session is not session:  # rolled back with a savepoint
            continue
        by_row.setdefault((audit_event.entity, audit_event.entity_id), []).append(audit_event)
    for (table_name, row_key), events in by_row.items():
        events.sort(key=lambda e: (e.chain, e.seq))
        last = events[-1]
        payload = dict(last.after or {})
        if table_name in NODE_FIELDS and table_name not in NODE_OWNED:
            payload = {name: payload.get(name) for name in NODE_FIELDS[table_name]} | {"id": row_key}
        inserted = table_name in NODE_OWNED and any(e.before is None for e in events)
        session.add(
            SyncOutbox(
                table_name=table_name,
                row_key=row_key,
                operation=Operation.INSERT if inserted else Operation.UPDATE,
                payload=payload,
                events=[[e.chain, e.seq] for e in events],
                idempotency_key=uuid.uuid4().hex,
            )
        )
    session.flush()


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the whole transaction ended (committed, rolled back or closed)
        session.info.pop(_PENDING, None)
