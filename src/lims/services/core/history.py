"""The history of one record as the audit trail holds it: who changed what, when, newest first."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, SQLModel, col, select

from lims.models import AuditEvent
from lims.services.core import audit
from lims.services.core.audit import Actor
from lims.services.core.audit_tables import SHARED, district_chain

MAX_EVENTS = 100


@dataclass(frozen=True)
class Change:
    """One audited change of a record: the fields it changed, with their values before and after."""

    at: datetime
    actor: str
    role: str
    action: str
    fields: list[tuple[str, Any, Any]]


HIDDEN = "***"  # a secret column (a password hash): the history says that it changed, never its fingerprint


def _changed(
    before: dict[str, Any] | None, after: dict[str, Any] | None, secret: frozenset[str]
) -> list[tuple[str, Any, Any]]:
    before, after = before or {}, after or {}
    names = [k for k in after if k != "id"] + [k for k in before if k not in after and k != "id"]
    changed = [(k, before.get(k), after.get(k)) for k in names if before.get(k) != after.get(k)]
    return [(k, HIDDEN if k in secret and b is not None else b, HIDDEN if k in secret else a) for k, b, a in changed]


def of(session: Session, actor: Actor, row: SQLModel, limit: int = MAX_EVENTS) -> list[Change]:
    """The audited changes of `row`, newest first, from the chains the actor may read (its district's and the
    shared reference data's)."""
    chains = [SHARED] + ([district_chain(actor.district_id)] if actor.district_id is not None else [])
    statement = (
        select(AuditEvent)
        .where(
            AuditEvent.entity == str(row.__tablename__),
            AuditEvent.entity_id == getattr(row, "id", None),
            col(AuditEvent.chain).in_(chains),
        )
        .order_by(col(AuditEvent.id).desc())
        .limit(limit)
    )
    secret = audit.secret_columns(type(row))
    return [
        Change(e.at, e.actor, e.role, e.action, _changed(e.before, e.after, secret))
        for e in session.exec(statement).all()
    ]


def fingerprint(row: SQLModel) -> str:
    """A short digest of a row as it is now: a form carries it, and an edit of a row that changed since the
    form was shown is refused."""
    return hashlib.sha256(audit.canonical(audit.snapshot(row)).encode()).hexdigest()[:16]
