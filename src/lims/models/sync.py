"""Offline vehicle nodes and their sync with the centre: vehicles, outbox, cursors, applied keys, id map.

At the centre: each `Vehicle` (its one-time enrolment code and credential as hashes, its last contact and
what it last said it still holds), the head of each of its audit chains the centre has accepted
(`VehicleChain`), the idempotency keys of the records applied from it (`SyncApplied`), and which centre row
each of its rows became (`SyncRowMap`). On the node: who the node is (`NodeIdentity`; its credential is a
secret file, never a column), the `SyncOutbox` written in the transaction of each node-owned change, and
the `SyncCursor` of each centre chain pulled and of each node chain the centre acknowledged.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from lims.models.common import json_column, secret_field, utcnow

MAX_VEHICLE = 16
MAX_TABLE = 48
MAX_KEY = 80
MAX_ERROR = 300
MAX_URL = 2048


class Operation(StrEnum):
    """What a node did to a row it owns."""

    INSERT = "insert"
    UPDATE = "update"


class VehicleBase(SQLModel):
    """A detection vehicle that may run a node: its code and its district."""

    code: str = Field(max_length=MAX_VEHICLE, unique=True, index=True, description="e.g. VEH-01")
    district_id: int = Field(foreign_key="district.id", index=True)


class Vehicle(VehicleBase, table=True):
    """A vehicle as the centre knows it: enrolment, credential (hashes only) and sync state."""

    __tablename__ = "vehicle"
    id: int | None = Field(default=None, primary_key=True)
    enrol_code_hash: str | None = secret_field(default=None, max_length=64)
    enrol_expires_at: datetime | None = None
    credential_hash: str | None = secret_field(default=None, max_length=64, index=True)
    # The vehicle's HMAC key is derived from the centre's audit key and this nonce; the key is never stored.
    key_nonce: str = Field(default="", max_length=64)
    enrolled_at: datetime | None = None
    last_contact: datetime | None = None
    backlog: int = 0
    refused: int = 0
    last_error: str | None = Field(default=None, max_length=MAX_ERROR)
    created_at: datetime = Field(default_factory=utcnow)


class VehicleCreate(SQLModel):
    """A new vehicle: its code and district code."""

    code: str = Field(min_length=1, max_length=MAX_VEHICLE, regex=r"^[A-Z0-9][A-Z0-9-]*$")
    district: str = Field(min_length=2, max_length=2)


class VehiclePublic(VehicleBase):
    """A vehicle as the centre's administrators see it."""

    id: int
    enrolled_at: datetime | None
    last_contact: datetime | None
    backlog: int
    refused: int
    last_error: str | None


class VehicleChain(SQLModel, table=True):
    """The last event of one of a vehicle's audit chains that the centre verified and accepted."""

    __tablename__ = "vehicle_chain"
    __table_args__ = (UniqueConstraint("vehicle_id", "chain", name="uq_vehicle_chain"),)
    id: int | None = Field(default=None, primary_key=True)
    vehicle_id: int = Field(foreign_key="vehicle.id", index=True)
    chain: str = Field(max_length=40)
    count: int = Field(default=0, sa_type=BigInteger)
    head: str = Field(max_length=64)


class SyncApplied(SQLModel, table=True):
    """An outbox record of a vehicle applied at the centre: its idempotency key makes a replay a no-op."""

    __tablename__ = "sync_applied"
    __table_args__ = (UniqueConstraint("vehicle_id", "idempotency_key", name="uq_sync_applied_key"),)
    id: int | None = Field(default=None, primary_key=True)
    vehicle_id: int = Field(foreign_key="vehicle.id", index=True)
    idempotency_key: str = Field(max_length=MAX_KEY)
    sequence: int = Field(sa_type=BigInteger)
    applied_at: datetime = Field(default_factory=utcnow)


