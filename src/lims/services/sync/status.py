"""How the link stands: the node's own view (offline since, records waiting) and the centre's view of its vehicles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from lims.models import District, NodeIdentity, SyncOutbox, Vehicle


@dataclass(frozen=True)
class NodeStatus:
    """A node's link: whether the centre answered the last round, since when it did not, what still waits."""

    online: bool
    offline_since: datetime | None
    waiting: int
    last_push: datetime | None
    last_pull: datetime | None
    vehicle: str | None


@dataclass(frozen=True)
class VehicleStatus:
    """A vehicle as the centre sees it: last contact, what it said it still holds, refused pushes."""

    vehicle: str
    district: str
    last_contact: datetime | None
    backlog: int
    refused: int
    last_error: str | None


def waiting_records(session: Session) -> int:
    """How many outbox records the centre has not acknowledged yet."""
    statement = select(func.count()).select_from(SyncOutbox).where(col(SyncOutbox.acked_at).is_(None))
    return int(session.exec(statement).one())


def node_status(session: Session) -> NodeStatus:
    """This node's link status (offline, no vehicle, when it was never enrolled)."""
    identity = session.exec(select(NodeIdentity)).first()
    waiting = waiting_records(session)
    if identity is None:
        return NodeStatus(False, None, waiting, None, None, None)
    return NodeStatus(
        online=identity.offline_since is None and identity.last_push is not None,
        offline_since=identity.offline_since,
        waiting=waiting,
        last_push=identity.last_push,
        last_pull=identity.last_pull,
        vehicle=identity.vehicle,
    )


def vehicle_statuses(session: Session, district: str | None) -> list[VehicleStatus]:
    """The vehicles of one district (by code), or of all districts when `district` is None, by code."""
    statement = select(Vehicle, District.code).join(District, col(District.id) == col(Vehicle.district_id))
    if district is not None:
        statement = statement.where(District.code == district)
    rows = session.exec(statement.order_by(col(Vehicle.code))).all()
    return [
        VehicleStatus(
            vehicle=vehicle.code,
            district=code,
            last_contact=vehicle.last_contact,
            backlog=vehicle.backlog,
            refused=vehicle.refused,
            last_error=vehicle.last_error,
        )
        for vehicle, code in rows
    ]
