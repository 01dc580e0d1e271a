"""A province for benchmarks and trials: districts with a long history of quick tests, written in bulk.

What a district is (its stations, points, instruments, accounts and kit-lot stock) goes through the services.
The history (samples and their versions, results with raw data and judgements, the reviewer's signed approvals and
publications, cases for positives, the stock ledger every test and control takes from, and the daily controls) is
written in bulk, with the audit events the services write for each of those steps, chained and authenticated with
the real hashing and key (`audit.BulkChain`), so `lims audit verify` passes on the result. The raw figures and
judgements come from pools that the services themselves judged, on a scratch database, for every product, item and
outcome; the history draws from them with a seeded random generator, so a seed is deterministic.
"""

from __future__ import annotations

import hashlib
import json
import random
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import JSON, Column, Date, DateTime, MetaData, Table, Text, func, insert, text, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, SQLModel, col, select

from lims.db import make_engine
from lims.i18n import _N
from lims.models import (
    AuditChain,
    AuditEvent,
    ControlRun,
    FoodCategory,
    KitLot,
    KitStock,
    LabelCounter,
    PositiveCase,
    Review,
    Sample,
    SampleVersion,
    SamplingPoint,
    StockMovement,
    TestItem,
    TestResult,
    User,
)
from lims.models.cases import Procedure
from lims.models.common import JudgementOutcome, ResultStatus
from lims.models.qc import ControlSubmit
from lims.models.results import ResultSubmit
from lims.models.samples import SampleCreate, SampleData, VersionState
from lims.models.stock import MovementKind
from lims.services.access import auth
from lims.services.cases.procedure import CLOCKS
from lims.services.core import audit, clock, schema
from lims.services.core.audit import SYSTEM, Actor, BulkChain, canonical_piece, encoded_snapshot_text
from lims.services.core.audit_keys import event_key
from lims.services.core.audit_tables import district_chain
from lims.services.core.errors import Conflict, Invalid
from lims.services.demo import builder
from lims.services.lab import qc, stock
from lims.services.reference import gtin as gtins
from lims.services.reference import judging, reference_data
from lims.services.results import records
from lims.services.results.workflow import TRANSITIONS
from lims.services.samples import sampling
from lims.services.samples.label_ids import MAX_PER_DAY, make_label_id

MAX_DISTRICTS = 50
MAX_DAYS = 3650
MAX_SAMPLES_PER_DAY = 400
# The shipped district comes first; the others take two-letter codes in this order.
FIRST_DISTRICT = "XQ"
LETTERS = "ABCDEFGHJKLMNPRSTUVWYZ"
CHUNK = 5000
# Pools the services judge on the scratch database: variants per product, item and outcome, and per control.
NEGATIVE_VARIANTS = 3
POSITIVE_VARIANTS = 2
CONTROL_VARIANTS = 2
# Kit-lot stock: the first delivery is booked through the services on the first day; later deliveries in bulk
# whenever a lot falls below what a busy day uses (as the demo's lab orders).
DELIVERY = 2000
REORDER_BELOW = 600


@dataclass
class SeedSummary:
    """What the seed wrote, for the console and `--json`."""

    districts: list[str] = field(default_factory=list)
    days: int = 0
    first_day: str = ""
    last_day: str = ""
    samples: int = 0
    results: int = 0
    positives: int = 0
    cases: int = 0
    controls: int = 0
    movements: int = 0
    events: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    # Label ids of a few published samples per district (their public pages), and the accounts with passwords.
    trace_codes: list[str] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain data."""
        return dict(self.__dict__)


def check_arguments(districts: int, days: int, samples_per_day: int) -> None:
    """Refuse arguments outside the seed's bounds, with the bound."""
    for value, least, most, name in (
        (districts, 1, MAX_DISTRICTS, "districts"),
        (days, 1, MAX_DAYS, "days"),
        (samples_per_day, 1, MAX_SAMPLES_PER_DAY, "samples_per_day"),
    ):
        if not least <= value <= most:
            raise Invalid(
                "seed.out_of_bounds",
                _N("{name} must be between {least} and {most}, not {value}"),
                name=name,
                least=least,
                most=most,
                value=value,
            )