class SyncRowMap(SQLModel, table=True):
    """Which centre row a vehicle's row became (node ids are the node's own, the centre numbers its rows)."""

    __tablename__ = "sync_row_map"
    __table_args__ = (
        UniqueConstraint("vehicle_id", "table_name", "node_id", name="uq_sync_row_map_node"),
        Index("ix_sync_row_map_centre", "table_name", "centre_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    vehicle_id: int = Field(foreign_key="vehicle.id", index=True)
    table_name: str = Field(max_length=MAX_TABLE)
    node_id: int
    centre_id: int


class NodeIdentity(SQLModel, table=True):
    """Who this node is and how its link stands (one row; the credential lives in a secret file)."""

    __tablename__ = "node_identity"
    id: int | None = Field(default=None, primary_key=True)
    vehicle: str = Field(max_length=MAX_VEHICLE, unique=True)
    centre_url: str = Field(max_length=MAX_URL)
    district_id: int = Field(foreign_key="district.id")
    enrolled_at: datetime = Field(default_factory=utcnow)
    last_push: datetime | None = None
    last_pull: datetime | None = None
    offline_since: datetime | None = None
    last_error: str | None = Field(default=None, max_length=MAX_ERROR)


class SyncOutbox(SQLModel, table=True):
    """A node-owned change waiting for the centre's acknowledgement, written in the change's transaction.

    `id` is the outbox sequence: records are pushed, applied and acknowledged in its order."""

    __tablename__ = "sync_outbox"
    id: int | None = Field(default=None, primary_key=True)
    table_name: str = Field(max_length=MAX_TABLE)
    row_key: int
    operation: str = Field(max_length=16)
    payload: dict[str, Any] = Field(sa_column=json_column(nullable=False))
    # The node's audit events of this change, as [chain, seq] pairs: they travel with it in the push.
    events: list[list[Any]] = Field(default_factory=list, sa_column=json_column(nullable=False))
    idempotency_key: str = Field(max_length=MAX_KEY, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    acked_at: datetime | None = Field(default=None, index=True)


class SyncCursor(SQLModel, table=True):
    """Per chain name: how far the node has pulled the centre's chain, and how far the centre acknowledged
    the node's own chain of that name."""

    __tablename__ = "sync_cursor"
    id: int | None = Field(default=None, primary_key=True)
    chain: str = Field(max_length=40, unique=True)
    pulled: int = Field(default=0, sa_type=BigInteger)
    acked: int = Field(default=0, sa_type=BigInteger)


# API schemas of the sync -------------------------------------------------------------------------------------

# Bounds of one push and one pull page.
MAX_PUSH_RECORDS = 1000
MAX_PUSH_EVENTS = 5000
MAX_PULL_CHANGES = 2000
MAX_CHAIN = 40


class EnrolRequest(SQLModel):
    """A vehicle exchanging its one-time enrolment code for its credential and audit key."""

    vehicle: str = Field(min_length=1, max_length=MAX_VEHICLE)
    code: str = Field(min_length=16, max_length=32)


class EnrolGrant(SQLModel):
    """What an enrolled vehicle gets, once: its credential, its audit key and its district."""

    vehicle: str
    district_id: int
    district_code: str
    credential: str
    audit_key: str


class SegmentEvent(SQLModel):
    """One of the node's audit events as it travels with a push (every field its hash and MAC cover)."""

    chain: str = Field(min_length=1, max_length=MAX_CHAIN)
    seq: int = Field(ge=1, le=2**62)
    at: str = Field(min_length=10, max_length=40)
    actor: str = Field(max_length=200)
    role: str = Field(max_length=32)
    entity: str = Field(min_length=1, max_length=MAX_TABLE)
    entity_id: int = Field(ge=0, le=2**62)
    action: str = Field(max_length=64)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    prev_hash: str = Field(min_length=64, max_length=64)
    hash: str = Field(min_length=64, max_length=64)
    mac: str | None = Field(default=None, max_length=64)


class PushRecord(SQLModel):
    """One outbox record: its sequence and idempotency key, the row and the events that vouch for it."""

    sequence: int = Field(ge=1, le=2**62)
    key: str = Field(min_length=8, max_length=MAX_KEY)
    table: str = Field(min_length=1, max_length=MAX_TABLE)
    row: int = Field(ge=1, le=2**31 - 1)
    operation: Operation
    payload: dict[str, Any]
    events: list[tuple[str, int]] = Field(min_length=1, max_length=64)


class PushBody(SQLModel):
    """A batch of outbox records in order, with the audit segment they need, and what the node still holds."""

    records: list[PushRecord] = Field(default_factory=list, max_length=MAX_PUSH_RECORDS)
    events: list[SegmentEvent] = Field(default_factory=list, max_length=MAX_PUSH_EVENTS)
    backlog: int = Field(default=0, ge=0, le=10**9)


class PushAck(SQLModel):
    """The centre's answer: the highest sequence applied (now or before) and its accepted chain heads."""

    acked: int
    applied: int
    heads: dict[str, int]


class PullChange(SQLModel):
    """One centre row for the node: the table, the row's id on the node and its values (or its centre fields)."""

    table: str
    id: int
    action: str
    values: dict[str, Any]


class PullPage(SQLModel):
    """Changes since a cursor, the cursor after them, and whether more are waiting."""

    changes: list[PullChange]
    cursor: str
    more: bool
