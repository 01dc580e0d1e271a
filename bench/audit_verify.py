"""Audit verification time on a database of N published results, next to baselines measured in the same run.

The database is built in bulk: reference data and users through the services, then per result the rows
and the seven events the closed loop writes (sample registered, its first version, result submitted,
approved, review signed, published, review signed), with real snapshots, hashes and MACs, inserted in
batches straight into the tables. Then:

* verify: `lims audit verify`'s work (`audit_checkpoints.verify` with one checkpoint): every chain's
  positions, links, hashes and MACs, the head records, the signed heads, and every audited row against its
  newest authentic event;
* baseline select: a plain SELECT of every event and every audited row, in the same batches (the I/O and
  decoding floor);
* baseline unkeyed: the work of the unkeyed verifier this replaced, with the same batched reads: one
  SHA-256 per event over its public fields, and every audited row compared with its newest event.

    .venv/bin/python bench/audit_verify.py [--results 100000] [--url sqlite:///var/bench/audit.db]
    .venv/bin/python bench/audit_verify.py --url postgresql+psycopg://postgres@127.0.0.1:5432/bench_audit
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel, select

from lims.db import make_engine
from lims.models import FoodCategory, Review, Sample, SampleVersion, SamplingPoint, TestItem, TestResult
from lims.models.samples import SampleData
from lims.services.access import auth
from lims.services.core import audit, audit_checkpoints, schema
from lims.services.core.audit import SYSTEM
from lims.services.core.audit_keys import event_key, event_mac, head_mac
from lims.services.core.audit_tables import AUDITED_MODELS, district_chain
from lims.services.reference import reference_data

ROOT = Path(__file__).resolve().parent.parent
BATCH = 2000


def fresh_engine(url: str) -> Engine:
    """An empty database at `url` (a SQLite file is replaced; a PostgreSQL database is created or emptied)."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return make_engine(url)
    parsed = make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).scalar():
            conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    engine = make_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    return engine


def _row(model: type[SQLModel], values: dict[str, Any]) -> dict[str, Any]:
    """A row of `model` as the services would write it: the given values, every other column at its default."""
    defaults = {
        name: field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
        if name not in values
    }
    return {**defaults, **values}