def district_codes(count: int) -> list[str]:
    """The codes of `count` districts: the shipped one, then AA, AB, … (two capital letters)."""
    codes = [FIRST_DISTRICT]
    pairs = (a + b for a in LETTERS for b in LETTERS)
    while len(codes) < count:
        code = next(pairs)
        if code != FIRST_DISTRICT:
            codes.append(code)
    return codes


# --- the districts, through the services ---------------------------------------------------------------------


def _district_folder(folder: Path, code: str) -> Path:
    """A reference folder for district `code`: the shipped district renamed, with its own instrument serials."""
    shipped = reference_data.shipped_reference_dir()
    doc = yaml.safe_load((shipped / "district.yaml").read_text(encoding="utf-8"))
    doc["district"] = {**doc["district"], "code": code, "name": f"{code}区 12315 指挥中心",
                       "name_en": f"{code} District 12315 Command Centre"}  # fmt: skip
    for instrument in doc.get("instruments", []):
        instrument["serial"] = f"{code}-{instrument['serial']}"[:40]
    target = folder / code
    target.mkdir(parents=True, exist_ok=True)
    (target / "district.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    (target / "items.yaml").write_text((shipped / "items.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return target


def _username(code: str, role_name: str) -> str:
    return role_name if code == FIRST_DISTRICT else f"{code.lower()}_{role_name}"


@dataclass
class _District:
    code: str
    district_id: int
    tester: Actor
    reviewer: Actor
    admin: Actor
    points: list[SamplingPoint]
    holdings: dict[int, int]  # kit lot id -> kit_stock id


def _setup_districts(engine: Engine, codes: list[str], first_day: date, summary: SeedSummary) -> list[_District]:
    """Every district's reference data, accounts and first kit-lot deliveries, through the services."""
    made = []
    with tempfile.TemporaryDirectory() as tmp, Session(engine, expire_on_commit=False) as session:
        for code in codes:
            folder = None if code == FIRST_DISTRICT else _district_folder(Path(tmp), code)
            reference_data.load_reference(session, SYSTEM, folder)
            users = {}
            for role_name, (role, password, station) in builder.DEMO_USERS.items():
                name = _username(code, role_name)
                users[role_name] = auth.add_user(
                    session, SYSTEM, name, role, password, district_code=code, station_code=station,
                    full_name=f"{code} {role}", published_password_ok=True,
                )  # fmt: skip
                summary.users[name] = password
            session.commit()
            admin = auth.actor_for(users["admin"])
            district_id = int(admin.district_id or 0)
            holdings = {}
            today = clock.today_of(session, district_id)  # the district's date, not the UTC one
            for lot in session.exec(select(KitLot).where(col(KitLot.expires_on) >= today)).all():
                held = stock.receive(session, admin, int(lot.id or 0), DELIVERY, received_on=first_day, min_units=50,
                                     note="first delivery")  # fmt: skip
                stock.accept(session, admin, int(lot.id or 0), True, "negative and positive control cards read")
                holdings[int(lot.id or 0)] = int(held.id or 0)
            session.commit()
            points = [
                p
                for p in session.exec(
                    select(SamplingPoint).where(SamplingPoint.district_id == district_id).order_by(SamplingPoint.code)
                )
                if p.kind in builder.POINT_CATEGORIES
            ]
            made.append(
                _District(
                    code,
                    district_id,
                    auth.actor_for(users["tester"]),
                    auth.actor_for(users["reviewer"]),
                    admin,
                    points,
                    holdings,
                )
            )
    return made


# --- pools judged by the services on a scratch database ------------------------------------------------------

# Columns a copied result or control run takes from its history, not from the pool.
_OWN_RESULT = {"id", "district_id", "sample_id", "item_id", "instrument_id", "kit_lot_id", "status", "tester_id",
               "tested_at", "created_at", "published_at", "version", "supersedes_id", "repeat_of_id",
               "instrument_sequence"}  # fmt: skip
_OWN_CONTROL = {"id", "district_id", "item_id", "kit_lot_id", "day", "tester_id", "tested_at", "created_at",
                "instrument_id", "instrument_sequence"}  # fmt: skip


@dataclass
class _Pools:
    # (category, product index, item code, positive) -> result columns the services wrote, JSON as text
    results: dict[tuple[str, int, str, bool], list[dict[str, Any]]]
    controls: dict[str, list[tuple[str, dict[str, Any]]]]  # item code -> (kind, control-run columns)
    kit_lots: dict[str, str]  # item code -> lot number used (in date)


def _row(values: dict[str, Any], table: Table, own: set[str]) -> dict[str, Any]:
    return {
        c.name: audit.canonical(values[c.name]) if isinstance(c.type, JSON) else values[c.name]
        for c in table.columns
        if c.name not in own
    }


def _judged_pools(seed: int) -> _Pools:
    """Results and control runs of every product, item and outcome, made by the services on a scratch database."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = make_engine(f"sqlite:///{tmp}/pools.db")
        try:
            schema.bring_up_to_date(scratch)
            return _judge_pools(scratch, rng)
        finally:
            scratch.dispose()


def _judge_pools(scratch: Engine, rng: random.Random) -> _Pools:
    results: dict[tuple[str, int, str, bool], list[dict[str, Any]]] = {}
    controls: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    table: Table = TestResult.__table__  # type: ignore[attr-defined]
    runs: Table = ControlRun.__table__  # type: ignore[attr-defined]
    with Session(scratch, expire_on_commit=False) as session:
        reference_data.load_reference(session, SYSTEM)
        users = builder.ensure_users(session)
        session.commit()
        tester = auth.actor_for(users["tester"])
        ref = builder._reference(session)
        point = ref.points[0].code
        at = clock.now() - timedelta(hours=3)
        lots = {item_id: kit.lot for item_id, kit in ref.kits.items()}
        codes = {}
        for category, tests in sorted(ref.items_by_category.items()):
            for index, (product, brand, gtin, supplier) in enumerate(builder.PRODUCTS.get(category, [])):
                sample = sampling.register(
                    session, tester,
                    SampleCreate(point_code=point, product_name=product, category_code=category, brand=brand,
                                 gtin=gtin, supplier=supplier, collected_at=at),
                )  # fmt: skip
                for item, limit in tests:
                    codes[int(item.id or 0)] = item.code
                    kit = ref.kits.get(int(item.id or 0))
                    repeats = records.repeats_for_positive(item)[0]
                    for positive, variants in ((False, NEGATIVE_VARIANTS), (True, POSITIVE_VARIANTS)):
                        if positive and repeats:
                            continue  # a screening positive its method repeats: not in the pools
                        for _ in range(variants):
                            raw = judging.example_raw(item, limit, kit, positive, rng, sample)
                            result = records.submit(
                                session, tester,
                                ResultSubmit(sample_label_id=sample.label_id, item_code=item.code, raw=raw,
                                             kit_lot=kit.lot if kit else None, tested_at=at + timedelta(minutes=40)),
                            )  # fmt: skip
                            if result.judgement != JudgementOutcome.INVALID:
                                values = {c.name: getattr(result, c.name) for c in table.columns}
                                key = (category, index, item.code, result.judgement == JudgementOutcome.POSITIVE)
                                results.setdefault(key, []).append(_row(values, table, _OWN_RESULT))
        for item_id, code in sorted(codes.items()):
            found = session.get(TestItem, item_id)
            kit = ref.kits.get(item_id)
            if found is None or (kit is None and judging.uses_kit_lot(found.family)):
                continue
            for rule in qc.rules().controls(found.family):
                for _ in range(CONTROL_VARIANTS):
                    figures = qc.example_raw(session, found, rule.kind, kit, True, rng)
                    run = qc.record(
                        session, tester,
                        ControlSubmit.model_validate({"item_code": code, "kit_lot": kit.lot if kit else None,
                                                      "kind": rule.kind, "raw": figures, "tested_at": at}),
                    )  # fmt: skip
                    values = {c.name: getattr(run, c.name) for c in runs.columns}
                    controls.setdefault(code, []).append((rule.kind, _row(values, runs, _OWN_CONTROL)))
        session.rollback()
        kit_lots = {codes[i]: lot for i, lot in lots.items() if i in codes}
    return _Pools(results, controls, kit_lots)


# --- the history, in bulk --------------------------------------------------------------------------------------


def _text_table(model: type[SQLModel]) -> Table:
    """The model's table with its JSON columns as text, so rows carry JSON already encoded."""
    source: Table = model.__table__  # type: ignore[attr-defined]
    columns = [Column(c.name, Text if isinstance(c.type, JSON) else c.type) for c in source.columns]
    return Table(source.name, MetaData(), *columns)


_MODELS: dict[str, type[SQLModel]] = {
    str(m.__tablename__): m
    for m in (Sample, SampleVersion, TestResult, Review, PositiveCase, StockMovement, ControlRun)
}
_TABLES = {name: _text_table(model) for name, model in _MODELS.items()}
_EVENTS = _text_table(AuditEvent)
_FIELDS = {name: tuple(model.model_fields) for name, model in _MODELS.items()}
_RESULT_STATE = frozenset({"status", "published_at"})
_STOCK_STATE = frozenset({"remaining", "opened_on"})
_JSON = {name: {c.name for c in model.__table__.columns if isinstance(c.type, JSON)} for name, model in _MODELS.items()}  # type: ignore[attr-defined]


def _defaults(model: type[SQLModel]) -> dict[str, Any]:
    """A row of `model` with every field's default (None where it has none), JSON columns as canonical text."""
    encoded = _JSON[str(model.__tablename__)]
    values = {}
    for name, info in model.model_fields.items():
        value = None if info.is_required() else info.get_default(call_default_factory=True)
        values[name] = audit.canonical(value) if name in encoded and value is not None else value
    return values


class _Writer:
    """Rows and events of one district, inserted in chunks in the order they were made."""

    def __init__(self, connection: Connection, chain: BulkChain, next_ids: dict[str, int]) -> None:
        self.connection = connection
        self.chain = chain
        self.next_ids = next_ids
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in _TABLES}
        self.events: list[dict[str, Any]] = []
        self.count = 0

    def new_id(self, table: str) -> int:
        self.next_ids[table] += 1
        return self.next_ids[table]

    def snapshot(self, table: str, values: dict[str, Any], pieces: dict[str, str] | None = None) -> str:
        """The canonical snapshot of a row whose JSON columns hold canonical text (`pieces`: fields given)."""
        return encoded_snapshot_text(_MODELS[table], values, _JSON[table], pieces)

    def add(self, table: str, values: dict[str, Any]) -> None:
        self.rows[table].append(values)

    def event(self, at: datetime, actor: Actor, entity: str, entity_id: int, action: str, before: str | None,
              after: str) -> None:  # fmt: skip
        self.events.append(self.chain.event(at, actor, entity, entity_id, action, before, after))

    def settle(self) -> None:
        """Insert what has gathered once it is a chunk (called between samples, where every row's parents are in)."""
        if len(self.events) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        for name, rows in self.rows.items():
            if rows:
                bulk_insert(self.connection, _TABLES[name], rows)
                rows.clear()
        if self.events:
            bulk_insert(self.connection, _EVENTS, self.events)
            self.count += len(self.events)
            self.events.clear()


