"""Instruments of a district's lab: registering one, its calibrations (which move its calibration due date) and
maintenance, its certificates, its readings per day and its holding queue.

An instrument past its calibration due date makes every result measured on it invalid: that rule lives once, in
`lims.services.results.records` (`_valid_run`), and every path a reading takes (the API, live acquisition, a
held reading assigned, an imported file) goes through it. Recording a calibration moves the due date, so the
instrument gives valid results again from then on.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, timedelta

from pydantic import field_validator
from sqlmodel import Field, Session, SQLModel, col, select

from barcodes.imageio import ImageError, header_size
from instrument_drivers import family_registry
from lims.i18n import _N
from lims.models import HeldReading, Instrument, TestResult
from lims.models.cases import FileContent
from lims.models.common import JudgementOutcome, Role
from lims.models.instruments import CalibrationBase, CalibrationRecord, MaintenanceBase, MaintenanceRecord
from lims.services.access.auth import require_role
from lims.services.cases.files import MAX_REPORT_BYTES, PDF_MAGIC, Upload
from lims.services.core import atomic, audit, clock, history
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound, TooLarge

SERIAL = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
MIB = 1024 * 1024
# A calibration certificate is a page or two, scanned or as a PDF: the bound of a case's lab report.
MAX_CERTIFICATE_BYTES = MAX_REPORT_BYTES
CERTIFICATE_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
# JJF 1069 / JJG verification periods are at most a few years; ten years bounds a typing error in the year.
MAX_CALIBRATION_YEARS = 10
# The figures the instrument page shows per day, over this many days.
DAYS_SHOWN = 31


class InstrumentCreate(SQLModel):
    """An instrument as an administrator registers it."""

    serial: str = Field(min_length=1, max_length=40, description="The instrument's serial number (unique)")
    family: str = Field(max_length=32, description="pesticide | gold | spectro (the instrument family registry)")
    model: str = Field(default="", max_length=100)
    connection_url: str = Field(default="", max_length=200, description="serial port, socket:// or rfc2217:// URL")
    location: str = Field(default="", max_length=100)
    calibration_due: date

    @field_validator("serial", "model", "connection_url", "location")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class InstrumentUpdate(SQLModel):
    """What an administrator may change on a registered instrument (its serial and family stay)."""

    model: str = Field(default="", max_length=100)
    connection_url: str = Field(default="", max_length=200)
    location: str = Field(default="", max_length=100)

    @field_validator("model", "connection_url", "location")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class CalibrationCreate(CalibrationBase):
    """A calibration as it is recorded (the certificate file comes beside it)."""


class MaintenanceCreate(MaintenanceBase):
    """Maintenance as it is recorded."""


def get(session: Session, actor: Actor, serial: str) -> Instrument:
    """The actor's district's instrument `serial`; another district's is not found."""
    require_role(actor, Role.ADMIN, Role.TESTER, Role.REVIEWER)
    found = session.exec(select(Instrument).where(Instrument.serial == serial)).first()
    if found is None or (actor.role != "system" and found.district_id != actor.district_id):
        raise NotFound("instruments.unknown", _N("unknown instrument {serial!r}"), serial=serial)
    return found


def list_for(session: Session, actor: Actor) -> list[Instrument]:
    """The instruments of the actor's district, by serial."""
    require_role(actor, Role.ADMIN, Role.TESTER, Role.REVIEWER)
    statement = select(Instrument).where(Instrument.district_id == actor.district_id)
    return list(session.exec(statement.order_by(col(Instrument.serial))).all())


def add(session: Session, actor: Actor, data: InstrumentCreate) -> Instrument:
    """Register an instrument in the administrator's district; its serial must be new everywhere."""
    require_role(actor, Role.ADMIN)
    if actor.district_id is None:
        raise Invalid("instruments.no_district", _N("an instrument belongs to a district; act as one of its users"))
    if not SERIAL.match(data.serial):
        raise Invalid(
            "instruments.serial_pattern",
            _N("serial {serial!r}: use 1 to 40 letters, digits, dots, hyphens or underscores"),
            details={"field": "serial"},
            serial=data.serial,
        )
    known = family_registry.names()
    if data.family not in known:
        raise Invalid(
            "instruments.unknown_family",
            _N("unknown family {family!r}; known: {known}"),
            details={"field": "family"},
            family=data.family,
            known=", ".join(known),
        )
    _bounded_due(data.calibration_due, clock.today_of(session, actor.district_id), "calibration_due")
    if session.exec(select(Instrument.id).where(Instrument.serial == data.serial)).first() is not None:
        # one answer whether the serial is this district's or another's: serials are unique everywhere
        raise Conflict("instruments.serial_taken", _N("serial {serial!r} is already registered"), serial=data.serial)
    row = Instrument(**data.model_dump(), district_id=actor.district_id)
    session.add(row)
    session.flush()
    audit.record(session, actor, row, "create", None)
    return row


