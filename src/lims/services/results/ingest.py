"""Store instrument readings as judged results, exactly once, or hold them when the sample is unknown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from instrument_drivers.reading import Reading
from lims.i18n import _N
from lims.models import District, HeldReading, Instrument, Sample, TestItem, TestResult, User
from lims.models.common import Role
from lims.models.qc import ControlRun
from lims.models.results import ResultSubmit
from lims.services.access import auth
from lims.services.access.accounts import GATEWAY_USER
from lims.services.core import audit
from lims.services.core.audit import SYSTEM, Actor
from lims.services.core.errors import Invalid, ServiceError
from lims.services.lab import qc, stock
from lims.services.reference import judging, reference_data
from lims.services.results import evidence, records
from lims.services.samples import sampling

if TYPE_CHECKING:
    from instrument_drivers.base import Driver


@dataclass(frozen=True)
class Stored:
    """What became of a reading: a result, a held reading, and whether it had been stored before."""

    reading: Reading
    result_id: int | None
    held_id: int | None
    duplicate: bool
    judgement: str | None
    value: float | None
    hold_reason: str = ""
    control_id: int | None = None  # a reading marked as a control (sample id QC-…) is a control run, not a result

    def as_json(self) -> dict[str, Any]:
        """One line of `lims acquire --json` / `lims readings --json`."""
        control = {"control_id": self.control_id} if self.control_id is not None else {}
        return control | {
            "instrument_serial": self.reading.instrument_serial,
            "sequence": self.reading.sequence,
            "item": self.reading.item_code,
            "sample": self.reading.sample_label_id,
            "channel": self.reading.channel,
            # A held reading has not been judged by us yet: show the instrument's own figures.
            "value": self.value if self.result_id else self.reading.value,
            "judgement": self.judgement if self.result_id else self.reading.judgement,
            "judged_by": "lims" if self.result_id else "instrument",
            "instrument_value": self.reading.value,
            "instrument_judgement": self.reading.judgement,
            "result_id": self.result_id,
            "held": self.held_id is not None,
            "hold_reason": self.hold_reason,
            "duplicate": self.duplicate,
        }


def gateway_actor(session: Session, district_id: int) -> Actor:
    """The district's technical tester account that its instruments' results are recorded under (cannot sign in).

    The first one made is called `instrument-gateway`, those of other districts `instrument-gateway-<code>`."""
    district = session.get(District, district_id)
    names = [GATEWAY_USER, f"{GATEWAY_USER}-{district.code.lower()}" if district else GATEWAY_USER]
    user = session.exec(
        select(User).where(col(User.username).in_(names), User.district_id == district_id).order_by(col(User.id))
    ).first()
    if user is None:
        import secrets

        taken = session.exec(select(User.id).where(User.username == GATEWAY_USER)).first() is not None
        user = auth.add_user(
            session,
            SYSTEM,
            names[1] if taken else GATEWAY_USER,
            Role.TESTER,
            secrets.token_urlsafe(32),
            district_code=district.code if district else None,
            full_name="Instrument gateway",
        )
        before = audit.snapshot(user)
        user.active = False
        session.add(user)
        session.flush()
        audit.record(session, SYSTEM, user, "deactivate_login", before)
    return auth.actor_for(user)


def _stored_statement() -> Any:
    """One statement for the results, held readings and control runs of an instrument (`serial`) that carry any
    of the sequence numbers `sequences`, in that order of precedence (`kind` 0, 1, 2)."""
    results, held, runs = TestResult.__table__, HeldReading.__table__, ControlRun.__table__  # type: ignore[attr-defined]
    instruments = Instrument.__table__  # type: ignore[attr-defined]
    serial: Any = sa.bindparam("serial")
    sequences: Any = sa.bindparam("sequences", expanding=True)
    no_text, no_number = sa.cast(sa.null(), sa.String), sa.cast(sa.null(), sa.Float)
    return sa.union_all(
        sa.select(
            sa.literal_column("0").label("kind"),
            results.c.instrument_sequence.label("seq"),
            results.c.id,
            results.c.repeat_of_id.label("ref"),
            results.c.judgement,
            results.c.value,
        )
        .join(instruments, instruments.c.id == results.c.instrument_id)
        .where(instruments.c.serial == serial, results.c.instrument_sequence.in_(sequences)),
        sa.select(
            sa.literal_column("1"), held.c.sequence, held.c.id, held.c.assigned_result_id, no_text, no_number
        ).where(held.c.instrument_serial == serial, held.c.sequence.in_(sequences)),
        sa.select(
            sa.literal_column("2"),
            runs.c.instrument_sequence,
            runs.c.id,
            sa.cast(sa.null(), sa.Integer),
            no_text,
            runs.c.value,
        )
        .join(instruments, instruments.c.id == runs.c.instrument_id)
        .where(instruments.c.serial == serial, runs.c.instrument_sequence.in_(sequences)),
    )


_STORED = _stored_statement()  # built once: a record's check is then one cached statement


def _existing(session: Session, readings: list[Reading]) -> dict[tuple[str, int], Stored]:
    """Those of `readings` stored before, by key: as a result if there is one, else as a held reading, else as a
    control run; the sequence numbers of a record (one instrument's) are checked in one statement."""
    by_serial: dict[str, dict[int, Reading]] = {}
    for reading in readings:
        by_serial.setdefault(reading.instrument_serial, {})[reading.sequence] = reading
    rows = []
    connection = session.connection()
    for serial, by_sequence in by_serial.items():
        for kind, sequence, row_id, ref, judgement, value in connection.execute(
            _STORED, {"serial": serial, "sequences": list(by_sequence)}
        ):
            rows.append((kind, serial, sequence, row_id, ref, judgement, value))
    # A result comes before a held reading of the same key, a held reading before a control run.
    rows.sort(key=lambda row: row[0])
    found: dict[tuple[str, int], Stored] = {}
    held_ids: dict[int, tuple[str, int]] = {}
    for kind, serial, sequence, row_id, ref, judgement, value in rows:
        match = by_serial[serial].get(int(sequence))
        if match is None or match.key() in found:
            continue
        if kind == 0:  # a repeat run is stored as part of the result it repeats: that is the result it became
            found[match.key()] = Stored(match, ref or row_id, None, True, judgement, value)
        elif kind == 1:
            found[match.key()] = Stored(match, ref, row_id, True, None, None)
            held_ids[row_id] = match.key()
        else:
            found[match.key()] = Stored(match, None, None, True, None, value, control_id=row_id)
    if held_ids:  # why each was held (rare: a re-sent reading that is still held)
        held = HeldReading.__table__  # type: ignore[attr-defined]
        for held_id, kept in connection.execute(
            sa.select(held.c.id, held.c.reading).where(held.c.id.in_(list(held_ids)))
        ):
            key = held_ids[held_id]
            found[key] = replace(found[key], hold_reason=str((kept or {}).get("reason", "")))
    return found


def _hold(session: Session, actor: Actor, reading: Reading, why: ServiceError) -> Stored:
    reason = why.reason
    kept = {}
    if reading.evidence is not None:  # the photo goes to the file store; the held row names it by its SHA-256
        kept = {"evidence": None, evidence.KEY + "_sha256": evidence.keep(session, reading.evidence)["sha256"]}
    held = HeldReading(
        instrument_serial=reading.instrument_serial,
        sequence=reading.sequence,
        family=reading.family,
        item_code=reading.item_code,
        sample_label_id=reading.sample_label_id,
        reading={
            **reading.as_dict(),
            **kept,
            "reason": reason,
            "reason_code": why.code,
            "reason_message": why.message,
            "reason_params": why.json_params(),
        },
    )
    session.add(held)
    session.flush()
    audit.record(session, actor, held, "hold", None)
    return Stored(reading, None, held.id, False, None, None, reason)


@dataclass
class _Shared:
    """What the readings stored in one transaction share: the gateway actors, looked up once per district, or the
    one person who stored them (a tester's uploaded photo); and what was read for the record (samples, their latest
    results, calibrations)."""

    actors: dict[int, Actor] = field(default_factory=dict)
    person: Actor | None = None
    lookups: records.Lookups | None = None

    def gateway(self, session: Session, district_id: int) -> Actor:
        if self.person is not None:
            return self.person
        if district_id not in self.actors:
            self.actors[district_id] = gateway_actor(session, district_id)
        return self.actors[district_id]

    def sample(self, session: Session, label_id: str) -> Sample | None:
        """The sample with this label id in any district."""
        key = label_id.strip().upper()
        if self.lookups is not None and key in self.lookups.samples:
            return self.lookups.samples[key]
        return sampling.find(session, label_id)


def _instrument(session: Session, serial: str) -> Instrument | None:
    statement = select(Instrument).where(Instrument.serial == serial)
    instrument: Instrument | None = reference_data.cached_row(session, ("instrument", serial), statement)
    return instrument


def _item(session: Session, code: str) -> TestItem | None:
    item: TestItem | None = reference_data.cached_row(
        session, ("item", code), select(TestItem).where(TestItem.code == code)
    )
    return item


def store(session: Session, reading: Reading) -> Stored:
    """Store `reading` once: a judged result when its sample and item are known, else a held reading."""
    return _store_each(session, [reading])[0]


def store_readings(session: Session, readings: list[Reading], actor: Actor | None = None) -> list[Stored]:
    """`store` for each of `readings` in the caller's transaction (an imported file's records, an uploaded photo's
    cards), recorded under `actor` when given, else under the instrument's district's gateway account."""
    return _store_each(session, readings, actor=actor)


def stored_keys(session: Session, readings: list[Reading]) -> set[tuple[str, int]]:
    """The keys of those of `readings` that are stored already (as results or held readings)."""
    return set(_existing(session, readings))


def store_record(
    engine: Engine,
    readings: list[Reading],
    *,
    new_limit: int | None = None,
    gateways: dict[int, Actor] | None = None,
) -> list[Stored]:
    """Store the readings of one instrument record in one transaction, committed when this returns.

    Stops after `new_limit` newly stored readings; returns what became of each reading it went through, in
    order, so that exactly those may be acknowledged to the instrument. `gateways` keeps the districts' gateway
    actors from one record to the next of an acquisition (they are made once and never change).
    """
    with Session(engine, expire_on_commit=False) as session:
        done = _store_each(session, readings, new_limit, gateways=gateways)
        session.commit()
    return done


def _store_each(
    session: Session,
    readings: list[Reading],
    new_limit: int | None = None,
    actor: Actor | None = None,
    gateways: dict[int, Actor] | None = None,
) -> list[Stored]:
    """`store` for each reading in turn, looking up once what they share; stops after `new_limit` new ones."""
    known = _existing(session, readings)
    shared = _Shared(actors=gateways if gateways is not None else {}, person=actor)
    fresh = [reading for reading in readings if reading.key() not in known]
    if fresh:
        shared.lookups = _lookups(session, fresh)
    done: list[Stored] = []
    new = 0
    for reading in readings:
        if new_limit is not None and new >= new_limit:
            break
        previous = known.get(reading.key())
        if previous is not None:
            stored = replace(previous, reading=reading)
        else:
            stored = _store_new(session, reading, shared)
            known[reading.key()] = replace(stored, duplicate=True)  # the same reading twice in one record
            new += 1
        done.append(stored)
    return done


def _lookups(session: Session, readings: list[Reading]) -> records.Lookups:
    """What the new readings of a record look up, read at once: samples, reference rows, latest results."""
    labels = {r.sample_label_id for r in readings if r.sample_label_id and qc.control_kind(r.sample_label_id) is None}
    found = records.lookups(session, labels, ())
    codes = {r.item_code for r in readings}
    lots = {str(r.raw["kit_lot"]) for r in readings if r.raw.get("kit_lot")}
    reference_data.prefetch(session, codes, {s.category_code for s in found.samples.values()}, lots)
    items = [item for code in codes if (item := _item(session, code)) is not None]
    if items and found.samples:
        found = records.lookups(
            session, labels, {int(item.id or 0) for item in items}, samples=found.samples, districts=found.districts
        )
    return found


def _store_new(session: Session, reading: Reading, shared: _Shared) -> Stored:
    instrument = _instrument(session, reading.instrument_serial)
    # Found in any district: where a reading is filed follows its instrument (below).
    sample = shared.sample(session, reading.sample_label_id) if reading.sample_label_id else None
    # An instrument works for its own district's lab: its readings are filed there (and a sample of another
    # district is then unknown to it, so the reading is held).
    district_id = (instrument.district_id if instrument else None) or (sample.district_id if sample else None)
    if district_id is None:
        district_id = int(session.exec(select(District.id)).first() or 0)
    actor = shared.gateway(session, district_id)
    if instrument is None:
        return _hold(
            session,
            actor,
            reading,
            Invalid("hold.unknown_instrument", _N("unknown instrument {serial}"), serial=reading.instrument_serial),
        )
    kind = qc.control_kind(reading.sample_label_id)
    if kind is not None:
        return _store_control(session, actor, reading, kind, instrument)
    if sample is None:
        return _hold(
            session,
            actor,
            reading,
            Invalid("hold.unknown_sample", _N("unknown sample {label_id}"), label_id=reading.sample_label_id or "-"),
        )
    item = _item(session, reading.item_code)
    if item is None:
        return _hold(
            session,
            actor,
            reading,
            Invalid("hold.unknown_item", _N("unknown item {item_code}"), item_code=reading.item_code),
        )
    try:  # submit validates everything before it writes, so a refusal leaves nothing behind
        result = submit_reading(session, actor, reading, sample.label_id, instrument.serial, known=shared.lookups)
    except (Invalid, stock.LotExhausted) as exc:  # a lot that may not be used holds the reading with the reason
        return _hold(session, actor, reading, exc)
    except ValidationError as exc:
        return _hold(
            session,
            actor,
            reading,
            Invalid("hold.raw_rejected", _N("raw data rejected: {problem}"), problem=exc.errors()[0]["msg"]),
        )
    return Stored(reading, result.id, None, False, result.judgement, result.value)


def _store_control(session: Session, actor: Actor, reading: Reading, kind: str, instrument: Instrument) -> Stored:
    """A reading marked as a control: judged and stored as a control run (held with the reason when refused)."""
    when = reading.instrument_time
    try:
        run = qc.record_reading(
            session,
            actor,
            kind=kind,
            item_code=reading.item_code,
            raw=reading.raw,
            instrument_serial=instrument.serial,
            sequence=reading.sequence,
            tested_at=when if when and when.tzinfo else None,
        )
    except (Invalid, stock.LotExhausted) as exc:  # checked before anything is written: the reading is held
        return _hold(session, actor, reading, exc)
    except ValidationError as exc:
        return _hold(
            session,
            actor,
            reading,
            Invalid("hold.raw_rejected", _N("raw data rejected: {problem}"), problem=exc.errors()[0]["msg"]),
        )
    return Stored(reading, None, None, False, None, run.value, control_id=run.id)


def submit_reading(
    session: Session,
    actor: Actor,
    reading: Reading,
    label_id: str,
    instrument_serial: str,
    *,
    extra: dict[str, Any] | None = None,
    known: records.Lookups | None = None,
) -> TestResult:
    """Judge `reading` as a result of sample `label_id`, measured on the instrument `instrument_serial`.

    The one way from an instrument's reading to a submission: the figures the family's judgement reads,
    the kit lot and the instrument's clock (when it has a zone); the instrument's own raw data, value and
    judgement are kept beside ours, and what it was measured from (a photo) in the file store, named by its SHA-256.
    `extra` adds to what the result's raw data keep."""
    lot = reading.raw.get("kit_lot")
    when = reading.instrument_time
    kept: dict[str, Any] | None
    if reading.evidence is not None:
        kept = evidence.keep(session, reading.evidence)
    else:  # a held reading's photo, kept when it was held
        kept = evidence.stored(session, reading.raw.get("photo_sha256"))
    extra = {**(extra or {}), **({evidence.KEY: kept} if kept else {})}
    return records.submit(
        session,
        actor,
        ResultSubmit(
            sample_label_id=label_id,
            item_code=reading.item_code,
            raw=judging.figures(reading.family, reading.raw),
            instrument_serial=instrument_serial,
            kit_lot=str(lot) if lot else None,
            channel=reading.channel,
            tested_at=when if when and when.tzinfo else None,
        ),
        instrument_sequence=reading.sequence,
        instrument_value=reading.value,
        instrument_judgement=reading.judgement,
        raw_extra={"instrument": reading.raw, **extra},
        known=known,
    )


def stored_for(session: Session, serial: str) -> list[Stored]:
    """Everything stored for an instrument, results and held readings, by sequence number."""
    rows: list[Stored] = []
    for result in session.exec(
        select(TestResult)
        .join(Instrument, col(Instrument.id) == col(TestResult.instrument_id))
        .where(Instrument.serial == serial, col(TestResult.instrument_sequence).is_not(None))
    ):
        instrument_raw = result.raw.get("instrument", {})
        item = session.get(TestItem, result.item_id)
        sample = session.get(Sample, result.sample_id)
        reading = Reading(
            instrument_serial=serial,
            family=item.family if item else "",
            sequence=int(result.instrument_sequence or 0),
            item_code=item.code if item else "",
            channel=result.channel,
            sample_label_id=sample.label_id if sample else None,
            raw=instrument_raw,
            value=result.instrument_value,
            judgement=result.instrument_judgement,
        )
        rows.append(Stored(reading, result.id, None, False, result.judgement, result.value))
    for held in session.exec(select(HeldReading).where(HeldReading.instrument_serial == serial)):
        reading = Reading.from_dict({k: v for k, v in held.reading.items() if k != "reason"})
        rows.append(
            Stored(reading, held.assigned_result_id, held.id, False, None, None, str(held.reading.get("reason", "")))
        )
    return sorted(rows, key=lambda s: s.reading.sequence)


def acquire(
    engine: Engine,
    driver: Driver,
    *,
    count: int | None = None,
    idle_exit: float | None = None,
    on_stored: Callable[[Stored], None] | None = None,
) -> int:
    """Receive records from an open driver, commit each record in one transaction, and only then acknowledge it.

    Ends after `count` newly stored readings or `idle_exit` seconds without a new one; returns how many
    new readings were stored. A reading re-sent after a crash is found stored and acknowledged again. When
    `count` is reached inside a record, the rest of it is neither stored nor acknowledged: the instrument
    keeps it for the next acquisition.
    """
    stored_new = 0
    gateways: dict[int, Actor] = {}
    for record in driver.records(idle_exit=idle_exit):
        limit = None if count is None else count - stored_new
        batch = store_record(engine, record, new_limit=limit, gateways=gateways)
        for stored in batch:
            driver.ack(stored.reading)
            if on_stored is not None:
                on_stored(stored)
            stored_new += not stored.duplicate
        if count is not None and stored_new >= count:
            break
    return stored_new