class Builder:
    """Writes rows and their events in bulk, continuing one district's chain."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.key = event_key()
        with Session(engine, expire_on_commit=False) as session:
            reference_data.load_reference(session, SYSTEM)
            self.tester = auth.add_user(session, SYSTEM, "bench-tester", "tester", "bench-password-1")
            self.reviewer = auth.add_user(session, SYSTEM, "bench-reviewer", "reviewer", "bench-password-2")
            session.commit()
            point = session.exec(select(SamplingPoint)).first()
            item = session.exec(select(TestItem).where(TestItem.code == "OPC")).one()
            category = session.exec(select(FoodCategory).where(FoodCategory.code == "VEG_LEAF")).one()
            assert point is not None
            self.point_id, self.item_id, self.category = int(point.id or 0), int(item.id or 0), category.code
            self.district_id = self.tester.district_id
            self.chain = district_chain(self.district_id)
            head = (
                session.connection()
                .execute(
                    sa.select(audit.CHAINS.c["count"], audit.CHAINS.c.head).where(audit.CHAINS.c.name == self.chain)
                )
                .one()
            )
            self.count, self.head = int(head[0]), str(head[1])
            self.next_id = {
                m: int(session.connection().execute(sa.select(sa.func.coalesce(sa.func.max(t.c.id), 0))).scalar() or 0)
                + 1
                for m, t in ((m, m.__table__) for m in (Sample, SampleVersion, TestResult, Review))  # type: ignore[attr-defined]
            }
        self.tester_actor = auth.actor_for(self.tester)
        self.reviewer_actor = auth.actor_for(self.reviewer)

    def _id(self, model: type[SQLModel]) -> int:
        value = self.next_id[model]
        self.next_id[model] = value + 1
        return value

    def _event(
        self,
        at: datetime,
        actor: audit.Actor,
        model: type[SQLModel],
        row: dict[str, Any],
        action: str,
        before: dict[str, Any] | None,
    ) -> dict[str, Any]:
        after = audit.snapshot_values(model, row, self.key)
        values = {
            "chain": self.chain,
            "seq": self.count + 1,
            "at": at,
            "actor": actor.name,
            "role": actor.role,
            "entity": str(model.__tablename__),
            "entity_id": row["id"],
            "action": action,
            "before": before,
            "after": after,
            "prev_hash": self.head,
        }
        digest = audit.event_hash(values)
        values["hash"], values["mac"] = digest, event_mac(self.key, digest)
        self.count, self.head = self.count + 1, digest
        return values

    def one(
        self, i: int, at: datetime, rows: dict[type[SQLModel], list[dict[str, Any]]], events: list[dict[str, Any]]
    ) -> None:
        """One sample with one published result and its seven events."""
        tester, reviewer = self.tester_actor, self.reviewer_actor
        sample = _row(
            Sample,
            {
                "id": self._id(Sample),
                "label_id": f"B{i:09d}",
                "district_id": self.district_id,
                "point_id": self.point_id,
                "collected_at": at,
                "collected_by_id": self.tester.id,
                "task_ref": None,
                "version": 1,
                "created_at": at,
                "product_name": "小白菜",
                "category_code": self.category,
                "brand": "",
                "gtin": None,
                "batch": f"L{i % 997}",
                "production_date": None,
                "supplier": "",
                "quantity": 1.5,
                "quantity_unit": "kg",
            },
        )
        version = _row(
            SampleVersion,
            {
                "id": self._id(SampleVersion),
                "sample_id": sample["id"],
                "version": 1,
                "reason": "",
                "recorded_at": at,
                "recorded_by_id": self.tester.id,
                "data": audit.snapshot_fields(_Obj(sample), SampleData.model_fields),
            },
        )
        result = _row(
            TestResult,
            {
                "id": self._id(TestResult),
                "district_id": self.district_id,
                "sample_id": sample["id"],
                "item_id": self.item_id,
                "instrument_id": None,
                "instrument_sequence": None,
                "kit_lot_id": None,
                "channel": None,
                "raw": {"control_dA": 0.6, "sample_dA": 0.48},
                "value": 20.0,
                "unit": "%",
                "judgement": "negative",
                "reason_code": "",
                "reason": "",
                "instrument_value": None,
                "instrument_judgement": None,
                "flags": [],
                "status": "tested",
                "tester_id": self.tester.id,
                "tested_at": at,
                "created_at": at,
                "published_at": None,
                "version": 1,
                "supersedes_id": None,
                "correction_reason": "",
            },
        )
        events.append(self._event(at, tester, Sample, sample, "register", None))
        events.append(self._event(at, tester, SampleVersion, version, "version", None))
        events.append(self._event(at, tester, TestResult, result, "submit", None))
        reviews = []
        for action, status in (("approve", "approved"), ("publish", "published")):
            before = audit.snapshot_values(TestResult, result, self.key)
            later = at + timedelta(minutes=5 if action == "approve" else 10)
            result = {**result, "status": status, "published_at": later if status == "published" else None}
            events.append(self._event(later, reviewer, TestResult, result, action, before))
            review = _row(
                Review,
                {
                    "id": self._id(Review),
                    "result_id": result["id"],
                    "reviewer_id": self.reviewer.id,
                    "action": action,
                    "meaning": action,
                    "reason": "",
                    "acknowledged_flags": [],
                    "at": later,
                    "signed_hash": hashlib.sha256(f"{result['id']}:{action}".encode()).hexdigest(),
                },
            )
            events.append(self._event(later, reviewer, Review, review, "sign", None))
            reviews.append(review)
        rows[Sample].append(sample)
        rows[SampleVersion].append(version)
        rows[TestResult].append(result)
        rows[Review] += reviews

    def build(self, results: int) -> None:
        """Write `results` published results, one transaction per batch."""
        start = datetime(2026, 1, 1, tzinfo=UTC)
        done = 0
        while done < results:
            rows: dict[type[SQLModel], list[dict[str, Any]]] = {
                Sample: [],
                SampleVersion: [],
                TestResult: [],
                Review: [],
            }
            events: list[dict[str, Any]] = []
            for i in range(done, min(results, done + BATCH)):
                self.one(i, start + timedelta(minutes=i), rows, events)
            with self.engine.begin() as conn:
                for model in (Sample, SampleVersion, TestResult, Review):
                    conn.execute(model.__table__.insert(), rows[model])  # type: ignore[attr-defined]
                conn.execute(audit.EVENTS.insert(), events)
                conn.execute(
                    audit.CHAINS.update()
                    .where(audit.CHAINS.c.name == self.chain)
                    .values(
                        count=self.count,
                        head=self.head,
                        mac=head_mac(self.key, self.chain, self.count, self.head),
                        version=audit.head_version(self.head),
                    )
                )
            done += len(rows[TestResult])
            print(f"  built {done}/{results} results", end="\r", file=sys.stderr)
        print(file=sys.stderr)
        if self.engine.dialect.name == "postgresql":
            with self.engine.begin() as conn:
                for table in ("sample", "sample_version", "test_result", "review", "audit_event"):
                    conn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                        )
                    )
        schema.analyze(self.engine)


class _Obj:
    """Attribute access to a dict (for `snapshot_fields`)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def timed(work: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time of `repeat` runs, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        began = time.perf_counter()
        out = work()
        best = min(best, time.perf_counter() - began)
    return best, out


def plain_select(engine: Engine) -> int:
    """Read every event and every audited row, in the batches verification uses."""
    seen = 0
    with engine.connect() as conn:
        for table in [audit.EVENTS, *(m.__table__ for m in AUDITED_MODELS)]:  # type: ignore[attr-defined]
            last = 0
            while True:
                rows = conn.execute(
                    sa.select(table).where(table.c.id > last).order_by(table.c.id).limit(audit.BATCH)
                ).all()
                if not rows:
                    break
                seen += len(rows)
                last = int(rows[-1].id)
    return seen


def unkeyed(engine: Engine, key: bytes) -> int:
    """Hash every event with the unkeyed scheme and compare every audited row with its newest event."""
    latest: dict[tuple[str, int], bytes] = {}
    differ = 0
    with engine.connect() as conn:
        last = 0
        while True:
            rows = conn.execute(
                sa.select(audit.EVENTS).where(audit.EVENTS.c.id > last).order_by(audit.EVENTS.c.id).limit(audit.BATCH)
            ).all()
            if not rows:
                break
            for row in rows:
                audit.legacy_hash(row._mapping)
                latest[(row.entity, row.entity_id)] = hashlib.sha256(audit.canonical(row.after).encode()).digest()
            last = int(rows[-1].id)
        for model in AUDITED_MODELS:
            table = model.__table__  # type: ignore[attr-defined]
            last = 0
            while True:
                rows = conn.execute(
                    sa.select(table).where(table.c.id > last).order_by(table.c.id).limit(audit.BATCH)
                ).all()
                if not rows:
                    break
                for row in rows:
                    text = audit.snapshot_text(model, row._mapping, key)
                    differ += latest.get((str(model.__tablename__), row.id)) != hashlib.sha256(text.encode()).digest()
                last = int(rows[-1].id)
    return differ


def main() -> None:
    """Build the database, then time verification and the baselines."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--url", default=f"sqlite:///{ROOT / 'var' / 'bench' / 'audit.db'}")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs of each measurement")
    args = parser.parse_args()
    # The keys and the checkpoint of this run stay in a folder of its own.
    os.environ.setdefault("LIMS_VAR_DIR", tempfile.mkdtemp(prefix="lims-bench-audit-"))
    os.environ.setdefault("LIMS_AUDIT_KEY", "bench-audit-key-0123456789abcdefghijklmnopqrstuvwxyz")

    engine = fresh_engine(args.url)
    schema.upgrade(engine)
    began = time.perf_counter()
    Builder(engine).build(args.results)
    build_s = time.perf_counter() - began
    with Session(engine) as session:
        checkpoint = audit_checkpoints.take(session)

    def verify() -> audit.Report:
        with Session(engine) as session:
            return audit_checkpoints.verify(session, AUDITED_MODELS)

    verify_s, report = timed(verify, args.repeat)
    assert report.intact, report.breaks[:5]
    select_s, rows = timed(lambda: plain_select(engine), args.repeat)
    unkeyed_s, differ = timed(lambda: unkeyed(engine, event_key()), args.repeat)
    assert differ == 0
    events = sum(report.chains.values())
    print(
        f"audit verify on {engine.dialect.name}: {args.results} results, {events} events, {rows - events} audited rows "
        f"(built in {build_s:.0f} s; checkpoint {checkpoint.label()})"
    )
    print(f"{'':>18} {'seconds':>8} {'events/s':>9} {'verify x':>9}")
    for name, seconds in (("verify", verify_s), ("baseline select", select_s), ("baseline unkeyed", unkeyed_s)):
        print(f"{name:>18} {seconds:>8.2f} {events / seconds:>9.0f} {verify_s / seconds:>8.1f}x")
    engine.dispose()


if __name__ == "__main__":
    main()