def update(session: Session, actor: Actor, serial: str, data: InstrumentUpdate, seen: str) -> Instrument:
    """Change an instrument's model, connection or location (it moved from the lab to the vehicle), if it is
    still as the form showed it (`seen`, its fingerprint); 409 when someone changed it meanwhile. Its calibration
    due date moves only with a calibration."""
    require_role(actor, Role.ADMIN)
    row = get(session, actor, serial)
    values = data.model_dump()
    before = audit.snapshot(row)
    conflict = Conflict(
        "instruments.changed_meanwhile",
        _N("instrument {serial} was changed by someone else meanwhile; reload the page and edit it again"),
        serial=serial,
    )
    if seen != history.fingerprint(row):
        raise conflict
    if not atomic.update_where(session, row, {k: getattr(row, k) for k in [*values, "calibration_due"]}, values):
        session.rollback()
        raise conflict
    audit.record(session, actor, row, "update", before)
    return row


def _bounded_due(due: date, today: date, name: str) -> None:
    if (
        not today - timedelta(days=366 * MAX_CALIBRATION_YEARS)
        <= due
        <= today + timedelta(days=366 * MAX_CALIBRATION_YEARS)
    ):
        raise Invalid(
            "instruments.due_out_of_range",
            _N("{date} is more than {years} years from today"),
            details={"field": name},
            date=due.isoformat(),
            years=MAX_CALIBRATION_YEARS,
        )


def check_certificate(upload: Upload) -> str:
    """The content type of a calibration certificate: a PDF or a JPEG, PNG or WebP image of at most 10 MB."""
    if len(upload.data) > MAX_CERTIFICATE_BYTES:
        raise TooLarge(
            "instruments.certificate_too_large",
            _N("the certificate is larger than {megabytes} MB"),
            details={"field": "certificate"},
            megabytes=MAX_CERTIFICATE_BYTES // MIB,
        )
    if upload.data.startswith(PDF_MAGIC):
        return "application/pdf"
    try:
        kind, _width, _height = header_size(upload.data)
    except ImageError:
        kind = ""
    if kind not in CERTIFICATE_TYPES:
        raise Invalid(
            "instruments.certificate_type",
            _N("the certificate is not a PDF, JPEG, PNG or WebP file"),
            details={"field": "certificate"},
        )
    return CERTIFICATE_TYPES[kind]


