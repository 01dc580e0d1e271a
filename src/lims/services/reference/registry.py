"""Product and trademark registries: idempotent imports, lookups by any GTIN form, fuzzy mark search."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, select

from barcodes.products import ProductRecord, RejectedRow, load_sample_catalogue, parse_off_file
from barcodes.trademarks import Trademark, load_sample_trademarks, parse_trademarks_csv, search_marks
from lims.i18n import _N
from lims.models import Product, TrademarkRecord
from lims.services.core.audit import Actor
from lims.services.core.errors import Invalid
from lims.services.core.upsert import Outcome, upsert


@dataclass
class ImportReport:
    """What an import did: rows created, updated, unchanged, and rejected with reasons."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """Counts and the first rejected rows with their reasons."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
            "rejected_rows": [{"line": r.line, "code": r.code, "reason": r.reason} for r in self.rejected[:100]],
        }


def _count(report: ImportReport, outcome: Outcome) -> None:
    if outcome is Outcome.CREATED:
        report.created += 1
    elif outcome is Outcome.UPDATED:
        report.updated += 1
    else:
        report.unchanged += 1


def _upsert_product(session: Session, actor: Actor, record: ProductRecord, report: ImportReport) -> None:
    values = record.to_dict()
    gtin = values.pop("gtin14")
    _count(report, upsert(session, actor, Product, {"gtin": gtin}, values, action="import")[1])


def import_products(
    session: Session,
    actor: Actor,
    rows: Iterable[ProductRecord | RejectedRow],
    *,
    progress: Callable[[int], None] | None = None,
    batch: int = 500,
) -> ImportReport:
    """Upsert products by GTIN-14; run again with the same file and nothing changes. Commits every `batch`."""
    report = ImportReport()
    for n, row in enumerate(rows, start=1):
        if isinstance(row, RejectedRow):
            report.rejected.append(row)
        else:
            _upsert_product(session, actor, row, report)
        if n % batch == 0:
            session.commit()
            if progress:
                progress(n)
    session.commit()
    return report


def import_product_file(session: Session, actor: Actor, path: Path, **options: object) -> ImportReport:
    """Import an Open Food Facts export (JSONL or tab-separated CSV, optionally gzipped)."""
    try:
        return import_products(session, actor, parse_off_file(path), **options)  # type: ignore[arg-type]
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise Invalid("registry.cannot_import", _N("cannot import {path}: {exc}"), path=path, exc=exc) from None


def _upsert_mark(session: Session, actor: Actor, mark: Trademark, report: ImportReport) -> None:
    values = {
        "mark": mark.mark,
        "owner": mark.owner,
        "classes": list(mark.classes),
        "valid_from": mark.valid_from,
        "valid_to": mark.valid_to,
        "status": mark.status,
    }
    key = {"registration_no": mark.registration_no}
    _count(report, upsert(session, actor, TrademarkRecord, key, values, action="import")[1])


def import_trademarks(session: Session, actor: Actor, rows: Iterable[Trademark | RejectedRow]) -> ImportReport:
    """Upsert trademarks by registration number."""
    report = ImportReport()
    for row in rows:
        if isinstance(row, RejectedRow):
            report.rejected.append(row)
        else:
            _upsert_mark(session, actor, row, report)
    session.commit()
    return report


def import_trademark_file(session: Session, actor: Actor, path: Path) -> ImportReport:
    """Import trademarks from a CSV file."""
    try:
        with path.open(encoding="utf-8-sig") as lines:
            return import_trademarks(session, actor, parse_trademarks_csv(lines))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise Invalid("registry.cannot_import", _N("cannot import {path}: {exc}"), path=path, exc=exc) from None


def load_samples(session: Session, actor: Actor) -> tuple[ImportReport, ImportReport]:
    """The small product catalogue and trademark list shipped for the demo."""
    return (
        import_products(session, actor, load_sample_catalogue()),
        import_trademarks(session, actor, load_sample_trademarks()),
    )


def product(session: Session, gtin14: str) -> ProductRecord | None:
    """The registered product with this GTIN-14."""
    row = session.exec(select(Product).where(Product.gtin == gtin14)).first()
    if row is None:
        return None
    data = row.model_dump(include=set(Product.model_fields) - {"id", "updated_at", "gtin"})
    return ProductRecord(gtin14=row.gtin, **data)


def all_marks(session: Session) -> list[Trademark]:
    """Every registered trademark as the matching library expects it."""
    return [
        Trademark(
            registration_no=r.registration_no,
            mark=r.mark,
            owner=r.owner,
            classes=tuple(r.classes),
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            status=r.status,
        )
        for r in session.exec(select(TrademarkRecord))
    ]


def marks_for(session: Session, *, owners: list[str], mark: str | None) -> list[Trademark]:
    """Marks owned by any of `owners`, plus registered marks that read or look like `mark`."""
    owned = {o for o in owners if o}
    everything = all_marks(session)
    chosen = {m.registration_no: m for m in everything if m.owner in owned}
    if mark:
        for match in search_marks(mark, everything, limit=5):
            chosen.setdefault(match.mark.registration_no, match.mark)
    return list(chosen.values())


def find_marks(session: Session, query: str, limit: int = 10) -> list[tuple[Trademark, float]]:
    """Marks that read or look like `query` (Chinese characters or pinyin), best first."""
    return [(m.mark, m.score) for m in search_marks(query, all_marks(session), limit=limit)]
