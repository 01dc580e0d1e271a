"""Readings from instruments that only export files: a saved column mapping per instrument model, a preview,
and an import that judges every row through the same path as a live reading (`ingest`), lists the rows it
refused with their reasons and stores nothing twice.

A mapping is a data file in `lims/reference/import_mappings/*.yaml` (see the two shipped ones): the file's
format and encodings, how many header rows (a header merged over two rows is read as ``top/bottom``), which
column holds which figure, the instrument's words for items and judgements, and the lines that are not records
(totals). A record is identified as a live reading is, by (instrument, sequence): the sequence is the
instrument's record number, or, for an instrument that numbers each export from 1, the test day and the number.
The same file imported twice is found by its SHA-256 and its rows are found stored: nothing is stored twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import yaml
from sqlmodel import Session, select

from instrument_drivers.reading import Reading
from lims.i18n import _N
from lims.models import HeldReading, Instrument, TestItem
from lims.models.cases import FileContent
from lims.models.common import JudgementOutcome, Role
from lims.models.instruments import ReadingImport
from lims.services.access.auth import require_role
from lims.services.cases.files import Upload
from lims.services.core import atomic, audit, clock
from lims.services.core.audit import Actor
from lims.services.core.errors import Invalid, NotFound, ServiceError, TooLarge
from lims.services.lab import instruments
from lims.services.results import ingest

KIB = 1024
MIB = 1024 * KIB
# An export of a year of daily runs of an 8-channel analyser is a few hundred KB; 4 MB bounds a wrong file.
MAX_FILE_BYTES = 4 * MIB
MAX_ROWS = 5000
MAX_COLUMNS = 64
MAX_CELL_CHARS = 200
# An xlsx is a zip: its parts are bounded when unpacked too (a small zip may unpack to gigabytes).
MAX_XLSX_UNPACKED = 40 * MIB
MAX_HEADER_SEARCH = 10  # rows looked at for the header (title rows above it)
TARGETS = ("sequence", "channel", "sample_label_id", "item", "kit_lot", "value", "judgement", "tested_at")


@dataclass(frozen=True)
class Mapping:
    """A saved column mapping: how one instrument model's export files are read."""

    name: str
    title_zh: str
    title_en: str
    family: str
    format: str  # csv | xlsx
    models: tuple[str, ...]
    header_rows: int
    sequence_scope: str  # instrument | day
    time_format: str
    columns: dict[str, str]
    raw: dict[str, str]
    items: dict[str, str]
    judgements: dict[str, str]
    skip_rows_starting: tuple[str, ...]
    encodings: tuple[str, ...] = ("utf-8-sig",)


