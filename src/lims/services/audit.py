"""The append-only, hash-chained audit trail: record events and verify the chain and the data."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import event, text
from sqlmodel import Session, SQLModel, col, select

from lims.models import AuditEvent
from lims.models.common import utcnow

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who does something: a user name and role, or the system itself."""

    name: str
    role: str
    user_id: int | None = None
    district_id: int | None = None
    station_id: int | None = None


SYSTEM = Actor(name="system", role="system")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def snapshot(row: SQLModel) -> dict[str, Any]:
    """The stored state of a table row as plain JSON values, in a stable form."""
    return snapshot_fields(row, type(row).model_fields)


def snapshot_fields(obj: object, fields: Any) -> dict[str, Any]:
    """The named fields of `obj` as plain JSON values."""
    data: dict[str, Any] = json.loads(canonical({name: _plain(getattr(obj, name)) for name in fields}))
    return data


def canonical(data: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, non-ASCII kept, numbers as Python writes them."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)


def _event_hash(event: AuditEvent) -> str:
    body = {
        "at": _plain(event.at),
        "actor": event.actor,
        "role": event.role,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "action": event.action,
        "before": event.before,
        "after": event.after,
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(canonical(body).encode()).hexdigest()


_LAST_HASH = "audit_last_hash"


def _last_hash(session: Session) -> str:
    """The newest event's hash; the first call in a transaction takes the chain lock and reads it."""
    cached = session.info.get(_LAST_HASH)
    if cached is not None:
        return str(cached)
    if session.get_bind().dialect.name == "postgresql":
        # Serialise appends so that two transactions never chain onto the same previous event.
        session.execute(text("SELECT pg_advisory_xact_lock(731215)"))
    last = session.exec(select(AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1)).first()
    return last or GENESIS


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_last_hash(session: Session) -> None:
    session.info.pop(_LAST_HASH, None)


def record(session: Session, actor: Actor, row: SQLModel, action: str, before: dict[str, Any] | None) -> AuditEvent:
    """Append an event for `row` with its state before and after `action`."""
    session.flush()
    entity_id = getattr(row, "id", None)
    if entity_id is None:
        raise ValueError("audit.record needs a row with an id")
    audit_event = AuditEvent(
        at=utcnow(),
        actor=actor.name,
        role=actor.role,
        entity=str(row.__tablename__),
        entity_id=int(entity_id),
        action=action,
        before=before,
        after=snapshot(row),
        prev_hash=_last_hash(session),
        hash="",
    )
    audit_event.hash = _event_hash(audit_event)
    session.add(audit_event)
    session.info[_LAST_HASH] = audit_event.hash
    return audit_event


@dataclass(frozen=True)
class Break:
    """The first place where the trail or the data disagree with the chain."""

    event_id: int | None
    entity: str
    entity_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.entity} {self.entity_id}" if self.entity_id is not None else self.entity
        at = f" (audit event {self.event_id})" if self.event_id is not None else ""
        return f"{where}{at}: {self.problem}"


def _iter_events(session: Session, batch: int = 5000) -> Iterator[AuditEvent]:
    last_id = 0
    while True:
        rows = session.exec(
            select(AuditEvent).where(col(AuditEvent.id) > last_id).order_by(col(AuditEvent.id)).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last_id = int(rows[-1].id or 0)


def _diff(stored: dict[str, Any], audited: dict[str, Any]) -> str:
    changed = [
        f"{key}: audited {audited.get(key)!r}, stored {stored.get(key)!r}"
        for key in sorted(set(stored) | set(audited))
        if stored.get(key) != audited.get(key)
    ]
    return "; ".join(changed[:3])


def verify(session: Session, audited_models: list[type[SQLModel]]) -> Break | None:
    """Recompute the chain, then compare every audited row with its last audited state."""
    previous = GENESIS
    latest: dict[tuple[str, int], tuple[int, dict[str, Any] | None]] = {}
    for entry in _iter_events(session):
        if entry.prev_hash != previous:
            return Break(
                entry.id,
                entry.entity,
                entry.entity_id,
                "previous-hash link broken (event removed or reordered)",
            )
        if _event_hash(entry) != entry.hash:
            return Break(entry.id, entry.entity, entry.entity_id, "event content does not match its hash")
        previous = entry.hash
        latest[(entry.entity, entry.entity_id)] = (int(entry.id or 0), entry.after)
    for model in audited_models:
        table = str(model.__tablename__)
        seen: set[int] = set()
        for row in session.exec(select(model)).all():
            stored = snapshot(row)
            row_id = int(stored["id"])
            seen.add(row_id)
            found = latest.get((table, row_id))
            if found is None:
                return Break(None, table, row_id, "row has no audit event (inserted outside the application)")
            event_id, after = found
            if stored != after:
                return Break(
                    event_id,
                    table,
                    row_id,
                    f"row differs from its audited state ({_diff(stored, after or {})})",
                )
        for (entity, entity_id), (event_id, _after) in latest.items():
            if entity == table and entity_id not in seen:
                return Break(event_id, table, entity_id, "audited row is missing (deleted outside the application)")
    return None
