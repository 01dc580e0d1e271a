"""District ownership: points and stations belong to one district, and codes are looked up within it.

Station and point codes are unique per district (two districts may both have a P01), so every lookup
by code names the district, which is the signed-in actor's. Something of another district is answered
exactly as something that does not exist.
"""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session, col, select

from lims.i18n import _N
from lims.models import District, SamplingPoint, Station
from lims.models.reference import SamplingPointPublic
from lims.services.core.audit import Actor
from lims.services.core.errors import Invalid, NotFound


def by_code(session: Session, code: str) -> District | None:
    """The district with this two-letter code."""
    return session.exec(select(District).where(District.code == code.upper())).first()


def named(session: Session, code: str) -> District:
    """The district with this code, or NotFound."""
    district = by_code(session, code)
    if district is None:
        raise NotFound("districts.unknown_district", _N("unknown district {code!r}"), code=code)
    return district


def named_or_first(session: Session, code: str | None) -> District:
    """The district with this code, or without one the first district loaded; NotFound when there is none."""
    if code:
        return named(session, code)
    district = session.exec(select(District).order_by(col(District.id))).first()
    if district is None:
        raise NotFound("districts.no_district_loaded_run", _N("no district loaded: run `lims reference load` first"))
    return district


def point(session: Session, district_id: int | None, code: str) -> SamplingPoint | None:
    """The sampling point with `code` in the district, if any."""
    if district_id is None:
        return None
    return session.exec(
        select(SamplingPoint).where(SamplingPoint.district_id == district_id, SamplingPoint.code == code)
    ).first()


def station(session: Session, district_id: int | None, code: str) -> Station | None:
    """The station with `code` in the district, if any."""
    if district_id is None:
        return None
    return session.exec(select(Station).where(Station.district_id == district_id, Station.code == code)).first()


def require_point(session: Session, actor: Actor, code: str) -> SamplingPoint:
    """The actor's district's point with `code`; a point of another district is as unknown as no point."""
    found = point(session, actor.district_id, code)
    if found is None:
        raise Invalid("districts.unknown_sampling_point", _N("unknown sampling point {code!r}"), code=code)
    return found


def points(session: Session, district_id: int | None) -> list[SamplingPoint]:
    """The district's sampling points by code (for forms and filters)."""
    return list(
        session.exec(
            select(SamplingPoint).where(SamplingPoint.district_id == district_id).order_by(col(SamplingPoint.code))
        ).all()
    )


def acting_for(session: Session, actor: Actor, district_code: str | None) -> Actor:
    """`actor` (the console's system actor) narrowed to one district: the named one, else the first."""
    return replace(actor, district_id=named_or_first(session, district_code).id)


def point_listing(session: Session, actor: Actor | None, district_code: str | None = None) -> list[SamplingPointPublic]:
    """Every sampling point (or one district's) as the reader may see it.

    Anyone may read a point's district, code, name, kind and area (the consumer pages name the place a
    sample was taken). Address, coordinates and station are for signed-in staff of the point's own
    district only.
    """
    statement = select(SamplingPoint, District, Station).join(
        District, col(District.id) == col(SamplingPoint.district_id)
    )
    statement = statement.join(Station, col(Station.id) == col(SamplingPoint.station_id))
    if district_code:
        statement = statement.where(SamplingPoint.district_id == named(session, district_code).id)
    own = actor.district_id if actor is not None else None
    listing = []
    for p, d, s in session.exec(statement.order_by(col(District.code), col(SamplingPoint.code))).all():
        view = SamplingPointPublic(
            district_code=d.code,
            district_name=d.name,
            district_name_en=d.name_en,
            code=p.code,
            name=p.name,
            name_en=p.name_en,
            kind=p.kind,
            area=p.area,
        )
        if own is not None and p.district_id == own:
            view.address, view.latitude, view.longitude, view.station_code = p.address, p.latitude, p.longitude, s.code
        listing.append(view)
    return listing
