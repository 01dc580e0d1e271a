"""Load the editable reference data files (district, stations, points, items, limits, kits) into the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, SQLModel, col, select

from lims.models import District, FoodCategory, Instrument, KitLot, Limit, SamplingPoint, Station, TestItem
from lims.services.audit import Actor
from lims.services.errors import Invalid
from lims.services.upsert import Outcome, upsert

REFERENCE_FILES = ("district.yaml", "items.yaml")


def shipped_reference_dir() -> Path:
    """The folder of reference data files shipped with the package."""
    return Path(str(resources.files("lims") / "reference"))


@dataclass
class LoadReport:
    """How many reference rows were created, changed or left as they were."""

    created: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0

    def count(self, bucket: dict[str, int], table: str) -> None:
        """Add one to `bucket[table]`."""
        bucket[table] = bucket.get(table, 0) + 1


def _upsert(
    session: Session,
    actor: Actor,
    report: LoadReport,
    model: type[SQLModel],
    key: dict[str, Any],
    values: dict[str, Any],
) -> Any:
    row, outcome = upsert(session, actor, model, key, values)
    table = str(model.__tablename__)
    if outcome is Outcome.CREATED:
        report.count(report.created, table)
    elif outcome is Outcome.UPDATED:
        report.count(report.changed, table)
    else:
        report.unchanged += 1
    return row


def _date(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def load_reference(session: Session, actor: Actor, folder: Path | None = None) -> LoadReport:
    """Apply the reference files in `folder` (default: the shipped ones); idempotent, every change audited."""
    folder = folder or shipped_reference_dir()
    docs: dict[str, Any] = {}
    for name in REFERENCE_FILES:
        path = folder / name
        try:
            docs.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        except FileNotFoundError:
            raise Invalid(f"reference file missing: {path}") from None
        except yaml.YAMLError as exc:
            raise Invalid(f"{path}: not valid YAML: {exc}") from None
    report = LoadReport()
    try:
        _load(session, actor, docs, report)
    except KeyError as exc:
        raise Invalid(f"reference data: missing field or unknown code {exc}") from None
    return report


def _load(session: Session, actor: Actor, docs: dict[str, Any], report: LoadReport) -> None:
    d = docs["district"]
    district = _upsert(
        session,
        actor,
        report,
        District,
        {"code": d["code"]},
        {"name": d["name"], "name_en": d.get("name_en", "")},
    )
    stations: dict[str, Station] = {}
    for s in docs["stations"]:
        stations[s["code"]] = _upsert(
            session,
            actor,
            report,
            Station,
            {"code": s["code"]},
            {
                "name": s["name"],
                "name_en": s.get("name_en", ""),
                "level": s["level"],
                "kind": s.get("kind", ""),
                "address": s.get("address", ""),
                "district_id": district.id,
            },
        )
    for p in docs["points"]:
        _upsert(
            session,
            actor,
            report,
            SamplingPoint,
            {"code": p["code"]},
            {
                "name": p["name"],
                "name_en": p.get("name_en", ""),
                "kind": p.get("kind", ""),
                "area": p.get("area", "urban"),
                "address": p.get("address", ""),
                "latitude": p.get("latitude"),
                "longitude": p.get("longitude"),
                "station_id": stations[p["station"]].id,
            },
        )
    for i in docs.get("instruments", []):
        _upsert(
            session,
            actor,
            report,
            Instrument,
            {"serial": i["serial"]},
            {
                "family": i["family"],
                "model": i.get("model", ""),
                "connection_url": i.get("connection_url", ""),
                "calibration_due": _date(i["calibration_due"], f"instrument {i['serial']}"),
                "district_id": district.id,
            },
        )
    categories: dict[str, FoodCategory] = {}
    for c in docs["food_categories"]:
        categories[c["code"]] = _upsert(
            session,
            actor,
            report,
            FoodCategory,
            {"code": c["code"]},
            {"name_zh": c["name_zh"], "name_en": c["name_en"]},
        )
    items: dict[str, TestItem] = {}
    for it in docs["items"]:
        if it["family"] not in {"pesticide", "gold", "spectro"}:
            raise Invalid(f"item {it['code']}: unknown family {it['family']!r}")
        items[it["code"]] = _upsert(
            session,
            actor,
            report,
            TestItem,
            {"code": it["code"]},
            {
                "name_zh": it["name_zh"],
                "name_en": it["name_en"],
                "family": it["family"],
                "method_standard": it["method_standard"],
                "unit": it["unit"],
                "banned": bool(it.get("banned", False)),
                "method": it.get("method", {}),
            },
        )
    for lim in docs["limits"]:
        for code in lim["categories"]:
            _upsert(
                session,
                actor,
                report,
                Limit,
                {"item_id": items[lim["item"]].id, "category_id": categories[code].id},
                {"limit": lim["limit"], "unit": lim["unit"], "source": lim["source"]},
            )
    for k in docs.get("kit_lots", []):
        _upsert(
            session,
            actor,
            report,
            KitLot,
            {"item_id": items[k["item"]].id, "lot": k["lot"]},
            {
                "manufacturer": k.get("manufacturer", ""),
                "expires_on": _date(k["expires_on"], f"kit lot {k['lot']}"),
                "cutoff_tc": k.get("cutoff_tc"),
                "min_c_intensity": k.get("min_c_intensity"),
            },
        )


def points(session: Session) -> list[SamplingPoint]:
    """Every sampling point, by code (for forms and filters)."""
    return list(session.exec(select(SamplingPoint).order_by(col(SamplingPoint.code))).all())


def items(session: Session) -> list[TestItem]:
    """Every test item, by code (for forms and filters)."""
    return list(session.exec(select(TestItem).order_by(col(TestItem.code))).all())


def categories(session: Session) -> list[FoodCategory]:
    """Every food category, by code (for forms and filters)."""
    return list(session.exec(select(FoodCategory).order_by(col(FoodCategory.code))).all())


@event.listens_for(OrmSession, "after_rollback")
def _forget_cached_rows(session: OrmSession) -> None:
    """Rows looked up in a rolled-back transaction may not exist any more."""
    session.info.pop("reference_rows", None)


def cached_row(session: Session, key: tuple[object, ...], statement: Any) -> Any:
    """A reference row (item, category, limit, instrument, kit lot) looked up once per session; misses are not kept.

    An instrument record brings several readings in one transaction; they share these rows."""
    memo: dict[tuple[object, ...], Any] = session.info.setdefault("reference_rows", {})
    if key not in memo:
        row = session.exec(statement).first()
        if row is None:
            return None
        memo[key] = row
    return memo[key]
