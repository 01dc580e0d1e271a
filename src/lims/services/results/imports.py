"""Import an instrument's export file: a preview, then every row judged through the same path as a live reading
(`ingest`), the rows refused listed with their reasons, nothing stored twice (see `lims.services.lab.file_import`
for how a file is read and how a record is identified)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from instrument_drivers.reading import Reading
from lims.models import HeldReading, Instrument
from lims.models.common import Role
from lims.models.instruments import ReadingImport
from lims.services.access.auth import require_role
from lims.services.cases.files import Upload
from lims.services.core import audit
from lims.services.core.audit import Actor
from lims.services.core.errors import ServiceError
from lims.services.lab import instruments
from lims.services.lab.file_import import Mapping, Row, bounded, keep, mapping_for, parse
from lims.services.results import ingest


@dataclass
class Outcome:
    """What became (or would become) of one line."""

    line: int
    cells: tuple[str, ...]
    state: str  # stored | duplicate | held | rejected | skipped | new (preview)
    reading: Reading | None = None
    problem: ServiceError | None = None
    reason: str = ""  # a held reading's reason (English, as the holding queue keeps it)
    result_id: int | None = None
    judgement: str | None = None
    held: dict[str, Any] | None = None  # a held reading as the holding queue keeps it (its reason in both languages)


@dataclass
class Report:
    """A preview or an import of one file."""

    serial: str
    mapping: Mapping
    sha256: str
    file_name: str
    rows: list[Outcome] = field(default_factory=list)
    already_imported: bool = False

    def count(self, state: str) -> int:
        """How many lines are in `state`."""
        return sum(1 for r in self.rows if r.state == state)

    def as_json(self) -> dict[str, Any]:
        """The report as `lims readings import` prints it."""
        return {
            "instrument_serial": self.serial,
            "mapping": self.mapping.name,
            "sha256": self.sha256,
            "already_imported": self.already_imported,
            "counts": {s: self.count(s) for s in ("stored", "duplicate", "held", "rejected", "skipped", "new")},
            "rows": [
                {
                    "line": r.line,
                    "state": r.state,
                    "sequence": r.reading.sequence if r.reading else None,
                    "sample": r.reading.sample_label_id if r.reading else None,
                    "result_id": r.result_id,
                    "judgement": r.judgement,
                    "reason": r.problem.reason if r.problem else r.reason,
                }
                for r in self.rows
                if r.state != "skipped"
            ],
        }


def _prepare(
    session: Session, actor: Actor, serial: str, upload: Upload, mapping_name: str | None
) -> tuple[Instrument, Report, list[Row]]:
    require_role(actor, Role.ADMIN, Role.TESTER)
    instrument = instruments.get(session, actor, serial)
    mapping = mapping_for(instrument, mapping_name)
    bounded(upload.data)
    rows = parse(session, upload.data, mapping, instrument)
    digest = hashlib.sha256(upload.data).hexdigest()
    report = Report(instrument.serial, mapping, digest, upload.name[:200])
    report.already_imported = (
        session.exec(
            select(ReadingImport.id).where(ReadingImport.instrument_id == instrument.id, ReadingImport.sha256 == digest)
        ).first()
        is not None
    )
    return instrument, report, rows


def preview(session: Session, actor: Actor, serial: str, upload: Upload, mapping_name: str | None = None) -> Report:
    """What importing the file would do, writing nothing but the file's bytes (kept by SHA-256, so that the
    import confirmed after the preview reads the same bytes)."""
    _instrument, report, rows = _prepare(session, actor, serial, upload, mapping_name)
    readings = [r.reading for r in rows if r.reading is not None]
    stored = ingest.stored_keys(session, readings)
    for row in rows:
        if row.reading is None:
            report.rows.append(
                Outcome(row.line, row.cells, "skipped" if row.skipped else "rejected", problem=row.problem)
            )
        else:
            state = "duplicate" if row.reading.key() in stored else "new"
            report.rows.append(Outcome(row.line, row.cells, state, row.reading))
    keep(session, upload.data)
    return report


def import_file(session: Session, actor: Actor, serial: str, upload: Upload, mapping_name: str | None = None) -> Report:
    """Judge and store every record of the file as a live reading is (a result, or a held reading when its
    sample is unknown); records stored before are found, not stored again. The file is recorded by SHA-256."""
    instrument, report, rows = _prepare(session, actor, serial, upload, mapping_name)
    readings = [r.reading for r in rows if r.reading is not None]
    stored = {s.reading.key(): s for s in ingest.store_readings(session, readings)}
    for row in rows:
        if row.reading is None:
            report.rows.append(
                Outcome(row.line, row.cells, "skipped" if row.skipped else "rejected", problem=row.problem)
            )
            continue
        done = stored[row.reading.key()]
        state = "duplicate" if done.duplicate else ("stored" if done.result_id else "held")
        held = session.get(HeldReading, done.held_id) if done.held_id else None
        report.rows.append(
            Outcome(
                row.line,
                row.cells,
                state,
                row.reading,
                reason=done.hold_reason,
                result_id=done.result_id,
                judgement=done.judgement,
                held=dict(held.reading) if held else None,
            )
        )
    if not report.already_imported:
        by = actor.user_id or ingest.gateway_actor(session, instrument.district_id).user_id
        done_file = ReadingImport(
            district_id=instrument.district_id,
            instrument_id=int(instrument.id or 0),
            sha256=report.sha256,
            file_name=report.file_name,
            mapping=report.mapping.name,
            rows=len(readings) + report.count("rejected"),
            stored=report.count("stored"),
            held=report.count("held"),
            rejected=report.count("rejected"),
            imported_by_id=int(by or 0),
        )
        session.add(done_file)
        session.flush()
        audit.record(session, actor, done_file, "import", None)
    return report


def imports(session: Session, instrument: Instrument, limit: int = 20) -> list[ReadingImport]:
    """The files imported for the instrument, newest first."""
    statement = select(ReadingImport).where(ReadingImport.instrument_id == instrument.id)
    return list(session.exec(statement.order_by(col(ReadingImport.id).desc()).limit(limit)).all())