def _mapping(doc: dict[str, Any], where: str) -> Mapping:
    try:
        found = Mapping(
            name=str(doc["name"]),
            title_zh=str(doc["title_zh"]),
            title_en=str(doc["title_en"]),
            family=str(doc["family"]),
            format=str(doc["format"]),
            models=tuple(str(m) for m in doc.get("models", [])),
            header_rows=int(doc.get("header_rows", 1)),
            sequence_scope=str(doc.get("sequence_scope", "instrument")),
            time_format=str(doc.get("time_format", "%Y-%m-%d %H:%M:%S")),
            columns={str(k): str(v) for k, v in doc["columns"].items()},
            raw={str(k): str(v) for k, v in doc["raw"].items()},
            items={str(k): str(v) for k, v in (doc.get("items") or {}).items()},
            judgements={str(k): str(v) for k, v in (doc.get("judgements") or {}).items()},
            skip_rows_starting=tuple(str(s) for s in doc.get("skip_rows_starting", [])),
            encodings=tuple(str(e) for e in doc.get("encodings", ["utf-8-sig"])),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Invalid(
            "file_import.bad_mapping", _N("{where}: not a column mapping: {problem}"), where=where, problem=exc
        ) from None
    unknown = set(found.columns) - set(TARGETS)
    if (
        found.format not in {"csv", "xlsx"}
        or found.header_rows not in {1, 2}
        or unknown
        or "sequence" not in found.columns
    ):
        raise Invalid(
            "file_import.bad_mapping",
            _N("{where}: not a column mapping: {problem}"),
            where=where,
            problem="format csv|xlsx, header_rows 1|2, a sequence column, columns among " + ", ".join(TARGETS),
        )
    return found


def mappings_dir() -> Path:
    """The folder of the shipped column mappings."""
    return Path(str(resources.files("lims") / "reference" / "import_mappings"))


@cache
def _shipped() -> dict[str, Mapping]:
    found: dict[str, Mapping] = {}
    for path in sorted(mappings_dir().glob("*.yaml")):
        mapping = _mapping(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, path.name)
        found[mapping.name] = mapping
    return found


def mappings() -> list[Mapping]:
    """Every saved column mapping, by name."""
    return [m for _name, m in sorted(_shipped().items())]


def mapping_for(instrument: Instrument, name: str | None = None) -> Mapping:
    """The mapping named `name`, else the one saved for the instrument's model, else the only one of its family."""
    known = _shipped()
    if name:
        if name not in known or known[name].family != instrument.family:
            raise Invalid(
                "file_import.unknown_mapping",
                _N("no column mapping {name!r} for {family} instruments"),
                details={"field": "mapping"},
                name=name,
                family=instrument.family,
            )
        return known[name]
    of_family = [m for m in known.values() if m.family == instrument.family]
    by_model = [m for m in of_family if instrument.model and instrument.model in m.models]
    chosen = by_model or (of_family if len(of_family) == 1 else [])
    if not chosen:
        raise Invalid(
            "file_import.no_mapping",
            _N("no column mapping is saved for instrument {serial} (model {model!r}); choose one"),
            details={"field": "mapping"},
            serial=instrument.serial,
            model=instrument.model,
        )
    return chosen[0]


# --------------------------------------------------------------------------- reading the table


def _bounded(data: bytes) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise TooLarge(
            "file_import.too_large",
            _N("the file is larger than {megabytes} MB"),
            details={"field": "file"},
            megabytes=MAX_FILE_BYTES // MIB,
        )
    if not data:
        raise Invalid("file_import.empty", _N("the file is empty"), details={"field": "file"})


def _csv_rows(data: bytes, mapping: Mapping) -> list[list[str]]:
    for encoding in mapping.encodings:
        try:
            text = data.decode(encoding)
            break
        except (UnicodeDecodeError, LookupError):
            continue
    else:
        raise Invalid(
            "file_import.encoding",
            _N("the file is not text in {encodings}"),
            details={"field": "file"},
            encodings=", ".join(mapping.encodings),
        )
    if "\x00" in text:
        raise Invalid("file_import.not_csv", _N("the file is not a CSV file"), details={"field": "file"})
    try:
        return list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise Invalid(
            "file_import.bad_csv",
            _N("the file cannot be read as CSV: {problem}"),
            details={"field": "file"},
            problem=exc,
        ) from None


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_CELL = re.compile(r"^([A-Z]{1,3})([0-9]{1,7})$")


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


def _part(archive: zipfile.ZipFile, name: str, budget: list[int]) -> bytes | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    budget[0] -= info.file_size
    if budget[0] < 0:
        raise TooLarge(
            "file_import.xlsx_too_large", _N("the workbook unpacks to too much data"), details={"field": "file"}
        )
    with archive.open(info) as stream:
        data = stream.read(info.file_size + 1)
    if len(data) > info.file_size:  # the size in the directory lied
        raise TooLarge(
            "file_import.xlsx_too_large", _N("the workbook unpacks to too much data"), details={"field": "file"}
        )
    return data


def _xlsx_rows(data: bytes) -> list[list[str]]:
    """The cells of the first sheet as text (shared strings, inline strings and numbers), merged cells empty."""
    not_xlsx = Invalid("file_import.not_xlsx", _N("the file is not an .xlsx workbook"), details={"field": "file"})
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise not_xlsx from None
    budget = [MAX_XLSX_UNPACKED]
    with archive:
        try:
            strings_xml = _part(archive, "xl/sharedStrings.xml", budget)
            sheet_xml = _part(archive, "xl/worksheets/sheet1.xml", budget)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError):
            raise not_xlsx from None
    if sheet_xml is None:
        raise not_xlsx
    try:
        shared = []
        if strings_xml is not None:
            for item in ElementTree.fromstring(strings_xml).iter(f"{_NS}si"):
                shared.append("".join(t.text or "" for t in item.iter(f"{_NS}t")))
        sheet = ElementTree.fromstring(sheet_xml)
    except ElementTree.ParseError:
        raise not_xlsx from None
    rows: list[list[str]] = []
    for row in sheet.iter(f"{_NS}row"):
        if len(rows) > MAX_ROWS + MAX_HEADER_SEARCH:
            break
        number = int(row.get("r") or len(rows) + 1)
        while len(rows) < number - 1:
            rows.append([])
        cells: list[str] = []
        for cell in row.iter(f"{_NS}c"):
            match = _CELL.match(cell.get("r") or "")
            column = _column_index(match.group(1)) if match else len(cells)
            if column >= MAX_COLUMNS:
                continue
            kind = cell.get("t", "n")
            value = cell.find(f"{_NS}v")
            if kind == "s" and value is not None and (value.text or "").isdigit():
                index = int(value.text or 0)
                text = shared[index] if index < len(shared) else ""
            elif kind == "inlineStr":
                text = "".join(t.text or "" for t in cell.iter(f"{_NS}t"))
            else:
                text = value.text or "" if value is not None else ""
            cells += [""] * (column - len(cells))
            cells.append(text)
        rows.append(cells)
    return rows


