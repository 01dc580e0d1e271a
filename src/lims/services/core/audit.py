"""The append-only audit trail: keyed, hash-chained events in one chain per district, and their verification.

Every event has a position `seq` in its chain, a public SHA-256 `hash` over its content, chain, position and
the previous event's hash, and an HMAC `mac` of that hash under a key the database does not hold
(`lims.services.core.audit_keys`). Whoever can only write to the database can change rows and events, but
cannot write an event that verifies. The chain a row's events go to follows from the row
(`lims.services.core.audit_tables`); appends lock only their chain's head row, so districts never wait on
each other. Signed checkpoints kept outside the database (`lims.services.core.audit_checkpoints`) pin the heads,
so a cut-off tail is found too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import Table, bindparam, event, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel

from lims.i18n import _N
from lims.models import AuditChain, AuditEvent
from lims.models.common import AUDIT_SECRET, utcnow
from lims.services.core.audit_keys import event_key, event_mac, fingerprint, head_mac
from lims.services.core.audit_tables import LEGACY, SHARED, chain_of, forget_parents
from lims.services.core.errors import Conflict

GENESIS = "0" * 64
SEAL_ENTITY = "audit_chain"
SEAL_ACTION = "seal"
BATCH = 5000
EVENTS: Table = AuditEvent.__table__  # type: ignore[attr-defined]
CHAINS: Table = AuditChain.__table__  # type: ignore[attr-defined]


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


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)


def canonical(data: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, non-ASCII kept, numbers as Python writes them."""
    return _CANONICAL.encode(data)


def _canonical_piece(value: Any) -> str:
    """`canonical(value)`, faster for the strings and integers an event is mostly made of."""
    kind = type(value)
    if kind is str:
        return str(encode_basestring(value))
    if kind is int:
        return str(value)
    return _CANONICAL.encode(_plain(value))


def snapshot_fields(obj: object, fields: Any) -> dict[str, Any]:
    """The named fields of `obj` as plain JSON values."""
    data: dict[str, Any] = json.loads(canonical({name: _plain(getattr(obj, name)) for name in fields}))
    return data


@cache
def secret_columns(model: type[SQLModel]) -> frozenset[str]:
    """The columns of `model` marked with `secret_field` (snapshotted as keyed fingerprints)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return frozenset(column.name for column in table.columns if column.info.get(AUDIT_SECRET))


def snapshot(row: SQLModel) -> dict[str, Any]:
    """The stored state of a table row as plain JSON values, in a stable form; secret fields as fingerprints."""
    model = type(row)
    return snapshot_values(model, {name: getattr(row, name) for name in model.model_fields})


def snapshot_values(model: type[SQLModel], values: Mapping[Any, Any], key: bytes | None = None) -> dict[str, Any]:
    """The snapshot of a row of `model` from its column values (rows read without the ORM use this too)."""
    data: dict[str, Any] = json.loads(snapshot_text(model, values, key))
    return data


def snapshot_text(model: type[SQLModel], values: Mapping[Any, Any], key: bytes | None = None) -> str:
    """The canonical JSON of a row's snapshot (what `snapshot_values` parses)."""
    secret = secret_columns(model)
    if secret:
        key = key or event_key()
        table = str(model.__tablename__)
        values = {name: fingerprint(key, table, name, v) if name in secret else v for name, v in values.items()}
    return canonical({name: _plain(values[name]) for name in model.model_fields})


@cache
def _sorted_fields(model: type[SQLModel]) -> tuple[tuple[str, str], ...]:
    return tuple((name, _canonical_piece(name)) for name in sorted(model.model_fields))


def canonical_piece(value: Any) -> str:
    """The canonical JSON of one value (what a snapshot writes for a field)."""
    return _canonical_piece(_plain(value))


