"""Product registry rows: Open Food Facts (JSONL, tab-separated CSV) and catalogue parsers with rejects."""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from barcodes.gs1 import CodeError, parse_gtin

__all__ = [
    "ProductRecord",
    "RejectedRow",
    "find_product",
    "load_sample_catalogue",
    "parse_catalogue_csv",
    "parse_off_csv",
    "parse_off_file",
    "parse_off_jsonl",
    "product_from_off",
]

# Open Food Facts field names, in order of preference, for each of our columns.
_OFF_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("product_name_zh", "product_name", "product_name_en", "generic_name_zh", "generic_name"),
    "brand": ("brands",),
    "brand_owner": ("brand_owner", "owner"),
    "company": ("manufacturer", "brand_owner", "owner"),
    "quantity": ("quantity",),
    "category": ("categories_zh", "main_category_en", "categories_en", "categories", "categories_tags"),
    "country": ("countries_en", "countries", "countries_tags"),
    "origin": ("origins", "origins_en", "manufacturing_places"),
}
_MAX_FIELD = 500


@dataclass(frozen=True)
class ProductRecord:
    """A validated product row ready for upsert; ``gtin14`` is the key."""

    gtin14: str
    name: str
    brand: str = ""
    brand_owner: str = ""
    company: str = ""
    quantity: str = ""
    category: str = ""
    country: str = ""
    origin: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, str]:
        """Plain dict of all fields."""
        return asdict(self)


@dataclass(frozen=True)
class RejectedRow:
    """An input row that was not imported, with the line number, the code seen and why."""

    line: int
    code: str
    reason: str


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    text = " ".join(str(value).split())
    return text[:_MAX_FIELD]


def _first_item(text: str) -> str:
    """First entry of an OFF comma list, without an ``en:`` style language prefix."""
    first = text.split(",")[0].strip()
    if len(first) > 3 and first[2] == ":":
        first = first[3:].replace("-", " ")
    return first


def _normalise_code(code: str) -> str:
    """OFF stores codes without leading zeros; pad short numeric codes back to a GTIN length."""
    code = code.strip()
    if code.isdigit() and 8 < len(code) < 13:
        return code.zfill(13)
    return code


def product_from_off(row: Mapping[str, Any], line: int, source: str = "openfoodfacts") -> ProductRecord | RejectedRow:
    """One Open Food Facts record (JSON object or CSV row) → product or rejection with the reason."""
    code = _text(row.get("code"))
    if not code:
        return RejectedRow(line, "", "missing code")
    try:
        gtin = parse_gtin(_normalise_code(code))
    except CodeError as exc:
        return RejectedRow(line, code, f"invalid GTIN: {exc.reason}")
    if gtin.issuer is not None and gtin.issuer.restricted:
        return RejectedRow(line, code, "restricted-circulation (in-store) number, not a trade item")
    values = {key: next((t for f in fields if (t := _text(row.get(f)))), "") for key, fields in _OFF_FIELDS.items()}
    if not values["name"]:
        return RejectedRow(line, code, "missing product name")
    values["brand"] = values["brand"].split(",")[0].strip()
    values["category"] = _first_item(values["category"])
    values["country"] = _first_item(values["country"])
    return ProductRecord(gtin14=gtin.gtin14, source=source, **values)


def parse_off_jsonl(lines: Iterable[str | bytes]) -> Iterator[ProductRecord | RejectedRow]:
    """Products and rejects from an Open Food Facts JSONL export (one JSON object per line)."""
    seen: dict[str, int] = {}
    for n, raw in enumerate(lines, start=1):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield RejectedRow(n, "", f"malformed JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(obj, dict):
            yield RejectedRow(n, "", "line is not a JSON object")
            continue
        row = product_from_off(obj, n)
        if isinstance(row, ProductRecord):
            if row.gtin14 in seen:
                yield RejectedRow(n, row.gtin14, f"duplicate GTIN (first seen on line {seen[row.gtin14]})")
                continue
            seen[row.gtin14] = n
        yield row


def _csv_rows(lines: Iterable[str], delimiter: str) -> Iterator[tuple[int, dict[str, str]]]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.DictReader(lines, delimiter=delimiter, quoting=csv.QUOTE_NONE if delimiter == "\t" else 0)
    for row in reader:
        yield reader.line_num, {k: v for k, v in row.items() if k is not None}


def parse_off_csv(lines: Iterable[str]) -> Iterator[ProductRecord | RejectedRow]:
    """Products and rejects from the Open Food Facts tab-separated CSV export (header row first)."""
    seen: dict[str, int] = {}
    for n, row in _csv_rows(lines, "\t"):
        product = product_from_off(row, n)
        if isinstance(product, ProductRecord):
            if product.gtin14 in seen:
                yield RejectedRow(n, product.gtin14, f"duplicate GTIN (first seen on line {seen[product.gtin14]})")
                continue
            seen[product.gtin14] = n
        yield product


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace", newline="")
    return io.TextIOWrapper(path.open("rb"), encoding="utf-8", errors="replace", newline="")


def parse_off_file(path: str | Path) -> Iterator[ProductRecord | RejectedRow]:
    """Parse an OFF export file, choosing JSONL or CSV from the name (``.jsonl``, ``.csv``, optional ``.gz``)."""
    p = Path(path)
    stem = p.name.removesuffix(".gz")
    with _open_text(p) as fh:
        if stem.endswith((".jsonl", ".json")):
            yield from parse_off_jsonl(fh)
        else:
            yield from parse_off_csv(fh)


def parse_catalogue_csv(lines: Iterable[str], source: str = "catalogue") -> Iterator[ProductRecord | RejectedRow]:
    """Products from our own comma-separated catalogue (columns as ``ProductRecord``, ``gtin`` first)."""
    for n, row in _csv_rows(lines, ","):
        mapped = {
            "code": row.get("gtin", ""),
            "product_name": row.get("name", ""),
            "brands": row.get("brand", ""),
            "brand_owner": row.get("brand_owner", ""),
            "manufacturer": row.get("company", ""),
            "quantity": row.get("quantity", ""),
            "categories": row.get("category", ""),
            "countries": row.get("country", ""),
            "origins": row.get("origin", ""),
        }
        yield product_from_off(mapped, n, source=source)


def load_sample_catalogue() -> list[ProductRecord]:
    """The small illustrative catalogue shipped for the demo (all rows valid)."""
    text = resources.files("barcodes").joinpath("data", "sample_products.csv").read_text(encoding="utf-8")
    return [r for r in parse_catalogue_csv(text.splitlines(), source="sample") if isinstance(r, ProductRecord)]


def find_product(products: Sequence[ProductRecord], code: str) -> ProductRecord | None:
    """The product for any form of a GTIN (8/12/13/14 digits), or None (also for an invalid code)."""
    try:
        key = parse_gtin(code).gtin14
    except CodeError:
        return None
    return next((p for p in products if p.gtin14 == key), None)
