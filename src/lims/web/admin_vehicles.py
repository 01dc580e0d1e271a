"""The centre's page of detection vehicles: each one's last contact, backlog and refused pushes; adding a vehicle
and its one-time enrolment code. Thin: the rules are `services.sync`'s and the label ids'."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, select

from lims.api.deps import SessionDep
from lims.i18n import _N
from lims.models import District, Vehicle
from lims.models.sync import MAX_VEHICLE, VehicleCreate
from lims.services.core.audit import Actor
from lims.services.core.errors import Invalid, NotFound, ServiceError
from lims.services.samples.label_ids import vehicle_code_problem
from lims.services.sync import status, vehicles
from lims.settings import get_settings
from lims.web.admin import Admin, FormErrors, _errors
from lims.web.common import CsrfChecked, page_router, render

router = page_router()


def _district(session: Session, actor: Actor) -> District:
    district = session.get(District, actor.district_id)
    if district is None:
        raise Invalid("sampling.signed_user_has_no", _N("the signed-in user has no district"))
    return district


def _page(request: Request, session: Session, actor: Actor, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    district = _district(session, actor)
    response = render(
        request,
        "admin_vehicles.html",
        status_code=status_code,
        vehicles=status.vehicle_statuses(session, district.code),
        max_vehicle=MAX_VEHICLE,
        enrol_minutes=get_settings().vehicle_enrol_minutes,
        values=ctx.pop("values", {}),
        errors=ctx.pop("errors", FormErrors()),
        **ctx,
    )
    response.headers["Cache-Control"] = "no-store"  # an enrolment code is on the page once
    return response


@router.get("/admin/vehicles", response_class=HTMLResponse)
def vehicles_page(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    """The district's vehicles with their link to the centre, and a form to add one."""
    return _page(request, session, actor)


@router.post("/admin/vehicles", response_class=HTMLResponse, dependencies=[CsrfChecked])
def add_vehicle(
    request: Request, session: SessionDep, actor: Admin, code: Annotated[str, Form(max_length=MAX_VEHICLE + 8)] = ""
) -> Response:
    """Add a vehicle of the district; the page shows its one-time enrolment code."""
    form = {"code": code.strip().upper()}
    try:
        district = _district(session, actor)
        new = VehicleCreate.model_validate({"code": form["code"], "district": district.code})
        taken = list(session.exec(select(Vehicle.code).where(Vehicle.district_id == district.id)).all())
        problem = vehicle_code_problem(new.code, taken)
        if problem is not None:
            raise Invalid("vehicles.code", _N("{problem}"), problem=problem)
        vehicle, enrolment = vehicles.add_vehicle(session, actor, new.code, district.code)
        session.commit()
    except (ServiceError, ValidationError) as exc:
        session.rollback()
        errors = _errors(request, exc)
        if "" in errors:
            errors["code"] = errors.pop("")
        status_code = exc.status_code if isinstance(exc, ServiceError) else 422
        return _page(request, session, actor, status_code, values=form, errors=errors)
    return _page(request, session, actor, 201, enrolment={"vehicle": vehicle.code, "code": enrolment})


@router.post("/admin/vehicles/{code}/code", response_class=HTMLResponse, dependencies=[CsrfChecked])
def new_code(request: Request, session: SessionDep, actor: Admin, code: str) -> Response:
    """A new one-time enrolment code for one of the district's vehicles (a new or replaced laptop)."""
    try:
        vehicle = vehicles.vehicle_by_code(session, code[:MAX_VEHICLE])
        if vehicle.district_id != actor.district_id:
            raise NotFound("sync.no_vehicle", _N("no vehicle {code}"), code=code)  # another district's
        enrolment = vehicles.issue_code(session, actor, vehicle)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(request, session, actor, exc.status_code, errors=_errors(request, exc))
    return _page(request, session, actor, enrolment={"vehicle": vehicle.code, "code": enrolment})