def table(data: bytes, mapping: Mapping) -> list[list[str]]:
    """The rows of the file as cells of text, bounded in rows, columns and cell length."""
    _bounded(data)
    rows = _xlsx_rows(data) if mapping.format == "xlsx" else _csv_rows(data, mapping)
    if len(rows) > MAX_ROWS + MAX_HEADER_SEARCH:
        raise TooLarge(
            "file_import.too_many_rows",
            _N("the file has more than {count} rows"),
            details={"field": "file"},
            count=MAX_ROWS,
        )
    return [[cell.strip()[:MAX_CELL_CHARS] for cell in row[:MAX_COLUMNS]] for row in rows]


def _headers(rows: list[list[str]], mapping: Mapping) -> tuple[int, dict[str, int]]:
    """Where the records start and the column of each header (``top/bottom`` for a header over two rows)."""
    first = mapping.columns["sequence"]
    for at, row in enumerate(rows[:MAX_HEADER_SEARCH]):
        if first not in row:
            continue
        top, names = "", dict[str, int]()
        bottom_row = rows[at + 1] if mapping.header_rows == 2 and at + 1 < len(rows) else []
        for index, cell in enumerate(row):
            top = cell or top  # a merged cell is written in its first column, the others left empty
            bottom = bottom_row[index] if index < len(bottom_row) else ""
            name = f"{top}/{bottom}" if bottom else (cell or top)
            names.setdefault(name, index)
        return at + mapping.header_rows, names
    raise Invalid(
        "file_import.no_header",
        _N("no header row with {column!r} in the first {count} rows: is this a {title} file?"),
        details={"field": "file"},
        column=first,
        count=MAX_HEADER_SEARCH,
        title=mapping.title_en,
    )


# --------------------------------------------------------------------------- rows to readings


@dataclass(frozen=True)
class Row:
    """One line of the file: its reading, or why it was refused; `skipped` for totals and blank lines."""

    line: int
    cells: tuple[str, ...]
    reading: Reading | None = None
    problem: ServiceError | None = None
    skipped: bool = False


def _number(text: str, what: str, line: int) -> float:
    try:
        value = float(text.replace(",", "").rstrip("%"))
    except ValueError:
        raise Invalid(
            "file_import.not_a_number",
            _N("line {line}: {what} {text!r} is not a number"),
            line=line,
            what=what,
            text=text,
        ) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise Invalid(
            "file_import.not_a_number",
            _N("line {line}: {what} {text!r} is not a number"),
            line=line,
            what=what,
            text=text,
        )
    return value


