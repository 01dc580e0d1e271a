"""Reference data an administrator edits one record at a time: the district's sampling points, and kit lots.

The reference files (`lims reference load`) stay for bulk work; these are the same rows, validated as the files
are, each change audited. An edit is a conditional update against the record as the form showed it: of two
administrators editing one point at once, the second is told it changed meanwhile (409).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pydantic import field_validator
from sqlmodel import Field, Session, SQLModel, col, select

from lims.i18n import _N
from lims.models import KitLot, SamplingPoint, Station, TestItem
from lims.models.common import Area, Role
from lims.services.access import auth, districts
from lims.services.access.auth import require_role
from lims.services.core import atomic, audit, clock, history
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound
from lims.services.reference import reference_data

MAX_KIT_YEARS = 5  # a kit's shelf life is months to two years; five years bounds a typing error


class PointFields(SQLModel):
    """What an administrator sets on a sampling point (定点)."""

    station_code: str = Field(min_length=1, max_length=16, description="The station that looks after the point")
    name: str = Field(min_length=1, max_length=100)
    name_en: str = Field(default="", max_length=100)
    kind: str = Field(default="", max_length=32, description="supermarket, market, mall, …")
    area: Area = Field(default=Area.URBAN, description="urban | rural: the rapid-response time (20 / 40 minutes)")
    address: str = Field(default="", max_length=200)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)

    @field_validator("station_code", "name", "name_en", "kind", "address")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class PointCreate(PointFields):
    """A new sampling point."""

    code: str = Field(min_length=1, max_length=16)


def _station(session: Session, actor: Actor, code: str) -> Station:
    try:
        return auth.station_in(session, code, int(actor.district_id or 0))
    except NotFound:  # another district's station is as unknown as one that does not exist
        raise Invalid(
            "auth.unknown_station_your_district",
            _N("unknown station {station_code!r} in your district"),
            details={"field": "station_code"},
            station_code=code,
        ) from None


def _point_values(session: Session, actor: Actor, data: PointFields) -> dict[str, Any]:
    station = _station(session, actor, data.station_code)
    values = data.model_dump(exclude={"station_code", "code"})
    values["area"] = data.area.value
    values["station_id"] = station.id
    return values


def point(session: Session, actor: Actor, code: str) -> SamplingPoint:
    """The sampling point `code` of the administrator's district (another district's is not found)."""
    require_role(actor, Role.ADMIN)
    return districts.require_point(session, actor, code)


def add_point(session: Session, actor: Actor, data: PointCreate) -> SamplingPoint:
    """A new sampling point of the administrator's district; its code must be new in the district."""
    require_role(actor, Role.ADMIN)
    if not reference_data.PLACE_CODE.match(data.code):
        raise Invalid(
            "editing.point_code",
            _N("code {code!r}: use 1 to 16 letters, digits, hyphens or underscores"),
            details={"field": "code"},
            code=data.code,
        )
    values = _point_values(session, actor, data)
    if districts.point(session, actor.district_id, data.code) is not None:
        raise Conflict(
            "editing.point_exists",
            _N("sampling point {code} already exists"),
            details={"field": "code"},
            code=data.code,
        )
    row = SamplingPoint(code=data.code, district_id=int(actor.district_id or 0), **values)
    session.add(row)
    session.flush()
    audit.record(session, actor, row, "create", None)
    return row


def update_point(session: Session, actor: Actor, code: str, data: PointFields, seen: str) -> SamplingPoint:
    """Change a sampling point, if it is still as the form showed it (`seen`, its fingerprint)."""
    row = point(session, actor, code)
    values = _point_values(session, actor, data)
    if seen != history.fingerprint(row):
        raise Conflict(
            "editing.changed_meanwhile",
            _N("{code} was changed by someone else meanwhile; reload the page and edit it again"),
            code=code,
        )
    before = audit.snapshot(row)
    guard = {k: before[k] for k in values}
    if not atomic.update_where(session, row, guard, values):
        session.rollback()
        raise Conflict(
            "editing.changed_meanwhile",
            _N("{code} was changed by someone else meanwhile; reload the page and edit it again"),
            code=code,
        )
    audit.record(session, actor, row, "update", before)
    return row


