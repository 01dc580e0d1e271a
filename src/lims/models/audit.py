"""The append-only audit trail: events in per-district chains, and the head of each chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from lims.models.common import json_column, utcnow


class AuditEvent(SQLModel, table=True):
    """One create, change or transition, at position `seq` of its chain.

    `hash` is the SHA-256 of the event (content, chain, position and the previous event's hash), so the
    chain can be followed by anyone; `mac` is an HMAC of `hash` under a key the database does not hold,
    so only the application can write an event that verifies. Events of the sealed unkeyed chain that
    came before keyed chains have no `mac`.
    """

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("chain", "seq", name="uq_audit_event_chain_seq"),)
    id: int | None = Field(default=None, primary_key=True)
    chain: str = Field(max_length=40)
    seq: int = Field(sa_type=BigInteger)
    at: datetime = Field(default_factory=utcnow)
    actor: str
    role: str
    entity: str = Field(index=True)
    entity_id: int = Field(index=True)
    action: str
    before: dict[str, Any] | None = Field(default=None, sa_column=json_column())
    after: dict[str, Any] | None = Field(default=None, sa_column=json_column())
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
    mac: str | None = Field(default=None, max_length=64)


class AuditChain(SQLModel, table=True):
    """The head of one chain: how many events it holds and the last one's hash, with an HMAC over both.

    Appends lock only their own chain's row, so districts never wait on each other. `version` changes at
    every append (it is taken from the new head); their sum is a version of the whole trail for caches.
    """

    __tablename__ = "audit_chain"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=40, unique=True)
    count: int = Field(default=0, sa_type=BigInteger)
    head: str = Field(max_length=64)
    mac: str = Field(max_length=64)
    version: int = Field(default=0, sa_type=BigInteger)
