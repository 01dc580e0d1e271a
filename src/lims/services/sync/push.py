"""The node's side of a push: the next batch of its outbox with the audit segment it needs, and the ack."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from lims.models import NodeIdentity, SyncCursor, SyncOutbox
from lims.models.common import utcnow
from lims.models.sync import MAX_PUSH_EVENTS, PushAck, PushBody, PushRecord, SegmentEvent
from lims.services.sync import rows
from lims.services.sync.ownership import NODE_FIELDS, NODE_OWNED
from lims.services.sync.segment import node_events
from lims.services.sync.status import waiting_records


def _acked(session: Session) -> dict[str, int]:
    return {row.chain: int(row.acked) for row in session.exec(select(SyncCursor))}


def _payload(session: Session, record: SyncOutbox, latest: bool) -> dict[str, object]:
    """What the record says the row is: the row as stored now when this is its latest record (so a row changed
    outside the LIMS is caught by the centre), else the state captured with the change."""
    model = rows.model_of(record.table_name)
    if not latest or model is None:
        return dict(record.payload)
    current = rows.current_snapshot(session, model, record.row_key)
    if current is None:
        return dict(record.payload)
    if record.table_name not in NODE_OWNED:
        return {name: current.get(name) for name in NODE_FIELDS[record.table_name]} | {"id": record.row_key}
    return current


def build_push(session: Session, batch_size: int, max_events: int = MAX_PUSH_EVENTS // 2) -> PushBody | None:
    """The next push: up to `batch_size` unacknowledged records in order with the events they need (at most
    `max_events`, the records cut to fit; events alone when even one record needs more). None: nothing to send."""
    pending = session.exec(
        select(SyncOutbox).where(col(SyncOutbox.acked_at).is_(None)).order_by(col(SyncOutbox.id)).limit(batch_size)
    ).all()
    acked = _acked(session)
    if not pending:
        return None
    keys = {(r.table_name, r.row_key) for r in pending}
    last_of = dict(
        ((table, row), int(top or 0))
        for table, row, top in session.exec(
            select(SyncOutbox.table_name, SyncOutbox.row_key, func.max(col(SyncOutbox.id)))
            .where(col(SyncOutbox.row_key).in_({row for _t, row in keys}))
            .group_by(col(SyncOutbox.table_name), col(SyncOutbox.row_key))
        ).all()
    )
    # Per chain: from the lower of the acknowledged head and each record's first event, to its last event.
    start: dict[str, int] = {}
    end: dict[str, int] = {}
    chosen: list[SyncOutbox] = []
    for record in pending:
        trial_start, trial_end = dict(start), dict(end)
        for chain, seq in record.events:
            trial_start[chain] = min(trial_start.get(chain, acked.get(chain, 0)), int(seq) - 1)
            trial_end[chain] = max(trial_end.get(chain, 0), int(seq))
        if sum(trial_end[c] - trial_start[c] for c in trial_end) > max_events:
            break
        start, end = trial_start, trial_end
        chosen.append(record)
    if not chosen:  # catch up on the events before the first record (e.g. those of the enrolment) first
        chain, seq = max(pending[0].events, key=lambda pair: int(pair[1]) - acked.get(str(pair[0]), 0))
        first = acked.get(chain, 0)
        start, end = {chain: first}, {chain: min(int(seq) - 1, first + max_events)}
    events: list[SegmentEvent] = []
    for chain in sorted(end):
        events.extend(SegmentEvent.model_validate(e) for e in node_events(session, chain, start[chain], end[chain]))
    records = [
        PushRecord(
            sequence=int(r.id or 0),
            key=r.idempotency_key,
            table=r.table_name,
            row=r.row_key,
            operation=r.operation,  # type: ignore[arg-type]
            payload=_payload(session, r, last_of.get((r.table_name, r.row_key)) == r.id),
            events=[(str(c), int(s)) for c, s in r.events],
        )
        for r in chosen
    ]
    return PushBody(records=records, events=events, backlog=waiting_records(session))


def mark_acked(session: Session, ack: PushAck) -> int:
    """Mark the records the centre acknowledged and keep its chain heads; commits. Returns how many were marked."""
    now = utcnow()
    marked = session.execute(
        update(SyncOutbox)
        .where(col(SyncOutbox.id) <= ack.acked, col(SyncOutbox.acked_at).is_(None))
        .values(acked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    cursors = {row.chain: row for row in session.exec(select(SyncCursor))}
    for chain, count in ack.heads.items():
        row = cursors.get(chain) or SyncCursor(chain=chain)
        if count > row.acked:
            row.acked = count
            session.add(row)
    identity = session.exec(select(NodeIdentity)).first()
    if identity is not None:
        identity.last_push, identity.offline_since, identity.last_error = now, None, None
        session.add(identity)
    session.commit()
    return int(marked or 0)