def encoded_snapshot_text(
    model: type[SQLModel],
    values: Mapping[str, Any],
    encoded: Collection[str],
    pieces: Mapping[str, str] | None = None,
) -> str:
    """`snapshot_text` of a row whose `encoded` columns already hold canonical JSON text, and whose fields named
    in `pieces` are given as their `canonical_piece` (for bulk writers that repeat a row's constant fields)."""
    if secret_columns(model):
        return snapshot_text(model, {n: json.loads(v) if n in encoded else v for n, v in values.items()})
    known = pieces or {}
    parts = []
    for name, key in _sorted_fields(model):
        piece = known.get(name)
        if piece is None:
            piece = values[name] if name in encoded else _canonical_piece(values[name])
        parts.append(f"{key}:{piece}")
    return "{" + ",".join(parts) + "}"


_EVENT_FIELDS = ("chain", "seq", "at", "actor", "role", "entity", "entity_id", "action", "before", "after")
_LEGACY_FIELDS = ("at", "actor", "role", "entity", "entity_id", "action", "before", "after")


def event_hash(values: Mapping[Any, Any]) -> str:
    """The public SHA-256 of an event: content, chain, position and the previous event's hash."""
    return _hash_and_after(values)[0]


# The canonical JSON of the hashed body, written out piece by piece in sorted key order, so that the canonical
# text of `after` is at hand too (verification digests it) without encoding it twice.
_BODY_KEYS = tuple(sorted((*_EVENT_FIELDS, "prev_hash")))


def _hash_and_after(values: Mapping[Any, Any]) -> tuple[str, str]:
    parts: list[str] = []
    after = ""
    for name in _BODY_KEYS:
        text = _canonical_piece(values[name])
        if name == "after":
            after = text
        parts.append(f'"{name}":{text}')
    return hashlib.sha256(("{" + ",".join(parts) + "}").encode()).hexdigest(), after


class BulkChain:
    """Appends many events to one chain in memory, for bulk writers: each event gets the position, links, hash
    and MAC `append` would give it, from snapshots already in canonical text. The caller inserts the rows (in
    order, in one transaction with the rows they describe) and then stores `head_values()` in the chain's head."""

    def __init__(self, key: bytes, chain: str, count: int, head: str) -> None:
        self.key, self.chain, self.count, self.head = key, chain, count, head
        self._chain_text = _canonical_piece(chain)

    def event(
        self, at: datetime, actor: Actor, entity: str, entity_id: int, action: str, before: str | None, after: str
    ) -> dict[str, Any]:
        """The next event's row; `before` and `after` are canonical JSON texts (`snapshot_text`), kept as text."""
        seq = self.count + 1
        body = (
            f'{{"action":{_canonical_piece(action)},"actor":{_canonical_piece(actor.name)},"after":{after},'
            f'"at":{_canonical_piece(at)},"before":{"null" if before is None else before},'
            f'"chain":{self._chain_text},"entity":{_canonical_piece(entity)},"entity_id":{entity_id},'
            f'"prev_hash":"{self.head}","role":{_canonical_piece(actor.role)},"seq":{seq}}}'
        )
        digest = hashlib.sha256(body.encode()).hexdigest()
        row = {
            "chain": self.chain, "seq": seq, "at": at, "actor": actor.name, "role": actor.role, "entity": entity,
            "entity_id": entity_id, "action": action, "before": before, "after": after, "prev_hash": self.head,
            "hash": digest, "mac": event_mac(self.key, digest),
        }  # fmt: skip
        self.count, self.head = seq, digest
        return row

    def head_values(self) -> dict[str, Any]:
        """The chain head's columns after the events made so far."""
        return {
            "count": self.count,
            "head": self.head,
            "mac": head_mac(self.key, self.chain, self.count, self.head),
            "version": head_version(self.head),
        }


def legacy_hash(values: Mapping[Any, Any]) -> str:
    """The hash of the unkeyed scheme that came before keyed chains (content and previous hash only)."""
    body = {name: _plain(values[name]) for name in _LEGACY_FIELDS}
    body["prev_hash"] = values["prev_hash"]
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def head_version(head: str) -> int:
    """The chain-head version number taken from a head hash (48 bits: a sum over chains fits 64)."""
    return int(head[:12], 16)