class KitLotCreate(SQLModel):
    """A new lot of test kits (cards or reagents) with the figures of its leaflet."""

    item_code: str = Field(min_length=1, max_length=16)
    lot: str = Field(min_length=1, max_length=40)
    manufacturer: str = Field(default="", max_length=100)
    expires_on: date
    cutoff_tc: float | None = Field(default=None, gt=0, le=10)
    min_c_intensity: float | None = Field(default=None, ge=0, le=100)
    detection_limit: float | None = Field(default=None, gt=0, le=1_000_000)
    detection_limit_unit: str = Field(default="", max_length=16)
    matrices: list[str] = Field(default_factory=list, max_length=40, description="food category codes")

    @field_validator("item_code", "lot", "manufacturer", "detection_limit_unit")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


def kit_lots(session: Session, actor: Actor, limit: int = 500) -> list[KitLot]:
    """Kit lots, the latest expiry first."""
    require_role(actor, Role.ADMIN, Role.TESTER, Role.REVIEWER)
    statement = select(KitLot).order_by(col(KitLot.expires_on).desc(), col(KitLot.id).desc()).limit(limit)
    return list(session.exec(statement).all())


def kit_lot(session: Session, actor: Actor, kit_id: int) -> KitLot:
    """One kit lot (kit lots are shared reference data)."""
    require_role(actor, Role.ADMIN, Role.TESTER, Role.REVIEWER)
    row = session.get(KitLot, kit_id)
    if row is None:
        raise NotFound("editing.no_kit_lot", _N("no kit lot {kit_id}"), kit_id=kit_id)
    return row


def add_kit_lot(session: Session, actor: Actor, data: KitLotCreate) -> KitLot:
    """A new kit lot for an item: its expiry must lie ahead, its matrices be food categories the item is tested
    on, and a colloidal-gold lot needs its leaflet's T/C cut-off and C-line minimum."""
    require_role(actor, Role.ADMIN)
    item = session.exec(select(TestItem).where(TestItem.code == data.item_code.upper())).first()
    if item is None or item.retired:
        raise Invalid(
            "editing.unknown_item",
            _N("unknown test item {code!r}"),
            details={"field": "item_code"},
            code=data.item_code,
        )
    today = clock.today_of(session, actor.district_id)
    if not today <= data.expires_on <= today + timedelta(days=366 * MAX_KIT_YEARS):
        raise Invalid(
            "editing.kit_expiry",
            _N("the expiry date must be between today and {years} years from now"),
            details={"field": "expires_on"},
            years=MAX_KIT_YEARS,
        )
    if item.family == "gold" and (data.cutoff_tc is None or data.min_c_intensity is None):
        raise Invalid(
            "editing.kit_needs_cutoff",
            _N("a colloidal-gold lot needs its leaflet's T/C cut-off and C-line minimum"),
            details={"field": "cutoff_tc"},
        )
    for code in data.matrices:
        if reference_data.category(session, code) is None:
            raise Invalid(
                "editing.unknown_category",
                _N("unknown food category {code!r}"),
                details={"field": "matrices"},
                code=code,
            )
    if session.exec(select(KitLot.id).where(KitLot.item_id == item.id, KitLot.lot == data.lot)).first() is not None:
        raise Conflict(
            "editing.kit_lot_exists",
            _N("lot {lot} of item {item_code} already exists"),
            details={"field": "lot"},
            lot=data.lot,
            item_code=item.code,
        )
    row = KitLot(
        item_id=int(item.id or 0),
        **data.model_dump(exclude={"item_code", "matrices"}),
        matrices={code: {} for code in data.matrices},
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, row, "create", None)
    return row
