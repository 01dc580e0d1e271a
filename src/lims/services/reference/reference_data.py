"""Load the editable reference data files (districts with their stations, points and instruments; items, limits,
kits) into the database."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, SQLModel, col, select

from instrument_drivers import family_registry
from lims.i18n import _N
from lims.judgement.units import BASES
from lims.models import District, FoodCategory, Instrument, KitLot, Limit, SamplingPoint, Station, TestItem
from lims.services.core import clock
from lims.services.core.audit import Actor
from lims.services.core.errors import Invalid
from lims.services.core.upsert import Outcome, upsert

ITEMS_FILE = "items.yaml"
DISTRICT_FILE = "district.yaml"
DISTRICTS_FOLDER = "districts"
DISTRICT_CODE = re.compile(r"^[A-Z]{2}$")
PLACE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
SERIAL = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


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
        raise Invalid(
            "reference_data.date_yyyy_mm_dd",
            _N("{where}: {value!r} is not a date (YYYY-MM-DD)"),
            where=where,
            value=value,
        ) from None


def as_date(value: Any, where: str) -> date:
    """`value` as a date (YYYY-MM-DD), or Invalid naming `where`."""
    return _date(value, where)


def read_file(path: Path) -> dict[str, Any]:
    """The sections of a reference YAML file, or Invalid naming the file and what is wrong with it."""
    return _read(path)


def reference_files(folder: Path) -> tuple[Path | None, list[Path]]:
    """The shared file (items.yaml) and the district files (district.yaml, districts/*.yaml) in `folder`."""
    items = folder / ITEMS_FILE
    district_files = [folder / DISTRICT_FILE] if (folder / DISTRICT_FILE).is_file() else []
    district_files += sorted((folder / DISTRICTS_FOLDER).glob("*.yaml"))
    return (items if items.is_file() else None), district_files


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise Invalid(
            "reference_data.cannot_read_reference_file",
            _N("cannot read reference file {path}: {problem}"),
            path=path,
            problem=exc.strerror or exc,
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise Invalid("reference_data.valid_yaml", _N("{path}: not valid YAML: {exc}"), path=path, exc=exc) from None
    if not isinstance(doc, dict):
        raise Invalid(
            "reference_data.expected_mapping_sections", _N("{path}: expected a mapping of sections"), path=path
        )
    return doc


def load_reference(session: Session, actor: Actor, folder: Path | None = None) -> LoadReport:
    """Apply the reference files in `folder` (default: the shipped ones); idempotent, every change audited.

    The folder holds `items.yaml` (food categories, items, limits and kit lots, shared by the province) and
    one file per district: `district.yaml` and/or `districts/<any name>.yaml`. Either part may be missing
    (to add a district to a database that has the shared data), not both.
    """
    folder = folder or shipped_reference_dir()
    if not folder.is_dir():
        raise Invalid(
            "reference_data.reference_folder_found", _N("reference folder not found: {folder}"), folder=folder
        )
    items_path, district_paths = reference_files(folder)
    if items_path is None and not district_paths:
        raise Invalid(
            "reference_data.no_reference_files_expected",
            _N("no reference files in {folder}: expected {ITEMS_FILE}, {DISTRICT_FILE} or {DISTRICTS_FOLDER}/*.yaml"),
            folder=folder,
            ITEMS_FILE=ITEMS_FILE,
            DISTRICT_FILE=DISTRICT_FILE,
            DISTRICTS_FOLDER=DISTRICTS_FOLDER,
        )
    report = LoadReport()
    if items_path is not None:
        doc = _read(items_path)
        try:
            _load_items(session, actor, doc, report)
        except (KeyError, TypeError) as exc:
            raise Invalid(
                "reference_data.missing_field_unknown_code",
                _N("{items_path}: missing field or unknown code {exc}"),
                items_path=items_path,
                exc=exc,
            ) from None
    seen: dict[str, Path] = {}
    for path in district_paths:
        doc = _read(path)
        try:
            code = _load_district(session, actor, doc, report, seen)
        except (KeyError, TypeError) as exc:
            raise Invalid(
                "reference_data.missing_field_unknown_code_",
                _N("{path}: missing field or unknown code {exc}"),
                path=path,
                exc=exc,
            ) from None
        except Invalid as exc:
            raise Invalid("reference_data.error", _N("{path}: {reason}"), path=path, reason=exc.reason) from None
        seen[code] = path
    return report


def _code(value: Any, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise Invalid(
            "reference_data.code_must_match",
            _N("{what} code {value!r} must match {pattern_pattern}"),
            what=what,
            value=value,
            pattern_pattern=pattern.pattern,
        )
    return value


def _load_district(
    session: Session, actor: Actor, docs: dict[str, Any], report: LoadReport, seen: dict[str, Path]
) -> str:
    """One district with its stations, points and instruments; codes are the district's own."""
    d = docs["district"]
    code = _code(d["code"], DISTRICT_CODE, "district")
    if code in seen:
        raise Invalid(
            "reference_data.district_also",
            _N("district {code} is also in {seen_code}"),
            code=code,
            seen_code=seen[code],
        )
    district = _upsert(
        session,
        actor,
        report,
        District,
        {"code": code},
        {
            "name": d["name"],
            "name_en": d.get("name_en", ""),
            "time_zone": clock.check_zone(d.get("time_zone", clock.DEFAULT_ZONE), f"district {code} time_zone"),
        },
    )
    stations: dict[str, Station] = {}
    for s in docs["stations"]:
        station_code = _code(s["code"], PLACE_CODE, "station")
        if station_code in stations:
            raise Invalid(
                "reference_data.station_listed_twice",
                _N("station {station_code} is listed twice"),
                station_code=station_code,
            )
        stations[station_code] = _upsert(
            session,
            actor,
            report,
            Station,
            {"district_id": district.id, "code": station_code},
            {
                "name": s["name"],
                "name_en": s.get("name_en", ""),
                "level": s["level"],
                "kind": s.get("kind", ""),
                "address": s.get("address", ""),
            },
        )
    point_codes: set[str] = set()
    for p in docs["points"]:
        point_code = _code(p["code"], PLACE_CODE, "sampling point")
        if point_code in point_codes:
            raise Invalid(
                "reference_data.sampling_point_listed_twice",
                _N("sampling point {point_code} is listed twice"),
                point_code=point_code,
            )
        point_codes.add(point_code)
        if p["station"] not in stations:
            raise Invalid(
                "reference_data.sampling_point_station_station",
                _N("sampling point {point_code}: station {p_station!r} is not a station of district {code}"),
                point_code=point_code,
                p_station=p["station"],
                code=code,
            )
        _upsert(
            session,
            actor,
            report,
            SamplingPoint,
            {"district_id": district.id, "code": point_code},
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
        _code(i["serial"], SERIAL, "instrument serial")
        _family(i["family"], f"instrument {i['serial']}")
        owner = session.exec(select(Instrument.district_id).where(Instrument.serial == i["serial"])).first()
        if owner is not None and owner != district.id:
            other = session.get(District, owner)
            raise Invalid(
                "reference_data.instrument_belongs_district",
                _N("instrument {i_serial} belongs to district {owner}"),
                i_serial=i["serial"],
                owner=other.code if other else owner,
            )
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
    return code


def _family(name: Any, what: str) -> None:
    """Refuse a family that no registered instrument family has (the registry lists them)."""
    known = family_registry.names()
    if name not in known:
        raise Invalid(
            "reference_data.unknown_family",
            _N("{what}: unknown family {name!r}; known: {known}"),
            what=what,
            name=name,
            known=", ".join(known),
        )


def _flag(value: Any, what: str) -> bool:
    """A yes/no of the reference data, which must be spelt out (true or false), never left to a default."""
    if not isinstance(value, bool):
        raise Invalid(
            "reference_data.flag_true_false",
            _N("{what}: edible_agricultural must be true or false"),
            what=what,
        )
    return value


def _number_pair(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and value[0] < value[1]
    )


def _method(method: Any, where: str) -> dict[str, Any]:
    """An item's method parameters, with the settings the judgement reads checked here, so that a wrong one is
    refused when the file is loaded (in the reader's language) rather than when a result is judged."""
    if not isinstance(method, dict):
        raise Invalid("reference_data.method_mapping", _N("{where}: method must be a mapping"), where=where)
    if "absorbance_range" in method and not _number_pair(method["absorbance_range"]):
        raise Invalid(
            "reference_data.absorbance_range",
            _N("{where}: absorbance_range must be [min, max] with min below max, got {value!r}"),
            where=where,
            value=method["absorbance_range"],
        )
    expressed = method.get("expressed_as")
    measured = method.get("measured_as", expressed)
    if measured != expressed:  # a conversion: both bases must be known
        for name in (measured, expressed):
            if name not in BASES:
                raise Invalid(
                    "reference_data.unknown_basis",
                    _N("{where}: unknown basis of expression {name!r}; known: {known}"),
                    where=where,
                    name=name,
                    known=", ".join(BASES),
                )
    for key, least in (("significant_figures", 1), ("decimals", 0)):
        value = method.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < least):
            raise Invalid(
                "reference_data.rounding_figures",
                _N("{where}: {key} must be a whole number of at least {least}, got {value!r}"),
                where=where,
                key=key,
                least=least,
                value=value,
            )
    return method


def _load_items(session: Session, actor: Actor, docs: dict[str, Any], report: LoadReport) -> None:
    """Food categories, test items, limits and kit lots (shared by every district)."""
    categories: dict[str, FoodCategory] = {}
    for c in docs["food_categories"]:
        categories[c["code"]] = _upsert(
            session,
            actor,
            report,
            FoodCategory,
            {"code": c["code"]},
            {
                "name_zh": c["name_zh"],
                "name_en": c["name_en"],
                "edible_agricultural": _flag(c.get("edible_agricultural"), f"food category {c['code']}"),
                "source": str(c.get("source", "")),
            },
        )
    items: dict[str, TestItem] = {}
    for it in docs["items"]:
        _family(it["family"], f"item {it['code']}")
        quick_method = str(it.get("quick_method") or it.get("method_standard") or "")
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
                "method_standard": str(it.get("method_standard") or quick_method),
                "quick_method": quick_method,
                "reference_method": str(it.get("reference_method") or ""),
                "unit": it["unit"],
                "banned": bool(it.get("banned", False)),
                "method": _method(it.get("method", {}), f"item {it['code']}"),
                **_stock_use(it.get("stock"), f"item {it['code']}"),
                "retired": False,
            },
        )
    listed_limits: set[tuple[str, str]] = set()
    for lim in docs["limits"]:
        for code in lim["categories"]:
            listed_limits.add((lim["item"], code))
            _upsert(
                session,
                actor,
                report,
                Limit,
                {"item_id": items[lim["item"]].id, "category_id": categories[code].id},
                {"limit": lim["limit"], "unit": lim["unit"], "source": lim["source"], "retired": False},
            )
    _retire(session, actor, report, docs.get("retired") or {}, items, listed_limits)
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
                "cutoff_tc": _kit_figure(k, "cutoff_tc", k["lot"]),
                "min_c_intensity": _kit_figure(k, "min_c_intensity", k["lot"]),
                "detection_limit": _kit_figure(k, "detection_limit", k["lot"]),
                "detection_limit_unit": str(k.get("detection_limit_unit", "")),
                "storage_condition": str(k.get("storage_condition", ""))[:80],
                "shelf_life_after_opening_days": _whole(
                    k.get("shelf_life_after_opening_days"), f"kit lot {k['lot']}", "shelf_life_after_opening_days"
                ),
                "matrices": _kit_matrices(k, categories),
            },
        )


def _retire(
    session: Session,
    actor: Actor,
    report: LoadReport,
    retired: dict[str, Any],
    listed: dict[str, TestItem],
    listed_limits: set[tuple[str, str]],
) -> None:
    """Mark the items and limits the file names under `retired:` as retired (audited), never deleting them.

    A retired item keeps its rows for the results that name it and is offered for no new test; a retired limit
    means the item is no longer tested in that category. A code the database does not hold is skipped (a new
    database never had it); an item, or an item and category, both listed and retired is refused."""
    for entry in retired.get("items", []):
        code = entry["code"]
        if code in listed:
            raise Invalid(
                "reference_data.item_listed_and_retired",
                _N("item {code} is listed and also retired"),
                code=code,
            )
        row = session.exec(select(TestItem).where(TestItem.code == code)).first()
        if row is None:
            continue
        _upsert(session, actor, report, TestItem, {"code": code}, {"retired": True})
        for limit in session.exec(select(Limit).where(Limit.item_id == row.id)).all():
            _upsert(session, actor, report, Limit, {"id": limit.id}, {"retired": True})
    for entry in retired.get("limits", []):
        item_row = (
            listed.get(entry["item"]) or session.exec(select(TestItem).where(TestItem.code == entry["item"])).first()
        )
        for category_code in entry["categories"]:
            if (entry["item"], category_code) in listed_limits:
                raise Invalid(
                    "reference_data.limit_listed_and_retired",
                    _N("the limit of {item} on {category} is listed and also retired"),
                    item=entry["item"],
                    category=category_code,
                )
            category = session.exec(select(FoodCategory).where(FoodCategory.code == category_code)).first()
            if item_row is None or category is None:
                continue
            found = session.exec(
                select(Limit).where(Limit.item_id == item_row.id, Limit.category_id == category.id)
            ).first()
            if found is not None:
                _upsert(session, actor, report, Limit, {"id": found.id}, {"retired": True})


def _whole(value: Any, where: str, key: str, least: int = 1) -> int | None:
    """A whole number of at least `least`, or None when absent; Invalid naming `where` and `key` otherwise."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= 100_000:
        raise Invalid(
            "reference_data.whole_number",
            _N("{where}: {key} must be a whole number from {least} to 100000, got {value!r}"),
            where=where,
            key=key,
            least=least,
            value=value,
        )
    return value


def _stock_use(stock: Any, where: str) -> dict[str, Any]:
    """What one test of an item uses up of a kit lot (`stock: {unit, units_per_test, source}`)."""
    if stock is None:
        return {"stock_unit": "", "units_per_test": 1, "stock_source": ""}
    if not isinstance(stock, dict):
        raise Invalid("reference_data.stock_mapping", _N("{where}: stock must be a mapping"), where=where)
    return {
        "stock_unit": str(stock.get("unit", ""))[:24],
        "units_per_test": _whole(stock.get("units_per_test", 1), where, "stock.units_per_test") or 1,
        "stock_source": str(stock.get("source", ""))[:300],
    }


KIT_MATRIX_KEYS = ("cutoff_tc", "min_c_intensity", "detection_limit", "detection_limit_unit")


def _kit_figure(figures: dict[str, Any], key: str, lot: str) -> float | None:
    """A kit lot's figure: a positive number, or absent."""
    value = figures.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise Invalid(
            "reference_data.kit_figure_positive",
            _N("kit lot {lot}: {key} must be a positive number, got {value!r}"),
            lot=lot,
            key=key,
            value=value,
        )
    return float(value)


def _kit_matrices(k: dict[str, Any], categories: dict[str, FoodCategory]) -> dict[str, Any]:
    """A kit lot's figures per matrix, keyed by food category code; each key and figure checked."""
    matrices = k.get("matrices") or {}
    if not isinstance(matrices, dict):
        raise Invalid(
            "reference_data.kit_matrices_mapping",
            _N("kit lot {lot}: matrices must map food category codes to figures"),
            lot=k["lot"],
        )
    out: dict[str, Any] = {}
    for code, figures in matrices.items():
        if code not in categories:
            raise Invalid(
                "reference_data.kit_unknown_matrix",
                _N("kit lot {lot}: unknown matrix {code!r} (not a food category)"),
                lot=k["lot"],
                code=code,
            )
        figures = figures or {}
        unknown = sorted(set(figures) - set(KIT_MATRIX_KEYS)) if isinstance(figures, dict) else ["?"]
        if unknown:
            raise Invalid(
                "reference_data.kit_matrix_keys",
                _N("kit lot {lot}, matrix {code}: unknown figures {unknown}; known: {known}"),
                lot=k["lot"],
                code=code,
                unknown=", ".join(unknown),
                known=", ".join(KIT_MATRIX_KEYS),
            )
        entry: dict[str, Any] = {
            key: _kit_figure(figures, key, f"{k['lot']} ({code})") for key in KIT_MATRIX_KEYS[:3] if key in figures
        }
        if "detection_limit_unit" in figures:
            entry["detection_limit_unit"] = str(figures["detection_limit_unit"])
        out[code] = entry
    return out


def items(session: Session) -> list[TestItem]:
    """Every test item in use (not retired), by code (for forms and filters)."""
    return list(
        session.exec(select(TestItem).where(col(TestItem.retired).is_(False)).order_by(col(TestItem.code))).all()
    )


def item(session: Session, code: str) -> TestItem:
    """The test item with `code` (looked up once per session), or Invalid naming it."""
    found: TestItem | None = cached_row(session, ("item", code), select(TestItem).where(TestItem.code == code))
    if found is None:
        raise Invalid("reference_data.unknown_test_item", _N("unknown test item {code!r}"), code=code)
    return found


def require_items(session: Session, codes: list[str]) -> None:
    """Invalid naming the first of `codes` that is no test item."""
    known = set(session.exec(select(TestItem.code).where(col(TestItem.code).in_(codes))).all())
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise Invalid("reference_data.unknown_test_item", _N("unknown test item {code!r}"), code=unknown[0])


def category(session: Session, code: str) -> FoodCategory | None:
    """The food category with `code` (looked up once per session), or None."""
    found: FoodCategory | None = cached_row(
        session, ("category", code), select(FoodCategory).where(FoodCategory.code == code)
    )
    return found


def require_category(session: Session, code: str) -> None:
    """Invalid unless `code` is a food category."""
    if session.exec(select(FoodCategory.id).where(FoodCategory.code == code)).first() is None:
        raise Invalid("reference_data.unknown_food_category", _N("unknown food category {code!r}"), code=code)


def categories(session: Session) -> list[FoodCategory]:
    """Every food category, by code (for forms and filters)."""
    return list(session.exec(select(FoodCategory).order_by(col(FoodCategory.code))).all())


def _prefetch_statement() -> Any:
    items: Any = sa.bindparam("items", expanding=True)
    categories: Any = sa.bindparam("categories", expanding=True)
    lots: Any = sa.bindparam("lots", expanding=True)
    return (
        select(TestItem, FoodCategory, Limit, KitLot)
        .select_from(TestItem)
        .join(FoodCategory, sa.true())
        .outerjoin(
            Limit,
            sa.and_(
                col(Limit.item_id) == col(TestItem.id),
                col(Limit.category_id) == col(FoodCategory.id),
                col(Limit.retired).is_(False),
            ),
        )
        .outerjoin(KitLot, sa.and_(col(KitLot.item_id) == col(TestItem.id), col(KitLot.lot).in_(lots)))
        .where(col(TestItem.code).in_(items), col(FoodCategory.code).in_(categories))
    )


_PREFETCH = _prefetch_statement()  # built once: each record then runs one cached statement


def prefetch(session: Session, item_codes: set[str], category_codes: set[str], lots: set[str]) -> None:
    """Look up in one statement the items, food categories, limits and kit lots that `cached_row` would look up
    one by one for results of these items on these categories with these kit lots (what one instrument record
    needs); rows not found are left for `cached_row` to look for again."""
    if not item_codes or not category_codes:
        return
    memo: dict[tuple[object, ...], Any] = session.info.setdefault("reference_rows", {})
    params = {"items": sorted(item_codes), "categories": sorted(category_codes), "lots": sorted(lots)}
    for item, category, limit, kit in session.exec(_PREFETCH, params=params):
        memo.setdefault(("item", item.code), item)
        memo.setdefault(("category", category.code), category)
        if limit is not None:
            memo.setdefault(("limit", item.id, category.id), limit)
        if kit is not None:
            memo.setdefault(("kit", item.id, kit.lot), kit)


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
