"""Vehicles at the centre: adding one with a one-time enrolment code, enrolment, and the vehicle's credential."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, delete, select, update

from lims.i18n import _N
from lims.models import District, SyncRowMap, Vehicle, VehicleChain
from lims.models.common import utcnow
from lims.models.sync import EnrolGrant
from lims.services.core import audit
from lims.services.core.audit import Actor
from lims.services.core.audit_tables import district_chain
from lims.services.core.errors import Conflict, NotFound, Unauthorized
from lims.services.results import ingest
from lims.services.sync import credentials
from lims.settings import get_settings

ENTITY = "vehicle"


def _district(session: Session, code: str) -> District:
    district = session.exec(select(District).where(District.code == code)).first()
    if district is None or district.id is None:
        raise NotFound("sync.no_district", _N("no district with code {code}"), code=code)
    return district


def _event(session: Session, actor: Actor, vehicle: Vehicle, action: str, detail: dict[str, object]) -> None:
    """An event about a vehicle on its district's chain (the vehicle row itself is not audited)."""
    assert vehicle.id is not None
    after = {"code": vehicle.code, "district_id": vehicle.district_id, **detail}
    audit.append(session, actor, district_chain(vehicle.district_id), ENTITY, vehicle.id, action, None, after)


def add_vehicle(session: Session, actor: Actor, code: str, district_code: str) -> tuple[Vehicle, str]:
    """A new vehicle of a district, with a one-time enrolment code (returned once; kept as its digest)."""
    district = _district(session, district_code)
    if session.exec(select(Vehicle).where(Vehicle.code == code)).first() is not None:
        raise Conflict("sync.vehicle_exists", _N("vehicle {code} exists already"), code=code)
    assert district.id is not None
    vehicle = Vehicle(code=code, district_id=district.id)
    session.add(vehicle)
    session.flush()
    # The district's instrument-gateway account belongs to the centre: made here, it reaches the node with the
    # accounts it pulls, so the node's acquisitions never need to create an account of their own.
    ingest.gateway_actor(session, district.id)
    return vehicle, issue_code(session, actor, vehicle)


def issue_code(session: Session, actor: Actor, vehicle: Vehicle) -> str:
    """A new one-time enrolment code for `vehicle` (any earlier code stops working)."""
    code = credentials.new_code()
    vehicle.enrol_code_hash = credentials.digest(credentials.normalise_code(code))
    vehicle.enrol_expires_at = utcnow() + timedelta(minutes=get_settings().vehicle_enrol_minutes)
    session.add(vehicle)
    _event(session, actor, vehicle, "enrolment_code", {"expires_at": vehicle.enrol_expires_at.isoformat()})
    return code


def vehicle_by_code(session: Session, code: str) -> Vehicle:
    """The vehicle named `code`, or 404."""
    vehicle = session.exec(select(Vehicle).where(Vehicle.code == code)).first()
    if vehicle is None:
        raise NotFound("sync.no_vehicle", _N("no vehicle {code}"), code=code)
    return vehicle


def enrol(session: Session, vehicle_code: str, code: str) -> EnrolGrant:
    """Exchange a valid, unexpired, unused enrolment code for the vehicle's credential and audit key.

    One conditional update consumes the code: of two enrolments with the same code exactly one wins. A new
    enrolment starts the vehicle's audit chains afresh (a new node database) under a new key."""
    refused = Unauthorized("sync.enrolment_refused", _N("the enrolment code is wrong, used or expired"))
    vehicle = session.exec(select(Vehicle).where(Vehicle.code == vehicle_code)).first()
    if vehicle is None or vehicle.id is None:
        raise refused
    credential, nonce, now = credentials.new_credential(), credentials.new_nonce(), utcnow()
    consumed = session.execute(
        update(Vehicle)
        .where(
            col(Vehicle.id) == vehicle.id,
            col(Vehicle.enrol_code_hash) == credentials.digest(credentials.normalise_code(code)),
            col(Vehicle.enrol_expires_at) > now,
        )
        .values(
            enrol_code_hash=None,
            enrol_expires_at=None,
            credential_hash=credentials.digest(credential),
            key_nonce=nonce,
            enrolled_at=now,
            refused=0,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if consumed.rowcount != 1:  # type: ignore[attr-defined]
        raise refused
    session.refresh(vehicle)
    # A new node database numbers its rows and chains afresh: the old node's heads and id map no longer apply.
    session.execute(delete(VehicleChain).where(col(VehicleChain.vehicle_id) == vehicle.id))
    session.execute(delete(SyncRowMap).where(col(SyncRowMap.vehicle_id) == vehicle.id))
    _event(session, Actor(name=vehicle.code, role="vehicle"), vehicle, "enrolled", {"at": now.isoformat()})
    district = session.get(District, vehicle.district_id)
    assert district is not None
    return EnrolGrant(
        vehicle=vehicle.code,
        district_id=vehicle.district_id,
        district_code=district.code,
        credential=credential,
        audit_key=credentials.vehicle_key(vehicle.code, nonce),
    )


def authenticate(session: Session, credential: str | None) -> Vehicle:
    """The vehicle whose credential this is, or 401."""
    if not credential:
        raise Unauthorized("sync.no_vehicle_credential", _N("send the vehicle's credential as a bearer token"))
    vehicle = session.exec(select(Vehicle).where(Vehicle.credential_hash == credentials.digest(credential))).first()
    if vehicle is None:
        raise Unauthorized("sync.vehicle_credential_refused", _N("the vehicle credential is not valid"))
    return vehicle


def audit_key_of(vehicle: Vehicle) -> bytes:
    """The key the vehicle's node MACs its audit events with."""
    return credentials.vehicle_key(vehicle.code, vehicle.key_nonce).encode()


def touch(session: Session, vehicle: Vehicle, backlog: int | None = None) -> None:
    """Note that the vehicle was in contact now, and how many records it said it still holds."""
    values: dict[str, object] = {"last_contact": utcnow()}
    if backlog is not None:
        values["backlog"] = backlog
    session.execute(
        update(Vehicle)
        .where(col(Vehicle.id) == vehicle.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