class LegacyChainBroken(Conflict):
    """The unkeyed chain to be sealed is broken, and sealing it anyway was not asked for."""


# --- appending ------------------------------------------------------------------------------------------

_HEADS = "audit_heads"


@dataclass
class _Head:
    count: int
    hash: str
    stored: int = 0  # the count the chain's row holds: the head moves there once, when the transaction commits

    def __post_init__(self) -> None:
        self.stored = self.count


def _insert_chain(session: Session) -> Any:
    return pg_insert(CHAINS) if session.get_bind().dialect.name == "postgresql" else sqlite_insert(CHAINS)


def _lock_head(session: Session, chain: str, key: bytes) -> _Head:
    """Read a chain's head and lock its row until the transaction ends (PostgreSQL; SQLite has one writer)."""
    statement = select(CHAINS.c["count"], CHAINS.c.head).where(CHAINS.c.name == chain).with_for_update()
    connection = session.connection()
    row = connection.execute(statement).first()
    if row is None:
        connection.execute(
            _insert_chain(session)
            .values(name=chain, count=0, head=GENESIS, mac=head_mac(key, chain, 0, GENESIS), version=0)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        row = connection.execute(statement).one()
    return _Head(int(row[0]), str(row[1]))


# The conditional move of a chain's head: it fails if another transaction appended first.
_ADVANCE = (
    update(CHAINS)
    .where(CHAINS.c.name == bindparam("chain"), CHAINS.c["count"] == bindparam("expected"))
    .values(
        count=bindparam("new_count"),
        head=bindparam("new_head"),
        mac=bindparam("new_mac"),
        version=bindparam("new_version"),
    )
)


def settle(session: Session) -> None:
    """Move the head row of every chain this transaction appended to, each in one conditional update.

    Runs before every commit; readers of the head rows call it first. Of two transactions appending to a chain
    (which its row lock prevents on PostgreSQL) the second finds the head moved and fails."""
    heads: dict[str, _Head] = session.info.get(_HEADS, {})
    moving = [(chain, head) for chain, head in heads.items() if head.count != head.stored]
    if not moving:
        return
    key = event_key()
    connection = session.connection()
    for chain, head in moving:
        moved = connection.execute(
            _ADVANCE,
            {
                "chain": chain,
                "expected": head.stored,
                "new_count": head.count,
                "new_head": head.hash,
                "new_mac": head_mac(key, chain, head.count, head.hash),
                "new_version": head_version(head.hash),
            },
        )
        if moved.rowcount != 1:
            heads.clear()
            raise Conflict("audit.audit_trail_changed_meanwhile", _N("the audit trail changed meanwhile; try again"))
        head.stored = head.count


@event.listens_for(Session, "before_commit")
def _settle_heads(session: Session) -> None:
    settle(session)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_heads(session: Session, *_args: Any) -> None:
    session.info.pop(_HEADS, None)
    forget_parents(session)


def record(session: Session, actor: Actor, row: SQLModel, action: str, before: dict[str, Any] | None) -> AuditEvent:
    """Append an event for `row` with its state before and after `action`, to the chain the row belongs to."""
    session.flush()
    entity_id = getattr(row, "id", None)
    if entity_id is None:
        raise ValueError("audit.record needs a row with an id")
    return append(
        session, actor, chain_of(session, row), str(row.__tablename__), int(entity_id), action, before, snapshot(row)
    )


def append(
    session: Session,
    actor: Actor,
    chain: str,
    entity: str,
    entity_id: int,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEvent:
    """Append one event to `chain`; the chain's head is read and locked once per transaction, and moved once, when
    it commits (`settle`)."""
    key = event_key()
    heads: dict[str, _Head] = session.info.setdefault(_HEADS, {})
    head = heads.get(chain)
    if head is None:
        head = heads[chain] = _lock_head(session, chain, key)
    values: dict[str, Any] = {
        "chain": chain,
        "seq": head.count + 1,
        "at": utcnow(),
        "actor": actor.name,
        "role": actor.role,
        "entity": entity,
        "entity_id": entity_id,
        "action": action,
        "before": before,
        "after": after,
        "prev_hash": head.hash,
    }
    digest = event_hash(values)
    audit_event = AuditEvent(**values, hash=digest, mac=event_mac(key, digest))
    session.add(audit_event)
    head.count, head.hash = head.count + 1, digest
    return audit_event


# --- verifying ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """A place where the trail or the data disagree with the chains."""

    event_id: int | None
    entity: str
    entity_id: int | None
    problem: str
    chain: str | None = None

    def __str__(self) -> str:
        where = [f"chain {self.chain}"] if self.chain else []
        if self.event_id is not None:
            where.append(f"event {self.event_id}")
        if self.entity:
            where.append(f"{self.entity} {self.entity_id}" if self.entity_id is not None else self.entity)
        return f"{', '.join(where)}: {self.problem}" if where else self.problem


@dataclass(frozen=True)
class SignedHead:
    """A chain head that a signed checkpoint vouches for: event `count` of `chain` had `head` and `mac`."""

    chain: str
    count: int
    head: str
    mac: str
    source: str


@dataclass
class Report:
    """What verification found: every break (up to a limit), the chains and what was checked."""

    breaks: list[Break] = field(default_factory=list)
    chains: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    signed_heads: int = 0
    more: int = 0

    @property
    def intact(self) -> bool:
        """Whether nothing disagrees."""
        return not self.breaks and not self.more


@dataclass(frozen=True)
class _Latest:
    """The newest authentic event of an entity: where it is and a digest of its `after`."""

    chain: str
    seq: int
    at: float
    event_id: int
    digest: bytes


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()[:16]


# What to do with a row that has no event (audited None) or differs from its newest one: True if taken care of.
_Fix = Callable[[type[SQLModel], int, dict[str, Any], dict[str, Any] | None], bool]


class LegacyScan:
    """Follows the unkeyed chain: its first break, count, last hash, and a digest of every event as stored.

    `redacted` are the positions whose secrets the seal replaced by fingerprints: their content no longer
    matches their old hash, so only their links are followed."""

    def __init__(self, redacted: frozenset[int] = frozenset()) -> None:
        self.redacted = redacted
        self.count = 0
        self.head = GENESIS
        self.first_break: tuple[Mapping[Any, Any], str] | None = None
        self._digest = hashlib.sha256()

    def add(self, values: Mapping[Any, Any]) -> None:
        """Take the next event (in chain order)."""
        recomputed = legacy_hash(values)
        if self.first_break is None:
            if values["prev_hash"] != self.head:
                self.first_break = (values, "previous-hash link broken (event removed or reordered)")
            elif recomputed != values["hash"] and int(values["seq"]) not in self.redacted:
                self.first_break = (values, "event content does not match its hash")
        self._digest.update(f"{values['seq']}:{recomputed}:{values['hash']}\n".encode())
        self.count += 1
        self.head = str(values["hash"])

    def hexdigest(self) -> str:
        """The digest of everything taken so far."""
        return self._digest.hexdigest()


class _Verifier:
    def __init__(self, session: Session, signed: Sequence[SignedHead], limit: int, keyed: bool = True) -> None:
        self.session = session
        self.keyed = keyed
        self.connection = session.connection()
        self.report = Report()
        self.limit = limit
        self._key: bytes | None = None
        self.latest: dict[str, dict[int, _Latest]] = {}
        self.seals: list[dict[str, Any]] = []
        self.signed: dict[str, dict[int, list[SignedHead]]] = {}
        for head in signed:
            self.signed.setdefault(head.chain, {}).setdefault(head.count, []).append(head)
        self.report.signed_heads = len(signed)

    def key(self) -> bytes:
        if self._key is None:
            self._key = event_key(create=False)
        return self._key

    def add(self, found: Break) -> None:
        if len(self.report.breaks) < self.limit:
            self.report.breaks.append(found)
        else:
            self.report.more += 1

    def _events(self, chain: str) -> Iterator[Any]:
        last = 0
        while True:
            rows = self.connection.execute(
                select(EVENTS).where(EVENTS.c.chain == chain, EVENTS.c.seq > last).order_by(EVENTS.c.seq).limit(BATCH)
            ).all()
            if not rows:
                return
            yield from rows
            last = int(rows[-1].seq)

    def _keep_latest(self, row: Any, keyed: bool, after: str | None = None) -> None:
        after = canonical(row.after) if after is None else after
        entry = _Latest(row.chain, int(row.seq), row.at.timestamp(), int(row.id), _digest(after))
        by_id = self.latest.setdefault(row.entity, {})
        old = by_id.get(row.entity_id)
        # Order is what the MACs vouch for: the position within a chain, the time across chains; every keyed
        # event comes after the sealed legacy chain. Event ids are not authenticated, so they never decide.
        if old is not None:
            if old.chain == entry.chain:
                newer = entry.seq > old.seq
            else:
                newer = keyed and (old.chain == LEGACY or entry.at > old.at)
            if not newer:
                return
        by_id[row.entity_id] = entry

    def chains(self, heads: dict[str, _HeadRow]) -> None:
        names = set(heads) | set(self.signed)
        names |= {str(name) for name in self.connection.execute(select(EVENTS.c.chain).distinct()).scalars()}
        keyed = sorted(names - {LEGACY}, key=lambda name: (name != SHARED, name))
        for name in keyed:
            self.keyed_chain(name, heads.get(name))
        if LEGACY in names:
            self.legacy_chain(heads.get(LEGACY))

    def keyed_chain(self, chain: str, head_row: _HeadRow | None) -> None:
        expected, previous = 1, GENESIS
        signed = self.signed.get(chain, {})
        for row in self._events(chain):
            seq = int(row.seq)
            if seq != expected:
                self.add(
                    Break(
                        row.id,
                        row.entity,
                        row.entity_id,
                        missing(expected, seq - 1) + " (previous-hash link broken)",
                        chain,
                    )
                )
            elif row.prev_hash != previous:
                self.add(
                    Break(
                        row.id,
                        row.entity,
                        row.entity_id,
                        "previous-hash link broken (an event before it was removed, replaced or reordered)",
                        chain,
                    )
                )
            authentic = False
            digest, after = _hash_and_after(row._mapping)
            if digest != row.hash:
                self.add(Break(row.id, row.entity, row.entity_id, "event content does not match its hash", chain))
            elif not self.keyed:
                authentic = True
            elif row.mac is None:
                self.add(Break(row.id, row.entity, row.entity_id, "event has no MAC (written outside the LIMS)", chain))
            elif not hmac.compare_digest(str(row.mac), event_mac(self.key(), str(row.hash))):
                self.add(
                    Break(
                        row.id,
                        row.entity,
                        row.entity_id,
                        "event MAC does not verify (forged or altered outside the LIMS)",
                        chain,
                    )
                )
            else:
                authentic = True
            for head in signed.get(seq, ()):
                if head.head != row.hash or head.mac != row.mac:
                    self.add(
                        Break(
                            row.id,
                            row.entity,
                            row.entity_id,
                            f"not the event {head.source} signed as event {seq} of the chain (replaced)",
                            chain,
                        )
                    )
            if authentic:
                self._keep_latest(row, keyed=True, after=after)
                if row.entity == SEAL_ENTITY and row.action == SEAL_ACTION and row.after:
                    self.seals.append(dict(row.after))
            previous, expected = str(row.hash), seq + 1
        self._chain_end(chain, expected - 1, previous, head_row, signed)

    def _chain_end(
        self, chain: str, count: int, last: str, head_row: _HeadRow | None, signed: dict[int, list[SignedHead]]
    ) -> None:
        self.report.chains[chain] = count
        if head_row is None:
            if count:
                self.add(Break(None, "", None, "chain head record missing", chain))
        elif self.keyed and not hmac.compare_digest(
            head_row.mac, head_mac(self.key(), chain, head_row.count, head_row.head)
        ):
            self.add(Break(None, "", None, "chain head record altered outside the LIMS", chain))
        elif int(head_row.count) > count:
            self.add(
                Break(
                    None, "", None, missing(count + 1, head_row.count) + " (the chain head record counts them)", chain
                )
            )
        elif int(head_row.count) != count or head_row.head != last:
            self.add(Break(None, "", None, "chain head record does not name the last event", chain))
        beyond = [head for position, heads in signed.items() if position > count for head in heads]
        if beyond:
            top = max(beyond, key=lambda head: head.count)
            self.add(
                Break(
                    None, "", None, missing(count + 1, top.count) + f" ({top.source} signed {top.count} events)", chain
                )
            )

    def legacy_chain(self, head_row: _HeadRow | None) -> None:
        redacted = self.seals[0].get("redacted") if self.seals else None
        scan = LegacyScan(frozenset(redacted) if isinstance(redacted, list) else frozenset())
        for row in self._events(LEGACY):
            scan.add(row._mapping)
            self._keep_latest(row, keyed=False)
        self.report.chains[LEGACY] = scan.count
        if head_row is not None and (
            head_row.count != scan.count
            or head_row.head != scan.head
            or (
                self.keyed
                and not hmac.compare_digest(head_row.mac, head_mac(self.key(), LEGACY, head_row.count, head_row.head))
            )
        ):
            self.add(Break(None, "", None, "chain head record does not match the sealed chain", LEGACY))
        if not self.seals:
            if scan.count:
                self.add(Break(None, "", None, "unkeyed events without a seal (written outside the LIMS)", LEGACY))
            return
        seal = self.seals[0]
        sealed = int(seal.get("count", 0))
        if scan.count < sealed:
            self.add(Break(None, "", None, missing(scan.count + 1, sealed) + " (the seal counts them)", LEGACY))
        elif scan.count > sealed:
            self.add(Break(None, "", None, f"events {sealed + 1}..{scan.count} added after the seal", LEGACY))
        elif scan.hexdigest() != seal.get("digest") or scan.head != seal.get("head"):
            where = scan.first_break[0] if scan.first_break and seal.get("intact") else None
            self.add(
                Break(
                    where["id"] if where else None,
                    str(where["entity"]) if where else "",
                    int(where["entity_id"]) if where else None,
                    "the sealed unkeyed chain was altered after it was sealed",
                    LEGACY,
                )
            )
        if not seal.get("intact"):
            self.report.notes.append(f"the unkeyed chain was sealed with a recorded break: {seal.get('break')}")

    def rows(self, models: Sequence[type[SQLModel]], fix: _Fix | None = None) -> None:
        """Compare every row of `models` with its newest authentic event; `fix` may take care of a row that
        has no event or differs, instead of a break."""
        for model in models:
            table_name = str(model.__tablename__)
            table: Table = model.__table__  # type: ignore[attr-defined]
            latest = self.latest.pop(table_name, {})
            secret = bool(secret_columns(model))
            last = 0
            while True:
                rows = self.connection.execute(
                    select(table).where(table.c.id > last).order_by(table.c.id).limit(BATCH)
                ).all()
                if not rows:
                    break
                for row in rows:
                    values = row._mapping
                    row_id = int(values["id"])
                    found = latest.pop(row_id, None)
                    stored = snapshot_text(model, values, self.key() if secret else None)
                    if found is None:
                        if fix is None or not fix(model, row_id, json.loads(stored), None):
                            self.add(
                                Break(
                                    None,
                                    table_name,
                                    row_id,
                                    "row has no authentic audit event (inserted or rewritten outside the LIMS)",
                                )
                            )
                        continue
                    if _digest(stored) != found.digest:
                        snap = json.loads(stored)
                        audited = self._after(found.event_id) or {}
                        if snap == audited:  # the same values written differently (a float column's 5.0 for 5)
                            continue
                        if fix is not None and fix(model, row_id, snap, audited):
                            continue
                        self.add(
                            Break(
                                found.event_id,
                                table_name,
                                row_id,
                                f"row differs from its audited state ({_diff(snap, audited)})",
                                found.chain,
                            )
                        )
                last = int(rows[-1].id)
            for entity_id, found in sorted(latest.items()):
                self.add(
                    Break(
                        found.event_id,
                        table_name,
                        entity_id,
                        "audited row is missing (deleted outside the LIMS)",
                        found.chain,
                    )
                )

    def _after(self, event_id: int) -> dict[str, Any] | None:
        after = self.connection.execute(select(EVENTS.c.after).where(EVENTS.c.id == event_id)).scalar()
        return dict(after) if after else None


def missing(first: int, last: int) -> str:
    """How a report names events that are gone: `event 7 missing` or `events 7..9 missing`."""
    return f"event {first} missing" if first == last else f"events {first}..{last} missing"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _diff(stored: dict[str, Any], audited: dict[str, Any]) -> str:
    changed = [
        f"{key}: audited {_short(audited.get(key))}, stored {_short(stored.get(key))}"
        for key in sorted(set(stored) | set(audited))
        if stored.get(key) != audited.get(key)
    ]
    return "; ".join(changed[:3])


@dataclass(frozen=True)
class _HeadRow:
    count: int
    head: str
    mac: str


def _heads(session: Session) -> dict[str, _HeadRow]:
    settle(session)
    session.flush()
    rows = session.connection().execute(select(CHAINS.c.name, CHAINS.c["count"], CHAINS.c.head, CHAINS.c.mac))
    return {str(name): _HeadRow(int(count), str(head), str(mac)) for name, count, head, mac in rows}


def check(
    session: Session,
    audited_models: Sequence[type[SQLModel]],
    *,
    signed: Sequence[SignedHead] = (),
    limit: int = 200,
) -> Report:
    """Follow every chain (positions, links, hashes, MACs, head records, the signed heads, the sealed unkeyed
    chain), then compare every audited row with its newest authentic event."""
    verifier = _Verifier(session, signed, limit)
    verifier.chains(_heads(session))
    verifier.rows(audited_models)
    return verifier.report


def verify(
    session: Session, audited_models: Sequence[type[SQLModel]], *, signed: Sequence[SignedHead] = ()
) -> Break | None:
    """The first break `check` finds, or None when the trail and the data agree."""
    report = check(session, audited_models, signed=signed, limit=1)
    return report.breaks[0] if report.breaks else None


def check_public(session: Session, signed: Sequence[SignedHead]) -> Report:
    """What anyone can check without the audit key: every chain's positions, links and public hashes, the
    sealed unkeyed chain, and that each signed head is still the event at its position."""
    verifier = _Verifier(session, signed, 200, keyed=False)
    verifier.chains(_heads(session))
    return verifier.report


def chain_heads(session: Session) -> dict[str, tuple[int, str, str]]:
    """Each keyed chain's recorded head: (count, hash of the last event, its MAC); the sealed unkeyed chain is
    vouched for by its seal, the first event of `shared`."""
    heads: dict[str, tuple[int, str, str]] = {}
    settle(session)
    session.flush()
    rows = session.connection().execute(
        select(CHAINS.c.name, CHAINS.c["count"], CHAINS.c.head).where(CHAINS.c.name != LEGACY, CHAINS.c["count"] > 0)
    )
    for name, count, head in rows:
        mac = (
            session.connection()
            .execute(select(EVENTS.c.mac).where(EVENTS.c.chain == name, EVENTS.c.seq == count))
            .scalar()
        )
        heads[str(name)] = (int(count), str(head), str(mac or ""))
    return heads


def check_extension(session: Session, chain: str, start: int, start_head: str, end: int) -> list[Break]:
    """Whether events `start+1..end` of `chain` follow on from event `start` (whose hash was `start_head`)
    with valid links, hashes and MACs, and event `start` is still the one with that hash."""
    verifier = _Verifier(session, (), 50)
    key = verifier.key()
    if start:
        found = (
            session.connection()
            .execute(select(EVENTS.c.hash).where(EVENTS.c.chain == chain, EVENTS.c.seq == start))
            .scalar()
        )
        if found is None:
            verifier.add(Break(None, "", None, missing(start, start), chain))
        elif found != start_head:
            verifier.add(Break(None, "", None, f"event {start} is not the one signed before (replaced)", chain))
    previous, expected = start_head, start + 1
    rows = session.connection().execute(
        select(EVENTS).where(EVENTS.c.chain == chain, EVENTS.c.seq > start, EVENTS.c.seq <= end).order_by(EVENTS.c.seq)
    )
    for row in rows:
        if int(row.seq) != expected:
            verifier.add(Break(row.id, row.entity, row.entity_id, missing(expected, int(row.seq) - 1), chain))
        elif row.prev_hash != previous:
            verifier.add(Break(row.id, row.entity, row.entity_id, "previous-hash link broken", chain))
        if event_hash(row._mapping) != row.hash or not hmac.compare_digest(
            str(row.mac or ""), event_mac(key, str(row.hash))
        ):
            verifier.add(Break(row.id, row.entity, row.entity_id, "event does not verify (forged or altered)", chain))
        previous, expected = str(row.hash), int(row.seq) + 1
    if expected - 1 != end:
        verifier.add(Break(None, "", None, missing(expected, end), chain))
    return verifier.report.breaks


MIGRATION = Actor(name="lims db upgrade", role="system")


def record_schema_changes(
    session: Session,
    audited_models: Sequence[type[SQLModel]],
    created_tables: frozenset[str] = frozenset(),
    rewrites: Mapping[str, Sequence[Callable[[dict[str, Any]], dict[str, Any]]]] | None = None,
) -> int:
    """After an upgrade, in its transaction: record what the migrations did to audited rows, so that they
    still match their last audited state. A row whose only difference from its newest authentic event is
    a field added or dropped, or a value changed exactly as one of the table's `rewrites` (pure functions
    of the audited snapshot that the migrations declared) changes it, gets a `schema_upgrade` event; a row
    of a table the upgrade created gets an `audit_start` event. Any other difference is left for `verify`
    to report. Returns how many events."""
    verifier = _Verifier(session, (), limit=0)
    verifier.chains(_heads(session))
    pending: list[tuple[type[SQLModel], int, str, dict[str, Any] | None, dict[str, Any]]] = []
    declared = rewrites or {}

    def explained(snap: dict[str, Any], audited: dict[str, Any], rewritten: bool) -> bool:
        common = set(snap) & set(audited)
        return (rewritten or set(snap) != set(audited)) and all(snap[k] == audited[k] for k in common)

    def fix(model: type[SQLModel], row_id: int, snap: dict[str, Any], audited: dict[str, Any] | None) -> bool:
        if audited is None:
            if str(model.__tablename__) not in created_tables:
                return False
            pending.append((model, row_id, "audit_start", None, snap))
            return True
        candidates = [(audited, False)]
        candidates += [(change(audited), True) for change in declared.get(str(model.__tablename__), ())]
        if not any(explained(snap, candidate, rewritten) for candidate, rewritten in candidates):
            return False
        pending.append((model, row_id, "schema_upgrade", audited, snap))
        return True

    verifier.rows(audited_models, fix)
    for model, row_id, action, before, after in pending:
        row = session.get(model, row_id)
        if row is not None:
            append(session, MIGRATION, chain_of(session, row), str(model.__tablename__), row_id, action, before, after)
    settle(session)  # the upgrade commits its connection, not this session: its commit hook would not run
    session.flush()
    return len(pending)
