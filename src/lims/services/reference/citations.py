"""Citations of the reference data (`lims reference check`): what has no source, and what cites a standard that is
no longer in force on the check date."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from lims.i18n import _N, Message
from lims.services.core import clock
from lims.services.core.errors import Invalid
from lims.services.reference import reference_data

SUPERSEDED_FILE = "superseded.yaml"
# A cited standard or announcement: GB 2760-2014, GB/T 5009.199-2003, NY/T 448-2001, 农业部公告第193号 …
CITATION = re.compile(
    r"(?P<std>(?:GB|GB/T|NY|NY/T|SC/T|SN/T|DB\d*)\s*\d+(?:\.\d+)*\s*[-—–]\s*\d{4})|(?P<ann>农业(?:农村)?部公告第\s*\d+\s*号)"
)
_SPACES = re.compile(r"\s+")


def normalise(citation: str) -> str:
    """One spelling of a standard or announcement number: `GB 2760—2014` → `GB 2760-2014`."""
    text = citation.replace("—", "-").replace("–", "-")
    text = _SPACES.sub(" ", text).strip()
    text = re.sub(r"\s*-\s*", "-", text)
    text = re.sub(r"^((?:GB|GB/T|NY|NY/T|SC/T|SN/T|DB\d*))\s*(\d)", r"\1 \2", text)
    return re.sub(r"第\s*(\d+)\s*号", r"第\1号", text)


def cited(text: str) -> list[str]:
    """Every standard or announcement `text` cites, normalised, in order of appearance."""
    return [normalise(m.group(0)) for m in CITATION.finditer(text)]


@dataclass(frozen=True)
class Superseded:
    """A standard no longer in force from `since`, and what replaced it."""

    cited: str
    replaced_by: str
    since: date
    source: str


@dataclass(frozen=True)
class Finding:
    """One problem with the citations of the reference data, as a translatable message."""

    where: str
    message: Message


def superseded_table(folder: Path | None = None) -> dict[str, Superseded]:
    """The table of superseded standards: the folder's own superseded.yaml, else the shipped one."""
    path = (folder / SUPERSEDED_FILE) if folder is not None else None
    if path is None or not path.is_file():
        path = reference_data.shipped_reference_dir() / SUPERSEDED_FILE
    doc = reference_data.read_file(path)
    table: dict[str, Superseded] = {}
    try:
        for row in doc.get("superseded") or []:
            entry = Superseded(
                cited=normalise(str(row["cited"])),
                replaced_by=normalise(str(row["replaced_by"])),
                since=reference_data.as_date(row["from"], f"{path}: {row['cited']}"),
                source=str(row.get("source") or ""),
            )
            table[entry.cited] = entry
    except (KeyError, TypeError) as exc:
        raise Invalid(
            "citations.bad_superseded_row",
            _N("{path}: missing field {exc} in the table of superseded standards"),
            path=path,
            exc=exc,
        ) from None
    return table


def _texts(value: Any) -> list[str]:
    """Every string inside `value` (a citation may sit in any field of a method)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _blank(value: Any) -> bool:
    return not isinstance(value, str) or not value.strip()


def check(folder: Path | None = None, on: date | None = None) -> list[Finding]:
    """Items, methods, limits and kit lots of the folder's items.yaml (default: the shipped one) without a source
    citation, and citations of standards superseded on `on` (default: today in the default zone)."""
    folder = folder or reference_data.shipped_reference_dir()
    items_path = folder / reference_data.ITEMS_FILE
    if not items_path.is_file():
        raise Invalid(
            "citations.no_items_file",
            _N("{folder} has no {name}: nothing to check"),
            folder=folder,
            name=reference_data.ITEMS_FILE,
        )
    day = on or clock.local_today()
    table = superseded_table(folder)
    doc = reference_data.read_file(items_path)
    findings: list[Finding] = []

    def add(where: str, msgid: str, **params: Any) -> None:
        findings.append(Finding(where, Message(msgid, params)))

    def scan(where: str, what: Message, texts: list[str]) -> None:
        for text in texts:
            for name in cited(text):
                old = table.get(name)
                if old is not None and old.since <= day:
                    add(
                        where,
                        _N("{what}: cites {cited}, replaced by {replaced_by} from {since}"),
                        what=what,
                        cited=name,
                        replaced_by=old.replaced_by,
                        since=old.since.isoformat(),
                    )
                newer = next((row for row in table.values() if row.replaced_by == name and day < row.since), None)
                if newer is not None:
                    add(
                        where,
                        _N("{what}: cites {cited}, in force only from {since}"),
                        what=what,
                        cited=name,
                        since=newer.since.isoformat(),
                    )

    for it in doc.get("items") or []:
        code = str(it.get("code"))
        where = f"item {code}"
        item = Message(_N("item {code}"), {"code": code})
        if _blank(it.get("quick_method") or it.get("method_standard")):
            add(where, _N("{what}: no quick-test method cited"), what=item)
        if _blank(it.get("reference_method")):
            add(where, _N("{what}: no reference (confirmatory) method cited"), what=item)
        method = it.get("method") or {}
        if _blank(method.get("source") if isinstance(method, dict) else None):
            add(where, _N("{what}: its method figures cite no source"), what=item)
        scan(where, item, _texts(it))
    for lim in doc.get("limits") or []:
        categories = ", ".join(str(c) for c in lim.get("categories") or [])
        where = f"limit {lim.get('item')} {categories}"
        limit = Message(_N("limit of {item} on {categories}"), {"item": lim.get("item"), "categories": categories})
        if _blank(lim.get("source")):
            add(where, _N("{what}: no source cited"), what=limit)
        scan(where, limit, _texts(lim))
    for kit in doc.get("kit_lots") or []:
        where = f"kit lot {kit.get('item')} {kit.get('lot')}"
        lot = Message(_N("kit lot {lot} of {item}"), {"lot": kit.get("lot"), "item": kit.get("item")})
        # a kit lot's cut-off comes from its maker's instructions: the maker is its source
        if _blank(kit.get("source")) and _blank(kit.get("manufacturer")):
            add(where, _N("{what}: cites neither a source nor its manufacturer"), what=lot)
        scan(where, lot, _texts(kit))
    return findings