def _sqlite_value(value: Any) -> Any:
    """A value as SQLAlchemy's SQLite types store it (UTC times without their zone, dates in ISO form)."""
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _pg_value(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo:
        return value.astimezone(UTC).replace(tzinfo=None)  # a UTC wall time, as the schema stores times
    return value


def bulk_insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows with every column given, on the driver's fastest path: COPY on PostgreSQL, executemany on
    SQLite (JSON columns hold their text)."""
    names = [c.name for c in table.columns if c.name in rows[0]]  # an id left out comes from its sequence
    raw = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row([_pg_value(row[n]) for n in names])
        return
    marks = ", ".join("?" for _ in names)
    timed = {c.name for c in table.columns if isinstance(c.type, Date | DateTime)}
    raw.executemany(  # type: ignore[union-attr]
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})",
        [[_sqlite_value(row[n]) if n in timed else row[n] for n in names] for row in rows],
    )


@dataclass
class _Holding:
    stock_id: int
    values: dict[str, Any]  # the kit_stock row as it stands
    text: str = ""  # its snapshot
    pieces: dict[str, str] = field(default_factory=dict)  # the snapshot's fields that never change here

    def __post_init__(self) -> None:
        self.pieces = {n: canonical_piece(v) for n, v in self.values.items() if n not in _STOCK_STATE}
        self.retext()

    def retext(self) -> None:
        """Take the snapshot of the row as it stands now."""
        self.text = encoded_snapshot_text(KitStock, self.values, (), self.pieces)


def _day_start(day: date) -> datetime:
    return clock.day_bounds(day, clock.DEFAULT_ZONE)[0]


class _History:
    """One district's days of work."""

    def __init__(self, w: _Writer, d: _District, pools: _Pools, ref: dict[str, Any], rng: random.Random,
                 summary: SeedSummary, holdings: dict[int, _Holding]) -> None:  # fmt: skip
        self.w, self.d, self.pools, self.ref, self.rng, self.summary = w, d, pools, ref, rng, summary
        self.holdings = holdings
        self.sample_base = _defaults(Sample)
        self.case_base = _defaults(PositiveCase)
        self.counters: dict[date, int] = {}

    def _stock_move(self, lot_id: int, kind: MovementKind, action: str, quantity: int, at: datetime,
                    actor: Actor, result_id: int | None = None, reason: str = "") -> None:  # fmt: skip
        """The holding's update event, then its ledger row and event (as `stock.consume` and `_move` do)."""
        holding = self.holdings[lot_id]
        before = holding.text
        holding.values["remaining"] += quantity
        holding.retext()
        self.w.event(at, actor, "kit_stock", holding.stock_id, action, before, holding.text)
        movement = {"id": self.w.new_id("stock_movement"), "district_id": self.d.district_id,
                    "kit_stock_id": holding.stock_id, "kind": kind.value, "quantity": quantity,
                    "balance_after": holding.values["remaining"], "result_id": result_id, "reason": reason,
                    "by_id": actor.user_id, "at": at}  # fmt: skip
        self._insert("stock_movement", movement, at, actor, kind.value)
        self.summary.movements += 1

    def _insert(self, table: str, values: dict[str, Any], at: datetime, actor: Actor, action: str) -> str:
        self.w.add(table, values)
        after = self.w.snapshot(table, values)
        self.w.event(at, actor, table, values["id"], action, None, after)
        return after

    def restock(self, day: date) -> None:
        """A delivery of every lot the day may run short of, booked at the start of the day."""
        at = _day_start(day) + timedelta(hours=7)
        for lot_id, holding in sorted(self.holdings.items()):
            if holding.values["remaining"] < REORDER_BELOW:
                self._stock_move(lot_id, MovementKind.RECEIVED, "receive", DELIVERY, at, self.d.admin,
                                 reason="delivery")  # fmt: skip

    def controls(self, day: date) -> None:
        """The day's controls, before the first sample: every kind each item's method asks for, on its lot."""
        at = _day_start(day) + timedelta(hours=8)
        for code, runs in sorted(self.pools.controls.items()):
            item_id, lot_id = self.ref["items"][code], self.ref["lots"].get(code)
            for kind in sorted({k for k, _v in runs}):
                values = dict(self.rng.choice([v for k, v in runs if k == kind]))
                values.update(id=self.w.new_id("qc_control_run"), district_id=self.d.district_id, item_id=item_id,
                              kit_lot_id=lot_id, day=day, tester_id=self.d.tester.user_id, tested_at=at,
                              created_at=at, instrument_id=None, instrument_sequence=None)  # fmt: skip
                self._insert("qc_control_run", values, at, self.d.tester, "record_control")
                self.summary.controls += 1
                if lot_id in self.holdings:
                    units = -max(1, self.ref["units"][code])
                    self._stock_move(lot_id, MovementKind.QC, "qc_use", units, at, self.d.tester)
        self.w.settle()

    def day(self, day: date, samples: int, now: datetime) -> None:
        """A day of samples at the district's points, each tested, reviewed and published."""
        start = _day_start(day) + timedelta(hours=8, minutes=30)
        for n in range(samples):
            point = self.d.points[n % len(self.d.points)]
            categories = [c for c in builder.POINT_CATEGORIES[point.kind] if c in self.ref["tests"]]
            if not categories:
                continue
            collected = start + timedelta(seconds=int(n * 9 * 3600 / max(samples, 1)))
            if collected + timedelta(hours=3) > now:
                break
            self.sample(day, point, self.rng.choice(categories), collected)

    def sample(self, day: date, point: SamplingPoint, category: str, collected: datetime) -> None:
        d, w, rng = self.d, self.w, self.rng
        products = builder.PRODUCTS[category]
        index = rng.randrange(len(products))
        product, brand, gtin, supplier = products[index]
        sequence = self.counters.get(day, 0) + 1
        if sequence > MAX_PER_DAY:
            return
        self.counters[day] = sequence
        sample = dict(self.sample_base)
        sample.update(
            id=w.new_id("sample"), label_id=make_label_id(d.code, day, sequence), district_id=d.district_id,
            point_id=int(point.id or 0), collected_at=collected, collected_by_id=d.tester.user_id, created_at=collected,
            product_name=product, category_code=category, brand=brand, gtin=builder_gtin(gtin),
            batch=f"{day:%Y%m%d}{rng.randint(1, 9)}", supplier=supplier, quantity=round(rng.uniform(0.5, 3), 1),
        )  # fmt: skip
        self._insert("sample", sample, collected, d.tester, "register")
        version = {"id": w.new_id("sample_version"), "sample_id": sample["id"], "version": 1,
                   "data": audit.canonical({k: sample[k] for k in SampleData.model_fields}),
                   "reason": "registered", "recorded_at": collected, "recorded_by_id": d.tester.user_id,
                   "state": VersionState.RECORDED.value, "reviewed_by_id": None, "reviewed_at": None,
                   "review_reason": ""}  # fmt: skip
        self._insert("sample_version", version, collected, d.tester, "version")
        self.summary.samples += 1
        published = False
        for slot, code in enumerate(self.ref["tests"][category]):
            positive = rng.random() < builder.POSITIVE_RATE
            pool = self.pools.results.get((category, index, code, positive)) or self.pools.results.get(
                (category, index, code, False)
            )
            if not pool:
                continue
            tested = collected + timedelta(minutes=40 + 3 * slot)
            self.result(sample, code, dict(rng.choice(pool)), tested)
            published = True
        w.settle()
        if published and len(self.summary.trace_codes) < 5 * len(self.summary.districts):
            self.summary.trace_codes.append(sample["label_id"])

    def result(self, sample: dict[str, Any], code: str, values: dict[str, Any], tested: datetime) -> None:
        d, w = self.d, self.w
        lot_id = self.ref["lots"].get(code)
        result_id = w.new_id("test_result")
        values.update(
            id=result_id, district_id=d.district_id, sample_id=sample["id"], item_id=self.ref["items"][code],
            instrument_id=None, instrument_sequence=None, kit_lot_id=lot_id, status=ResultStatus.TESTED.value,
            tester_id=d.tester.user_id, tested_at=tested, created_at=tested, published_at=None, version=1,
            supersedes_id=None, repeat_of_id=None,
        )  # fmt: skip
        tracked = lot_id in self.holdings
        if tracked:  # the test's card comes out of the lot's stock before the result is stored
            holding = self.holdings[lot_id]
            before = holding.text
            holding.values["remaining"] -= max(1, self.ref["units"][code])
            if holding.values["opened_on"] is None:
                holding.values["opened_on"] = clock.local_date(tested, clock.DEFAULT_ZONE)
            holding.retext()
            w.event(tested, d.tester, "kit_stock", holding.stock_id, "consume", before, holding.text)
        pieces = {
            name: value if name in _JSON["test_result"] else canonical_piece(value)
            for name, value in values.items()
            if name not in _RESULT_STATE
        }
        submitted = w.snapshot("test_result", values, pieces)
        w.event(tested, d.tester, "test_result", result_id, "submit", None, submitted)
        if tracked:
            holding = self.holdings[lot_id]
            movement = {"id": w.new_id("stock_movement"), "district_id": d.district_id,
                        "kit_stock_id": holding.stock_id, "kind": MovementKind.CONSUMED.value,
                        "quantity": -max(1, self.ref["units"][code]), "balance_after": holding.values["remaining"],
                        "result_id": result_id, "reason": "", "by_id": d.tester.user_id, "at": tested}  # fmt: skip
            self._insert("stock_movement", movement, tested, d.tester, MovementKind.CONSUMED.value)
            self.summary.movements += 1
        approved_at = tested + timedelta(hours=1, minutes=10)
        states = [("approve", ResultStatus.APPROVED, approved_at), ("publish", ResultStatus.PUBLISHED,
                                                                    approved_at + timedelta(minutes=1))]  # fmt: skip
        before = submitted
        flags = json.loads(values["flags"])
        for action, status, at in states:
            values["status"] = status.value
            if status == ResultStatus.PUBLISHED:
                values["published_at"] = at
            after = w.snapshot("test_result", values, pieces)
            w.event(at, d.reviewer, "test_result", result_id, action, before, after)
            review = {"id": w.new_id("review"), "result_id": result_id, "reviewer_id": d.reviewer.user_id,
                      "action": action, "meaning": TRANSITIONS[action].meaning, "reason": "",
                      "acknowledged_flags": audit.canonical(flags if action == "approve" else []),
                      "signed_hash": hashlib.sha256(before.encode()).hexdigest(), "at": at}  # fmt: skip
            self._insert("review", review, at, d.reviewer, "sign")
            if action == "approve" and values["judgement"] == JudgementOutcome.POSITIVE:
                self.case(sample, result_id, at)
            before = after
        w.add("test_result", values)  # the row as it stands after publication, before its reviews and case
        self.summary.results += 1

    def case(self, sample: dict[str, Any], result_id: int, at: datetime) -> None:
        referred = not self.ref["edible"].get(sample["category_code"], True)
        values = dict(self.case_base)
        values.update(
            id=self.w.new_id("positive_case"), result_id=result_id, district_id=self.d.district_id,
            point_id=sample["point_id"], opened_at=at,
            procedure=(Procedure.INSPECTION if referred else Procedure.RETEST).value,
            referred_at=at if referred else None, referral_due=at + CLOCKS.referral_turnaround if referred else None,
        )  # fmt: skip
        self._insert("positive_case", values, at, self.d.reviewer, "open")
        self.summary.positives += 1
        self.summary.cases += 1


def builder_gtin(gtin: str | None) -> str | None:
    """A product's GTIN as registration stores it (GTIN-14)."""
    return gtins.normalise(gtin) if gtin else None


def _reference_ids(session: Session, pools: _Pools) -> dict[str, Any]:
    items = {i.code: int(i.id or 0) for i in session.exec(select(TestItem))}
    units = {i.code: int(i.units_per_test) for i in session.exec(select(TestItem))}
    lots = {lot.lot: int(lot.id or 0) for lot in session.exec(select(KitLot))}
    tests: dict[str, list[str]] = {}
    for category, _index, code, _positive in pools.results:
        if code not in tests.setdefault(category, []):
            tests[category].append(code)
    edible = {c.code: bool(c.edible_agricultural) for c in session.exec(select(FoodCategory))}
    kit_lots = {code: lots[lot] for code, lot in pools.kit_lots.items() if lot in lots}
    return {"items": items, "units": units, "lots": kit_lots, "tests": tests, "edible": edible}


def _next_ids(connection: Connection) -> dict[str, int]:
    found = {}
    for name, table in _TABLES.items():
        found[name] = int(connection.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())
    return found


def _holdings(connection: Connection, d: _District) -> dict[int, _Holding]:
    table: Table = KitStock.__table__  # type: ignore[attr-defined]
    found = {}
    for row in connection.execute(table.select().where(table.c.district_id == d.district_id)):
        values = dict(row._mapping)
        found[int(values["kit_lot_id"])] = _Holding(int(values["id"]), values)
    return found


def _finish(connection: Connection, d: _District, chain: BulkChain, holdings: dict[int, _Holding],
            counters: dict[date, int]) -> None:  # fmt: skip
    """The chain's head, the holdings as their last events left them, and the label numbering of each day."""
    chains: Table = AuditChain.__table__  # type: ignore[attr-defined]
    connection.execute(update(chains).where(chains.c.name == chain.chain).values(**chain.head_values()))
    stocks: Table = KitStock.__table__  # type: ignore[attr-defined]
    for holding in holdings.values():
        connection.execute(
            update(stocks)
            .where(stocks.c.id == holding.stock_id)
            .values(remaining=holding.values["remaining"], opened_on=holding.values["opened_on"])
        )
    if counters:
        labels: Table = LabelCounter.__table__  # type: ignore[attr-defined]
        connection.execute(
            insert(labels),
            [{"district_id": d.district_id, "day": day, "last": n} for day, n in sorted(counters.items())],
        )


def _reset_sequences(connection: Connection) -> None:
    """PostgreSQL: the id sequences continue after the ids the seed gave."""
    if connection.dialect.name != "postgresql":
        return
    for name in _TABLES:
        connection.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), COALESCE((SELECT max(id) FROM {name}), 1))")
        )


