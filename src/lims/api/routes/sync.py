"""The centre's sync API for vehicle nodes: enrolment, push and pull, authenticated by the vehicle's credential."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lims.api.deps import SessionDep
from lims.models import Vehicle
from lims.models.sync import EnrolGrant, EnrolRequest, PullPage, PushAck, PushBody
from lims.services.core.errors import ServiceError
from lims.services.sync import apply, pull, vehicles

router = APIRouter(prefix="/sync", tags=["sync"])
bearer = HTTPBearer(auto_error=False)


def current_vehicle(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Vehicle:
    """The vehicle whose credential the request carries, or 401."""
    return vehicles.authenticate(session, credentials.credentials if credentials else None)


VehicleDep = Annotated[Vehicle, Depends(current_vehicle)]


@router.post("/enroll")
def enroll(session: SessionDep, body: EnrolRequest) -> EnrolGrant:
    """Exchange a vehicle's one-time enrolment code for its credential and audit key (once)."""
    grant = vehicles.enrol(session, body.vehicle, body.code)
    session.commit()
    return grant


@router.post("/push")
def push(session: SessionDep, vehicle: VehicleDep, body: PushBody) -> PushAck:
    """Apply a batch of the vehicle's outbox exactly once, after verifying its audit segment; acknowledge it."""
    try:
        return apply.apply_push(session, vehicle, body)
    except ServiceError as exc:
        apply.record_refusal(session, vehicle, exc, body.backlog)
        raise


@router.get("/pull")
def pull_changes(
    session: SessionDep,
    vehicle: VehicleDep,
    cursor: Annotated[str, Query(max_length=40, pattern=r"^\d{1,18}\.\d{1,18}$")] = "0.0",
    backlog: Annotated[int | None, Query(ge=0, le=10**9, description="records the node still holds")] = None,
) -> PullPage:
    """The centre's changes for the vehicle's district since `cursor` (reviews and publication of its results,
    plans and tasks, reference data, kit lots, users)."""
    page = pull.pull_page(session, vehicle, cursor)
    vehicles.touch(session, vehicle, backlog)
    session.commit()
    return page