def _moment(text: str, mapping: Mapping, line: int, zone: Any) -> datetime:
    for fmt in (mapping.time_format, "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=zone)
        except ValueError:
            continue
    try:  # an xlsx time stored as a number of days since 1899-12-30
        days = float(text)
        if 20000 < days < 80000:
            from datetime import timedelta

            return (datetime(1899, 12, 30) + timedelta(days=days)).replace(microsecond=0, tzinfo=zone)
    except ValueError:
        pass
    raise Invalid("file_import.not_a_time", _N("line {line}: {text!r} is not a test time"), line=line, text=text)


def _item_code(text: str, mapping: Mapping, items: dict[str, TestItem], line: int) -> str:
    code = mapping.items.get(text) or (text.upper() if text.upper() in items else None)
    if code is None:
        by_name = [i.code for i in items.values() if i.name_zh == text or i.name_en.lower() == text.lower()]
        code = by_name[0] if by_name else None
    if code is None or code not in items or items[code].family != mapping.family:
        raise Invalid("file_import.unknown_item", _N("line {line}: unknown test item {text!r}"), line=line, text=text)
    return code


def _reading(
    cells: list[str],
    line: int,
    columns: dict[str, int],
    mapping: Mapping,
    serial: str,
    items: dict[str, TestItem],
    zone: Any,
) -> Reading:
    def cell(name: str) -> str:
        index = columns.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    def target(key: str) -> str:
        return cell(mapping.columns[key]) if key in mapping.columns else ""

    number_text = target("sequence")
    if not number_text.isdigit() or len(number_text) > 9:
        raise Invalid(
            "file_import.bad_sequence",
            _N("line {line}: record number {text!r} is not a number"),
            line=line,
            text=number_text,
        )
    tested_at = _moment(target("tested_at"), mapping, line, zone) if "tested_at" in mapping.columns else None
    sequence = int(number_text)
    if mapping.sequence_scope == "day":
        if tested_at is None:
            raise Invalid("file_import.not_a_time", _N("line {line}: {text!r} is not a test time"), line=line, text="")
        sequence = int(tested_at.strftime("%Y%m%d")) * 1_000_000_000 + sequence
    raw: dict[str, Any] = {}
    for figure, header in mapping.raw.items():
        text = cell(header)
        if not text:
            raise Invalid("file_import.missing_figure", _N("line {line}: {what} is empty"), line=line, what=header)
        raw[figure] = _number(text, header, line)
    lot = target("kit_lot")
    if lot:
        raw["kit_lot"] = lot
    judgement_text = target("judgement")
    judgement = mapping.judgements.get(judgement_text) or (
        judgement_text.lower() if judgement_text.lower() in {j.value for j in JudgementOutcome} else None
    )
    channel_text = target("channel")
    label = target("sample_label_id").upper()
    value_text = target("value")
    return Reading(
        instrument_serial=serial,
        family=mapping.family,
        sequence=sequence,
        item_code=_item_code(target("item"), mapping, items, line),
        channel=int(channel_text) if channel_text.isdigit() and len(channel_text) < 4 else None,
        sample_label_id=label or None,
        raw=raw,
        value=_number(value_text, mapping.columns.get("value", ""), line) if value_text else None,
        judgement=judgement,
        instrument_time=tested_at,
    )


def parse(session: Session, data: bytes, mapping: Mapping, instrument: Instrument) -> list[Row]:
    """Every line below the header: a reading, a refusal with its reason, or skipped (totals, blank lines)."""
    rows = table(data, mapping)
    start, columns = _headers(rows, mapping)
    missing = [h for h in [*mapping.columns.values(), *mapping.raw.values()] if h not in columns]
    if missing:
        raise Invalid(
            "file_import.missing_columns",
            _N("the file lacks the columns {columns} of {title}"),
            details={"field": "file"},
            columns=", ".join(missing),
            title=mapping.title_en,
        )
    items = {i.code: i for i in session.exec(select(TestItem))}
    zone = clock.zone_of(session, instrument.district_id)
    found: list[Row] = []
    for offset, cells in enumerate(rows[start:]):
        line = start + offset + 1
        first = next((c for c in cells if c), "")
        if not first or any(first.startswith(s) for s in mapping.skip_rows_starting):
            found.append(Row(line, tuple(cells), skipped=True))
            continue
        try:
            found.append(
                Row(line, tuple(cells), _reading(cells, line, columns, mapping, instrument.serial, items, zone))
            )
        except Invalid as exc:
            found.append(Row(line, tuple(cells), problem=exc))
    records = [r for r in found if not r.skipped]
    if len(records) > MAX_ROWS:
        raise TooLarge("file_import.too_many_rows", _N("the file has more than {count} rows"), count=MAX_ROWS)
    keys: dict[tuple[str, int], int] = {}
    checked = []
    for row in found:  # two lines with one record number are one record told twice: the second is refused
        if row.reading is not None and row.reading.key() in keys:
            row = Row(
                row.line,
                row.cells,
                problem=Invalid(
                    "file_import.same_record_twice",
                    _N("line {line}: record {number} is also on line {other}"),
                    line=row.line,
                    number=row.cells[columns[mapping.columns["sequence"]]],
                    other=keys[row.reading.key()],
                ),
            )
        elif row.reading is not None:
            keys[row.reading.key()] = row.line
        checked.append(row)
    return checked


# --------------------------------------------------------------------------- preview and import


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
    _bounded(upload.data)
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


def keep(session: Session, data: bytes) -> str:
    """Keep a file's bytes once by SHA-256 (for the import confirmed after a preview)."""
    digest = hashlib.sha256(data).hexdigest()
    session.execute(
        atomic.upsert(session, FileContent)
        .values(sha256=digest, data=data)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    return digest


def kept(session: Session, digest: str) -> bytes:
    """The bytes of a file kept by `keep`."""
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise NotFound("file_import.no_file", _N("the previewed file is no longer there; upload it again"))
    content = session.exec(select(FileContent).where(FileContent.sha256 == digest)).first()
    if content is None or hashlib.sha256(content.data).hexdigest() != digest:
        raise NotFound("file_import.no_file", _N("the previewed file is no longer there; upload it again"))
    return content.data


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
    from sqlmodel import col

    statement = select(ReadingImport).where(ReadingImport.instrument_id == instrument.id)
    return list(session.exec(statement.order_by(col(ReadingImport.id).desc()).limit(limit)).all())