@contextmanager
def _timed(summary: SeedSummary, step: str) -> Iterator[None]:
    started = datetime.now(UTC)
    yield
    summary.seconds[step] = round((datetime.now(UTC) - started).total_seconds(), 2)


def refuse_used_database(engine: Engine) -> None:
    """A seed writes a whole province: refuse a database that already holds work."""
    with Session(engine) as session:
        if session.exec(select(Sample.id).limit(1)).first() is not None:
            raise Conflict(
                "seed.database_in_use",
                _N("the database already holds samples; seed an empty database (lims db upgrade on a new one)"),
            )
        if session.exec(select(User.id).limit(1)).first() is not None:
            raise Conflict("seed.database_has_accounts", _N("the database already holds accounts; seed an empty one"))


def seed_province(
    engine: Engine,
    *,
    districts: int = 12,
    days: int = 365,
    samples_per_day: int = 80,
    seed: int = 12315,
    progress: Callable[[str, int, int], None] | None = None,
) -> SeedSummary:
    """Write `districts` districts with `days` days of history ending today (local), `samples_per_day` samples a
    day each; the same `seed` writes the same rows."""
    check_arguments(districts, days, samples_per_day)
    refuse_used_database(engine)
    summary = SeedSummary(days=days)
    now = clock.now()
    last_day = clock.local_date(now, clock.DEFAULT_ZONE)
    first_day = last_day - timedelta(days=days - 1)
    summary.first_day, summary.last_day = first_day.isoformat(), last_day.isoformat()
    codes = district_codes(districts)
    summary.districts = codes
    with _timed(summary, "pools"):
        pools = _judged_pools(seed)
    with _timed(summary, "districts"):
        made = _setup_districts(engine, codes, first_day, summary)
    with Session(engine) as session:
        ref = _reference_ids(session, pools)
    key = event_key()
    with _timed(summary, "history"):
        for d in made:
            rng = random.Random(f"{seed}:{d.code}")
            with engine.begin() as connection:
                chains: Table = AuditChain.__table__  # type: ignore[attr-defined]
                head = connection.execute(
                    select(chains.c["count"], chains.c.head).where(chains.c.name == district_chain(d.district_id))
                ).one()
                chain = BulkChain(key, district_chain(d.district_id), int(head[0]), str(head[1]))
                writer = _Writer(connection, chain, _next_ids(connection))
                holdings = _holdings(connection, d)
                history = _History(writer, d, pools, ref, rng, summary, holdings)
                for offset in range(days):
                    day = first_day + timedelta(days=offset)
                    history.restock(day)
                    history.controls(day)
                    history.day(day, samples_per_day, now)
                    if progress and offset % 30 == 0:
                        progress(d.code, offset, days)
                writer.flush()
                summary.events += writer.count
                _finish(connection, d, chain, holdings, history.counters)
                _reset_sequences(connection)
            if progress:
                progress(d.code, days, days)
    with _timed(summary, "analyze"):
        schema.analyze(engine)
    return summary
