"""The administrator's pages under /admin: sampling points, reference data, kit lots, instruments (calibration,
maintenance, readings, holding queue, file imports), users and plans; each record shows its history.

Thin: every rule is the services' (the same as the API's). A refused form is shown again with the typed values
kept and the reason next to its field."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, col, select

from instrument_drivers import family_registry
from lims import i18n
from lims.api.deps import RowId, SessionDep
from lims.api.limits import read_bounded
from lims.i18n import _N
from lims.models import FoodCategory, KitLot, Limit, PlanVersion, SamplingPoint, Station, TestItem, User
from lims.models.common import Role
from lims.models.qc import ControlSubmit
from lims.models.users import UserCreate
from lims.services.access import accounts, districts
from lims.services.analysis import signals
from lims.services.cases.files import Upload
from lims.services.core import clock, history
from lims.services.core.audit import Actor
from lims.services.core.errors import Invalid, NotFound, ServiceError
from lims.services.lab import file_import, instruments, qc, stock, verification
from lims.services.reference import editing
from lims.services.results import imports
from lims.services.samples import plan_suggestions, plans
from lims.web import market_board
from lims.web.common import CsrfChecked, page_router, redirect, render, role_page
from lims.web.i18n import language

router = page_router()
Admin = Annotated[Actor, Depends(role_page(Role.ADMIN))]
Serial = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._-]+$")]
PlaceCode = Annotated[str, Path(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")]
Username = Annotated[str, Path(min_length=1, max_length=64)]
Short = Annotated[str, Form(max_length=100)]
Line = Annotated[str, Form(max_length=200)]
UserAction = Literal["disable", "enable", "role", "password"]

# Pydantic's kinds of field errors, as the reader reads them.
FIELD_ERRORS = {
    "missing": _N("required"),
    "string_too_short": _N("required"),
    "string_too_long": _N("at most {max_length} characters"),
    "date_from_datetime_parsing": _N("not a date (YYYY-MM-DD)"),
    "date_parsing": _N("not a date (YYYY-MM-DD)"),
    "date_type": _N("not a date (YYYY-MM-DD)"),
    "float_parsing": _N("not a number"),
    "float_type": _N("not a number"),
    "greater_than": _N("must be more than {gt}"),
    "greater_than_equal": _N("must be at least {ge}"),
    "less_than_equal": _N("must be at most {le}"),
    "enum": _N("choose one of the options"),
    "too_long": _N("at most {max_length} entries"),
}


class FormErrors(dict[str, str]):
    """The problems of a refused form, by field name ("" for the form as a whole)."""


def _errors(request: Request, exc: ServiceError | ValidationError) -> FormErrors:
    lang = language(request)
    found = FormErrors()
    if isinstance(exc, ServiceError):
        found[str(exc.details.get("field", ""))] = exc.text(lang)
        return found
    for error in exc.errors():
        name = str(error["loc"][0]) if error.get("loc") else ""
        message = FIELD_ERRORS.get(str(error.get("type")), _N("not accepted"))
        found.setdefault(name, i18n.render(message, lang, dict(error.get("ctx") or {})))
    return found


def _or_none(text: str) -> str | None:
    return text.strip() or None


def _changes(session: Session, actor: Actor, row: Any) -> list[history.Change]:
    return history.of(session, actor, row)


# --------------------------------------------------------------------------- index


@router.get("/admin", response_class=HTMLResponse)
def index(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    """The administrator's start page: what there is to manage, with counts."""
    counts = {
        "points": len(districts.points(session, actor.district_id)),
        "instruments": len(instruments.list_for(session, actor)),
        "users": len(accounts.list_users(session, actor)),
        "kits": len(editing.kit_lots(session, actor)),
    }
    return render(request, "admin_index.html", counts=counts)


# --------------------------------------------------------------------------- sampling points


def _stations(session: Session, actor: Actor) -> list[Station]:
    statement = select(Station).where(Station.district_id == actor.district_id).order_by(col(Station.code))
    return list(session.exec(statement).all())