def _keep(session: Session, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    session.execute(
        atomic.upsert(session, FileContent)
        .values(sha256=digest, data=data)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    return digest


def record_calibration(
    session: Session, actor: Actor, serial: str, data: CalibrationCreate, certificate: Upload | None = None
) -> CalibrationRecord:
    """Record a calibration of the instrument and move its calibration due date to the calibration's next due
    date. Of two calibrations recorded at once, the second is refused (409): it was entered against a due date
    that no longer holds."""
    require_role(actor, Role.ADMIN)
    instrument = get(session, actor, serial)
    today = clock.today_of(session, instrument.district_id)
    if data.calibrated_on > today:
        raise Invalid(
            "instruments.calibrated_in_future",
            _N("the calibration date {date} is after today"),
            details={"field": "calibrated_on"},
            date=data.calibrated_on.isoformat(),
        )
    _bounded_due(data.calibrated_on, today, "calibrated_on")
    if data.next_due <= data.calibrated_on:
        raise Invalid(
            "instruments.next_due_not_after",
            _N("the next due date must be after the calibration date"),
            details={"field": "next_due"},
        )
    if data.next_due > data.calibrated_on + timedelta(days=366 * MAX_CALIBRATION_YEARS):
        raise Invalid(
            "instruments.next_due_too_far",
            _N("the next due date is more than {years} years after the calibration"),
            details={"field": "next_due"},
            years=MAX_CALIBRATION_YEARS,
        )
    content_type, digest, size = "", "", 0
    if certificate is not None and certificate.data:
        content_type = check_certificate(certificate)
        digest, size = _keep(session, certificate.data), len(certificate.data)
    before = audit.snapshot(instrument)
    seen_due = instrument.calibration_due
    if not atomic.update_where(session, instrument, {"calibration_due": seen_due}, {"calibration_due": data.next_due}):
        session.rollback()
        raise Conflict(
            "instruments.calibration_changed_meanwhile",
            _N("instrument {serial} was changed by someone else meanwhile; reload the page and record it again"),
            serial=serial,
        )
    row = CalibrationRecord(
        **data.model_dump(),
        district_id=instrument.district_id,
        instrument_id=int(instrument.id or 0),
        previous_due=seen_due,
        certificate_sha256=digest,
        certificate_type=content_type,
        certificate_size=size,
        recorded_by_id=int(actor.user_id or 0),
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, row, "calibrate", None)
    audit.record(session, actor, instrument, "calibrate", before)
    return row


def due_on(session: Session, instrument: Instrument, day: date) -> date:
    """The calibration due date that held for the instrument on `day`: that of the last calibration made on or
    before it; before the first calibration recorded, the due date that calibration replaced. A reading measured
    while the instrument was overdue stays invalid when it reaches the LIMS after a later calibration."""
    return due_from(calibrations(session, instrument), instrument, day)


def due_from(records: list[CalibrationRecord], instrument: Instrument, day: date) -> date:
    """`due_on` from the instrument's calibration records (all of them, in any order)."""
    made = [r for r in records if r.calibrated_on <= day]
    if made:
        return max(made, key=lambda r: (r.calibrated_on, r.id or 0)).next_due
    if records:
        return min(records, key=lambda r: (r.calibrated_on, r.id or 0)).previous_due
    return instrument.calibration_due


def record_maintenance(session: Session, actor: Actor, serial: str, data: MaintenanceCreate) -> MaintenanceRecord:
    """Record maintenance of the instrument (what was done, when, by whom)."""
    require_role(actor, Role.ADMIN)
    instrument = get(session, actor, serial)
    today = clock.today_of(session, instrument.district_id)
    if data.performed_on > today:
        raise Invalid(
            "instruments.maintained_in_future",
            _N("the maintenance date {date} is after today"),
            details={"field": "performed_on"},
            date=data.performed_on.isoformat(),
        )
    _bounded_due(data.performed_on, today, "performed_on")
    row = MaintenanceRecord(
        **data.model_dump(),
        district_id=instrument.district_id,
        instrument_id=int(instrument.id or 0),
        recorded_by_id=int(actor.user_id or 0),
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, row, "maintain", None)
    return row


def calibrations(session: Session, instrument: Instrument) -> list[CalibrationRecord]:
    """The instrument's calibrations, newest first."""
    statement = select(CalibrationRecord).where(CalibrationRecord.instrument_id == instrument.id)
    order = (col(CalibrationRecord.calibrated_on).desc(), col(CalibrationRecord.id).desc())
    return list(session.exec(statement.order_by(*order)).all())


def maintenance(session: Session, instrument: Instrument) -> list[MaintenanceRecord]:
    """The instrument's maintenance records, newest first."""
    statement = select(MaintenanceRecord).where(MaintenanceRecord.instrument_id == instrument.id)
    order = (col(MaintenanceRecord.performed_on).desc(), col(MaintenanceRecord.id).desc())
    return list(session.exec(statement.order_by(*order)).all())


def certificate(session: Session, actor: Actor, serial: str, record_id: int) -> tuple[CalibrationRecord, bytes]:
    """The certificate file of one calibration of the instrument, checked against its SHA-256."""
    instrument = get(session, actor, serial)
    row = session.get(CalibrationRecord, record_id)
    if row is None or row.instrument_id != instrument.id or not row.certificate_sha256:
        raise NotFound("instruments.no_certificate", _N("no certificate {record_id}"), record_id=record_id)
    content = session.exec(select(FileContent).where(FileContent.sha256 == row.certificate_sha256)).first()
    if content is None or hashlib.sha256(content.data).hexdigest() != row.certificate_sha256:
        raise Conflict("files.content_changed", _N("the stored file no longer matches its SHA-256"))
    return row, content.data


@dataclass(frozen=True)
class Day:
    """What an instrument measured on one local day."""

    day: date
    results: int
    positive: int
    invalid: int


def readings_per_day(session: Session, instrument: Instrument, days: int = DAYS_SHOWN) -> list[Day]:
    """The instrument's results per local day of its district over the last `days` days, newest first."""
    zone = clock.zone_of(session, instrument.district_id)
    start, _end = clock.last_days(days, zone)
    statement = select(TestResult.tested_at, TestResult.judgement).where(
        TestResult.instrument_id == instrument.id,
        col(TestResult.repeat_of_id).is_(None),
        col(TestResult.tested_at) >= start,
    )
    counts: dict[date, list[int]] = {}
    for tested_at, judgement in session.exec(statement.limit(100_000)):
        figures = counts.setdefault(clock.local_date(tested_at, zone), [0, 0, 0])
        figures[0] += 1
        figures[1] += judgement == JudgementOutcome.POSITIVE
        figures[2] += judgement == JudgementOutcome.INVALID
    return [Day(d, *counts[d]) for d in sorted(counts, reverse=True)]


def held(session: Session, instrument: Instrument, limit: int = 100) -> list[HeldReading]:
    """The instrument's readings in the holding queue (not yet assigned to a sample), newest first."""
    statement = select(HeldReading).where(
        HeldReading.instrument_serial == instrument.serial, col(HeldReading.assigned_result_id).is_(None)
    )
    order = (col(HeldReading.received_at).desc(), col(HeldReading.id).desc())
    return list(session.exec(statement.order_by(*order).limit(limit)).all())