def _points_page(request: Request, session: Session, actor: Actor, status: int = 200, **ctx: Any) -> HTMLResponse:
    points = districts.points(session, actor.district_id)
    stations = {s.id: s for s in _stations(session, actor)}
    return render(
        request,
        "admin_points.html",
        status_code=status,
        points=points,
        stations=stations,
        station_list=list(stations.values()),
        done=request.query_params.get("done", ""),
        values=ctx.pop("values", {}),
        errors=ctx.pop("errors", FormErrors()),
        **ctx,
    )


@router.get("/admin/points", response_class=HTMLResponse)
def points_page(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    """The district's sampling points, and a form to add one."""
    return _points_page(request, session, actor)


def _point_form(
    code: str,
    station_code: str,
    name: str,
    name_en: str,
    kind: str,
    area: str,
    address: str,
    latitude: str,
    longitude: str,
) -> dict[str, Any]:
    return {
        "code": code.strip(),
        "station_code": station_code,
        "name": name,
        "name_en": name_en,
        "kind": kind,
        "area": area or "urban",
        "address": address,
        "latitude": _or_none(latitude),
        "longitude": _or_none(longitude),
    }


@router.post("/admin/points", response_class=HTMLResponse, dependencies=[CsrfChecked])
def add_point(
    request: Request,
    session: SessionDep,
    actor: Admin,
    code: Annotated[str, Form(max_length=16)] = "",
    station_code: Annotated[str, Form(max_length=16)] = "",
    name: Short = "",
    name_en: Short = "",
    kind: Annotated[str, Form(max_length=32)] = "",
    area: Annotated[str, Form(max_length=16)] = "urban",
    address: Line = "",
    latitude: Annotated[str, Form(max_length=20)] = "",
    longitude: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Add a sampling point to the district."""
    form = _point_form(code, station_code, name, name_en, kind, area, address, latitude, longitude)
    try:
        row = editing.add_point(session, actor, editing.PointCreate.model_validate(form))
        session.commit()
    except (ServiceError, ValidationError) as exc:
        session.rollback()
        status = exc.status_code if isinstance(exc, ServiceError) else 422
        return _points_page(request, session, actor, status, values=form, errors=_errors(request, exc))
    return redirect(f"/admin/points/{row.code}?done=created")


def _point_page(
    request: Request, session: Session, actor: Actor, row: SamplingPoint, status: int = 200, **ctx: Any
) -> HTMLResponse:
    station = session.get(Station, row.station_id)
    values = ctx.pop("values", None) or {
        **row.model_dump(),
        "station_code": station.code if station else "",
        "latitude": "" if row.latitude is None else row.latitude,
        "longitude": "" if row.longitude is None else row.longitude,
    }
    return render(
        request,
        "admin_point.html",
        status_code=status,
        point=row,
        board_url=market_board.board_paths(session, actor.district_id)(row.code),
        station=station,
        station_list=_stations(session, actor),
        values=values,
        seen=ctx.pop("seen", history.fingerprint(row)),
        errors=ctx.pop("errors", FormErrors()),
        changes=_changes(session, actor, row),
        done=request.query_params.get("done", ""),
        **ctx,
    )


@router.get("/admin/points/{code}", response_class=HTMLResponse)
def point_page(request: Request, session: SessionDep, actor: Admin, code: PlaceCode) -> HTMLResponse:
    """One sampling point: its details to edit and its history."""
    return _point_page(request, session, actor, editing.point(session, actor, code))


@router.post("/admin/points/{code}", response_class=HTMLResponse, dependencies=[CsrfChecked])
def edit_point(
    request: Request,
    session: SessionDep,
    actor: Admin,
    code: PlaceCode,
    seen: Annotated[str, Form(max_length=64)] = "",
    station_code: Annotated[str, Form(max_length=16)] = "",
    name: Short = "",
    name_en: Short = "",
    kind: Annotated[str, Form(max_length=32)] = "",
    area: Annotated[str, Form(max_length=16)] = "urban",
    address: Line = "",
    latitude: Annotated[str, Form(max_length=20)] = "",
    longitude: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Change a sampling point (refused when someone changed it since the form was shown)."""
    row = editing.point(session, actor, code)
    form = _point_form(code, station_code, name, name_en, kind, area, address, latitude, longitude)
    try:
        editing.update_point(session, actor, code, editing.PointFields.model_validate(form), seen)
        session.commit()
    except (ServiceError, ValidationError) as exc:
        session.rollback()
        status = exc.status_code if isinstance(exc, ServiceError) else 422
        row = editing.point(session, actor, code)
        return _point_page(request, session, actor, row, status, values=form, seen=seen, errors=_errors(request, exc))
    return redirect(f"/admin/points/{row.code}?done=saved")


# --------------------------------------------------------------------------- reference data and kit lots


@router.get("/admin/reference", response_class=HTMLResponse)
def reference_page(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    """Food categories, test items and their limits with the clauses they cite."""
    categories = list(session.exec(select(FoodCategory).order_by(col(FoodCategory.code))).all())
    items = list(session.exec(select(TestItem).order_by(col(TestItem.code))).all())
    limits = list(session.exec(select(Limit).where(col(Limit.retired).is_(False))).all())
    by_item: dict[int, list[Limit]] = {}
    for limit in limits:
        by_item.setdefault(limit.item_id, []).append(limit)
    return render(
        request,
        "admin_reference.html",
        categories=categories,
        category_by_id={c.id: c for c in categories},
        items=items,
        limits=by_item,
    )


def _kits_page(request: Request, session: Session, actor: Actor, status: int = 200, **ctx: Any) -> HTMLResponse:
    items = {i.id: i for i in session.exec(select(TestItem).where(col(TestItem.retired).is_(False)))}
    return render(
        request,
        "admin_kits.html",
        status_code=status,
        kits=editing.kit_lots(session, actor),
        stock={level.kit_lot_id: level for level in stock.stock_levels(session, actor)},
        items=items,
        item_list=sorted(items.values(), key=lambda i: i.code),
        categories=list(session.exec(select(FoodCategory).order_by(col(FoodCategory.code))).all()),
        today=clock.today_of(session, actor.district_id),
        values=ctx.pop("values", {}),
        errors=ctx.pop("errors", FormErrors()),
        done=request.query_params.get("done", ""),
        **ctx,
    )


@router.get("/admin/kits", response_class=HTMLResponse)
def kits_page(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    """Kit lots with their expiry and leaflet figures, and a form to add one."""
    return _kits_page(request, session, actor)


@router.post("/admin/kits", response_class=HTMLResponse, dependencies=[CsrfChecked])
def add_kit(
    request: Request,
    session: SessionDep,
    actor: Admin,
    item_code: Annotated[str, Form(max_length=16)] = "",
    lot: Annotated[str, Form(max_length=40)] = "",
    manufacturer: Short = "",
    expires_on: Annotated[str, Form(max_length=10)] = "",
    cutoff_tc: Annotated[str, Form(max_length=20)] = "",
    min_c_intensity: Annotated[str, Form(max_length=20)] = "",
    detection_limit: Annotated[str, Form(max_length=20)] = "",
    detection_limit_unit: Annotated[str, Form(max_length=16)] = "",
    matrices: Annotated[list[str] | None, Form(max_length=40)] = None,
) -> Response:
    """Add a kit lot (kit lots are reference data every district shares)."""
    form = {
        "item_code": item_code,
        "lot": lot,
        "manufacturer": manufacturer,
        "expires_on": expires_on.strip(),
        "cutoff_tc": _or_none(cutoff_tc),
        "min_c_intensity": _or_none(min_c_intensity),
        "detection_limit": _or_none(detection_limit),
        "detection_limit_unit": detection_limit_unit,
        "matrices": [m[:32] for m in (matrices or [])][:41],
    }
    try:
        row = editing.add_kit_lot(session, actor, editing.KitLotCreate.model_validate(form))
        session.commit()
    except (ServiceError, ValidationError) as exc:
        session.rollback()
        status = exc.status_code if isinstance(exc, ServiceError) else 422
        return _kits_page(request, session, actor, status, values=form, errors=_errors(request, exc))
    return redirect(f"/admin/kits/{row.id}?done=created")


@router.get("/admin/kits/{kit_id}", response_class=HTMLResponse)
def kit_page(request: Request, session: SessionDep, actor: Admin, kit_id: RowId) -> HTMLResponse:
    """One kit lot and its history."""
    row: KitLot = editing.kit_lot(session, actor, kit_id)
    return render(
        request,
        "admin_kit.html",
        kit=row,
        item=session.get(TestItem, row.item_id),
        changes=_changes(session, actor, row),
        done=request.query_params.get("done", ""),
    )


# --------------------------------------------------------------------------- instruments


def _instruments_page(request: Request, session: Session, actor: Actor, status: int = 200, **ctx: Any) -> HTMLResponse:
    return render(
        request,
        "admin_instruments.html",
        status_code=status,
        instruments=instruments.list_for(session, actor),
        families=family_registry.names(),
        today=clock.today_of(session, actor.district_id),
        values=ctx.pop("values", {}),
        errors=ctx.pop("errors", FormErrors()),
        **ctx,
    )


@router.get("/admin/instruments", response_class=HTMLResponse)
def instruments_page(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    """The district's instruments with their calibration due dates, and a form to register one."""
    return _instruments_page(request, session, actor)


@router.post("/admin/instruments", response_class=HTMLResponse, dependencies=[CsrfChecked])
def add_instrument(
    request: Request,
    session: SessionDep,
    actor: Admin,
    serial: Annotated[str, Form(max_length=40)] = "",
    family: Annotated[str, Form(max_length=32)] = "",
    model: Short = "",
    connection_url: Line = "",
    location: Short = "",
    calibration_due: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Register an instrument in the district."""
    form = {
        "serial": serial,
        "family": family,
        "model": model,
        "connection_url": connection_url,
        "location": location,
        "calibration_due": calibration_due.strip(),
    }
    try:
        row = instruments.add(session, actor, instruments.InstrumentCreate.model_validate(form))
        session.commit()
    except (ServiceError, ValidationError) as exc:
        session.rollback()
        status = exc.status_code if isinstance(exc, ServiceError) else 422
        return _instruments_page(request, session, actor, status, values=form, errors=_errors(request, exc))
    return redirect(f"/admin/instruments/{row.serial}?done=created")


def _instrument_page(
    request: Request, session: Session, actor: Actor, serial: str, status: int = 200, **ctx: Any
) -> HTMLResponse:
    row = instruments.get(session, actor, serial)
    today = clock.today_of(session, row.district_id)
    try:
        default_mapping = file_import.mapping_for(row).name
    except ServiceError:
        default_mapping = ""
    return render(
        request,
        "admin_instrument.html",
        status_code=status,
        instrument=row,
        overdue=row.calibration_due < today,
        today=today,
        calibrations=instruments.calibrations(session, row),
        maintenance=instruments.maintenance(session, row),
        days=instruments.readings_per_day(session, row),
        held=instruments.held(session, row),
        imports=imports.imports(session, row),
        mappings=[m for m in file_import.mappings() if m.family == row.family],
        default_mapping=default_mapping,
        changes=_changes(session, actor, row),
        done=request.query_params.get("done", ""),
        seen=history.fingerprint(row),
        values=ctx.pop("values", {}),
        errors=ctx.pop("errors", FormErrors()),
        form=ctx.pop("form", ""),
        report=ctx.pop("report", None),
        **ctx,
    )


@router.get("/admin/instruments/{serial}", response_class=HTMLResponse)
def instrument_page(request: Request, session: SessionDep, actor: Admin, serial: Serial) -> HTMLResponse:
    """One instrument: calibration and maintenance, readings per day, holding queue, file imports, history."""
    return _instrument_page(request, session, actor, serial)


@router.post("/admin/instruments/{serial}", response_class=HTMLResponse, dependencies=[CsrfChecked])
def edit_instrument(
    request: Request,
    session: SessionDep,
    actor: Admin,
    serial: Serial,
    seen: Annotated[str, Form(max_length=64)] = "",
    model: Short = "",
    connection_url: Line = "",
    location: Short = "",
) -> Response:
    """Change an instrument's model, connection or location (refused when it changed since the form was shown)."""
    form = {"model": model, "connection_url": connection_url, "location": location}
    instruments.get(session, actor, serial)
    try:
        instruments.update(session, actor, serial, instruments.InstrumentUpdate.model_validate(form), seen)
        session.commit()
    except (ServiceError, ValidationError) as exc:
        session.rollback()
        status = exc.status_code if isinstance(exc, ServiceError) else 422
        errors = _errors(request, exc)
        return _instrument_page(request, session, actor, serial, status, values=form, errors=errors, form="edit")
    return redirect(f"/admin/instruments/{serial}?done=saved")


@router.post("/admin/instruments/{serial}/calibrations", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def calibrate(
    request: Request,
    session: SessionDep,
    actor: Admin,
    serial: Serial,
    calibrated_on: Annotated[str, Form(max_length=10)] = "",
    performed_by: Short = "",
    certificate_number: Annotated[str, Form(max_length=64)] = "",
    next_due: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    certificate: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Record a calibration (with its certificate, PDF or image): the instrument's due date moves."""
    form = {
        "calibrated_on": calibrated_on.strip(),
        "performed_by": performed_by.strip(),
        "certificate_number": certificate_number.strip(),
        "next_due": next_due.strip(),
        "note": note.strip(),
    }
    instruments.get(session, actor, serial)  # another district's instrument: not found, before anything is read
    try:
        upload = await read_bounded(certificate, instruments.MAX_CERTIFICATE_BYTES) if certificate else None
        body = instruments.CalibrationCreate.model_validate(form)
        instruments.record_calibration(session, actor, serial, body, upload if upload and upload.data else None)
        session.commit()
    except (ServiceError, ValidationError) as exc:
        session.rollback()
        status = exc.status_code if isinstance(exc, ServiceError) else 422
        errors = _errors(request, exc)
        return _instrument_page(request, session, actor, serial, status, values=form, errors=errors, form="calibration")
    return redirect(f"/admin/instruments/{serial}?done=calibrated")


@router.post("/admin/instruments/{serial}/maintenance", response_class=HTMLResponse, dependencies=[CsrfChecked])
def maintain(
    request: Request,
    session: SessionDep,
    actor: Admin,
    serial: Serial,
    performed_on: Annotated[str, Form(max_length=10)] = "",
    performed_by: Short = "",
    work: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Record maintenance of the instrument."""
    form = {"performed_on": performed_on.strip(), "performed_by": performed_by.strip(), "work": work.strip()}
    try:
        instruments.record_maintenance(session, actor, serial, instruments.MaintenanceCreate.model_validate(form))
        session.commit()
    except (ServiceError, ValidationError) as exc:
        session.rollback()
        status = exc.status_code if isinstance(exc, ServiceError) else 422
        errors = _errors(request, exc)
        return _instrument_page(request, session, actor, serial, status, values=form, errors=errors, form="maintenance")
    return redirect(f"/admin/instruments/{serial}?done=maintained")


@router.post("/admin/instruments/{serial}/import", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def import_readings(
    request: Request,
    session: SessionDep,
    actor: Admin,
    serial: Serial,
    step: Annotated[Literal["preview", "import"], Form()] = "preview",
    mapping: Annotated[str, Form(max_length=64)] = "",
    sha256: Annotated[str, Form(max_length=64)] = "",
    file_name: Line = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Preview an instrument's export file, then import it: every row judged as a live reading is."""
    instruments.get(session, actor, serial)
    try:
        if step == "preview":
            if file is None:
                raise Invalid("file_import.empty", _N("the file is empty"), details={"field": "file"})
            upload = await read_bounded(file, file_import.MAX_FILE_BYTES)
            report = imports.preview(session, actor, serial, Upload(upload.data, upload.name), mapping or None)
        else:
            upload = Upload(file_import.kept(session, sha256), file_name)
            report = imports.import_file(session, actor, serial, upload, mapping or None)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        errors = _errors(request, exc)
        values = {"mapping": mapping}
        return _instrument_page(
            request, session, actor, serial, exc.status_code, values=values, errors=errors, form="import"
        )
    return _instrument_page(request, session, actor, serial, report=report, form="import")


@router.get("/admin/instruments/{serial}/certificates/{record_id}")
def certificate_file(session: SessionDep, actor: Admin, serial: Serial, record_id: RowId) -> Response:
    """A calibration's certificate file."""
    row, data = instruments.certificate(session, actor, serial, record_id)
    extension = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
    name = f"calibration-{serial}-{row.id}.{extension.get(row.certificate_type, 'bin')}"
    return Response(
        data,
        media_type=row.certificate_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


# --------------------------------------------------------------------------- users


def _users_page(request: Request, session: Session, actor: Actor, status: int = 200, **ctx: Any) -> HTMLResponse:
    users = [u for u in accounts.list_users(session, actor) if not accounts.is_gateway(u.username)]
    stations = {s.id: s for s in _stations(session, actor)}
    return render(
        request,
        "admin_users.html",
        status_code=status,
        users=users,
        stations=stations,
        station_list=list(stations.values()),
        roles=[r.value for r in Role],
        values=ctx.pop("values", {}),
        errors=ctx.pop("errors", FormErrors()),
        **ctx,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    """The district's accounts, and a form to add one."""
    return _users_page(request, session, actor)


@router.post("/admin/users", response_class=HTMLResponse, dependencies=[CsrfChecked])
def add_user(
    request: Request,
    session: SessionDep,
    actor: Admin,
    username: Annotated[str, Form(max_length=64)] = "",
    full_name: Short = "",
    role: Annotated[str, Form(max_length=16)] = "",
    station_code: Annotated[str, Form(max_length=16)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """Add an account to the district."""
    form = {
        "username": username.strip(),
        "full_name": full_name.strip(),
        "role": role,
        "station_code": _or_none(station_code),
        "password": password,
    }
    try:
        user = accounts.create(session, actor, UserCreate.model_validate(form))
        session.commit()
    except (ServiceError, ValidationError) as exc:
        session.rollback()
        status = exc.status_code if isinstance(exc, ServiceError) else 422
        kept = {k: v for k, v in form.items() if k != "password"}
        return _users_page(request, session, actor, status, values=kept, errors=_errors(request, exc))
    return redirect(f"/admin/users/{user.username}?done=created")


def _user(session: Session, actor: Actor, username: str) -> User:
    for user in accounts.list_users(session, actor):
        if user.username == username:
            return user
    raise NotFound("accounts.unknown_user", _N("unknown user {username!r}"), username=username)


def _user_page(
    request: Request, session: Session, actor: Actor, username: str, status: int = 200, **ctx: Any
) -> HTMLResponse:
    user = _user(session, actor, username)
    stations = {s.id: s for s in _stations(session, actor)}
    return render(
        request,
        "admin_user.html",
        status_code=status,
        user=user,
        station=stations.get(user.station_id) if user.station_id else None,
        station_list=list(stations.values()),
        roles=[r.value for r in Role],
        changes=_changes(session, actor, user),
        done=request.query_params.get("done", ""),
        errors=ctx.pop("errors", FormErrors()),
        **ctx,
    )


@router.get("/admin/users/{username}", response_class=HTMLResponse)
def user_page(request: Request, session: SessionDep, actor: Admin, username: Username) -> HTMLResponse:
    """One account: disable or enable it, change its role, set a new password; and its history."""
    return _user_page(request, session, actor, username)


@router.post("/admin/users/{username}/{action}", response_class=HTMLResponse, dependencies=[CsrfChecked])
def change_user(
    request: Request,
    session: SessionDep,
    actor: Admin,
    username: Username,
    action: UserAction,
    role: Annotated[str, Form(max_length=16)] = "",
    station_code: Annotated[str, Form(max_length=16)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """Disable or enable an account, change its role or set its password (its sign-ins end at once)."""
    try:
        if action == "disable":
            accounts.disable(session, actor, username)
        elif action == "enable":
            accounts.enable(session, actor, username)
        elif action == "role":
            accounts.set_role(session, actor, username, role, station_code=_or_none(station_code))
        else:
            if not password:
                raise Invalid(
                    "accounts.password_required", _N("a new password is required"), details={"field": "password"}
                )
            accounts.set_password(session, actor, username, password)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        errors = _errors(request, exc)
        if "" in errors:
            errors[action] = errors.pop("")
        return _user_page(request, session, actor, username, exc.status_code, errors=errors)
    return redirect(f"/admin/users/{username}?done={action}")


# --------------------------------------------------------------------------- plans


def _plans_page(request: Request, session: Session, actor: Actor, status: int = 200, **ctx: Any) -> HTMLResponse:
    today = plans.today(session, actor)
    following = f"{today.year + today.month // 12}-{today.month % 12 + 1:02d}"
    return render(
        request,
        "admin_plans.html",
        status_code=status,
        versions=plans.versions(session, actor),
        suggestions=plan_suggestions.recent(session, actor),
        values=ctx.pop("values", {"month": following}),
        errors=ctx.pop("errors", FormErrors()),
        **ctx,
    )


@router.get("/admin/plans", response_class=HTMLResponse)
def plans_page(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    """The versions of the district's sampling plans (定期定项定批定点), newest first, and their suggestions."""
    return _plans_page(request, session, actor)


@router.post("/admin/plans/suggestions", response_class=HTMLResponse, dependencies=[CsrfChecked])
def suggest_plan(
    request: Request, session: SessionDep, actor: Admin, month: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    """Suggest a month's plan weighted by risk, from the district's current plan."""
    try:
        row = plan_suggestions.suggest(session, actor, month, extra_risk=signals.plan_risk(session, actor))
        session.commit()
    except ServiceError as exc:
        session.rollback()
        errors = _errors(request, exc)
        errors["month"] = errors.pop("", "")
        return _plans_page(request, session, actor, exc.status_code, values={"month": month}, errors=errors)
    return redirect(f"/admin/plans/suggestions/{row.id}")


def _suggestion_page(
    request: Request, session: Session, actor: Actor, row_id: int, status: int = 200, **ctx: Any
) -> HTMLResponse:
    row = plan_suggestions.get(session, actor, row_id)
    lang = language(request)
    accepted = session.get(PlanVersion, row.accepted_version_id) if row.accepted_version_id else None
    return render(
        request,
        "admin_plan_suggestion.html",
        status_code=status,
        suggestion=row,
        accepted=accepted,
        reason=lambda r: plan_suggestions.reason_text(r, lang),
        errors=ctx.pop("errors", FormErrors()),
        just_accepted=request.query_params.get("done") == "accepted" and row.status == "accepted",
        **ctx,
    )


@router.get("/admin/plans/suggestions/{row_id}", response_class=HTMLResponse)
def suggestion_page(request: Request, session: SessionDep, actor: Admin, row_id: RowId) -> HTMLResponse:
    """A suggested plan: the capacity it was cut from, each change with its reasons, and the button to accept it."""
    return _suggestion_page(request, session, actor, row_id)


@router.post("/admin/plans/suggestions/{row_id}/accept", response_class=HTMLResponse, dependencies=[CsrfChecked])
def accept_suggestion(request: Request, session: SessionDep, actor: Admin, row_id: RowId) -> Response:
    """Store the suggestion as its month's next plan version (409 with the reason when stale or taken)."""
    try:
        plan_suggestions.accept(session, actor, row_id)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _suggestion_page(request, session, actor, row_id, exc.status_code, errors=_errors(request, exc))
    return redirect(f"/admin/plans/suggestions/{row_id}?done=accepted")


# --------------------------------------------------------------------------- quality control

LOT_HISTORY = 100  # control runs shown on a lot's page
MAX_FIGURES = 12


def _figures(text: str) -> dict[str, float] | str:
    """`name=value` pairs (spaces, commas or semicolons between them) as raw figures, or the text it refuses."""
    found: dict[str, float] = {}
    for part in text.replace(",", " ").replace(";", " ").replace("，", " ").split():
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            return _N("write each figure as name=value, e.g. t=0.30 c=1.00")
        try:
            found[name.strip()] = float(value)
        except ValueError:
            return _N("not a number")
    if not found:
        return _N("required")
    if len(found) > MAX_FIGURES:
        return i18n.render(_N("at most {max_length} entries"), "en", {"max_length": MAX_FIGURES})
    return found


def _qc_page(request: Request, session: Session, actor: Actor, status: int = 200, **ctx: Any) -> HTMLResponse:
    rows = qc.board(session, actor)
    items = sorted(session.exec(select(TestItem).where(col(TestItem.retired).is_(False))).all(), key=lambda i: i.code)
    return render(
        request,
        "admin_qc.html",
        status_code=status,
        rows=rows,
        today=clock.today_of(session, actor.district_id),
        item_list=[i for i in items if qc.rules().controls(i.family)],
        kinds=list(qc.KIND_TEXT),
        kind_text=qc.KIND_TEXT,
        values=ctx.pop("values", {}),
        errors=ctx.pop("errors", FormErrors()),
        recorded=request.query_params.get("recorded", ""),
        **ctx,
    )


@router.get("/admin/qc", response_class=HTMLResponse)
def qc_page(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    """Today's quality control: each item × kit lot with its required controls, their latest runs and what they
    hold, and a form to record a control by hand."""
    return _qc_page(request, session, actor)


@router.post("/admin/qc", response_class=HTMLResponse, dependencies=[CsrfChecked])
def record_control(
    request: Request,
    session: SessionDep,
    actor: Admin,
    kind: Annotated[str, Form(max_length=16)] = "",
    item_code: Annotated[str, Form(max_length=16)] = "",
    kit_lot: Annotated[str, Form(max_length=40)] = "",
    figures: Line = "",
    expected: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Record a control run by hand, judged as the API judges it."""
    values = {"kind": kind, "item_code": item_code, "kit_lot": kit_lot, "figures": figures, "expected": expected}
    raw = _figures(figures)
    if isinstance(raw, str):
        errors = FormErrors(figures=i18n.render(raw, language(request), {}))
        return _qc_page(request, session, actor, 422, values=values, errors=errors)
    form = {
        "kind": kind,
        "item_code": item_code,
        "kit_lot": _or_none(kit_lot),
        "raw": raw,
        "expected": _or_none(expected),
    }
    try:
        run = qc.record(session, actor, ControlSubmit.model_validate(form))
        session.commit()
    except (ServiceError, ValidationError) as exc:
        session.rollback()
        status = exc.status_code if isinstance(exc, ServiceError) else 422
        errors = _errors(request, exc)
        if "raw" in errors:
            errors["figures"] = errors.pop("raw")
        return _qc_page(request, session, actor, status, values=values, errors=errors)
    return redirect(f"/admin/qc?recorded={'passed' if run.passed else 'failed'}#board")


@router.get("/admin/qc/lots/{lot_id}", response_class=HTMLResponse)
def qc_lot_page(request: Request, session: SessionDep, actor: Admin, lot_id: RowId) -> HTMLResponse:
    """The control history of a kit lot in the district, newest first, with its Levey-Jennings chart."""
    kit = qc.district_lot(session, actor, lot_id)
    runs = qc.history(session, actor, lot_id=lot_id, limit=LOT_HISTORY)
    return render(
        request,
        "admin_qc_lot.html",
        kit=kit,
        item=session.get(TestItem, kit.item_id),
        runs=qc.views(session, runs, language(request)),
        limit=LOT_HISTORY,
        chart=any(r.value is not None for r in runs),
        kind_text=qc.KIND_TEXT,
    )


@router.get("/admin/qc/lots/{lot_id}/chart.svg")
def qc_lot_chart(request: Request, session: SessionDep, actor: Admin, lot_id: RowId) -> Response:
    """The lot's Levey-Jennings chart for the page (the API's chart, read with the page's sign-in)."""
    qc.district_lot(session, actor, lot_id)
    svg = qc.chart_svg(session, actor, lot_id, None, language(request))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, no-store"})


@router.get("/admin/verification", response_class=HTMLResponse)
def verification_page(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    """Method verification per item and kit maker: sensitivity, specificity, false-positive and false-negative
    rates with their 95 % intervals, from referral outcomes and scored blind samples."""
    return render(request, "admin_verification.html", rows=verification.compute(session, actor))
