"""Vehicle node commands: `lims vehicle add|code|list` at the centre; `lims node enroll` and `lims node` on one."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer
from sqlmodel import Session

from lims import i18n
from lims.cli.common import fail, ready_engine, reporting_errors
from lims.db import get_engine
from lims.i18n import _N
from lims.services.core.audit import SYSTEM
from lims.services.sync import client, status, vehicles
from lims.settings import get_settings

vehicle_app = typer.Typer(no_args_is_help=True, help="Detection vehicles that run an offline node (at the centre).")
node_app = typer.Typer(help="Run this LIMS as a detection vehicle's offline node.")
VehicleCode = Annotated[str, typer.Argument(help="the vehicle's code, e.g. VEH-01")]
Centre = Annotated[str, typer.Option("--centre", help="the centre's base URL, e.g. https://lims.example.org")]
VehicleOption = Annotated[str, typer.Option("--vehicle", help="the vehicle's code, e.g. VEH-01")]


def _print_code(vehicle: str, code: str) -> None:
    lang = i18n.cli_language()
    typer.echo(
        i18n.render(
            _N("enrolment code of {vehicle} (valid {minutes} minutes, once): {code}"),
            lang,
            {"vehicle": vehicle, "minutes": get_settings().vehicle_enrol_minutes, "code": code},
        )
    )


@vehicle_app.command("add")
def vehicle_add(
    code: VehicleCode, district: Annotated[str, typer.Option("--district", help="district code, e.g. XQ")]
) -> None:
    """Add a vehicle to a district and print its one-time enrolment code."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        vehicle, enrolment = vehicles.add_vehicle(session, SYSTEM, code, district)
        session.commit()
        _print_code(vehicle.code, enrolment)


@vehicle_app.command("code")
def vehicle_code(code: VehicleCode) -> None:
    """Print a new one-time enrolment code for a vehicle (to enrol a new or replaced laptop)."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        vehicle = vehicles.vehicle_by_code(session, code)
        enrolment = vehicles.issue_code(session, SYSTEM, vehicle)
        session.commit()
        _print_code(vehicle.code, enrolment)


@vehicle_app.command("list")
def vehicle_list(
    district: Annotated[str | None, typer.Option("--district", help="only this district")] = None,
) -> None:
    """Each vehicle's last contact, backlog and refused pushes, one JSON object a line."""
    engine = ready_engine()
    with Session(engine) as session:
        for found in status.vehicle_statuses(session, district):
            row = found.__dict__ | {"last_contact": found.last_contact.isoformat() if found.last_contact else None}
            typer.echo(json.dumps(row, ensure_ascii=False))


@node_app.command("enroll")
def node_enroll(
    centre: Centre,
    vehicle: VehicleOption,
    code: Annotated[str, typer.Option("--code", help="the one-time enrolment code printed at the centre")],
) -> None:
    """Enrol this laptop as the vehicle's node: credential, audit key, and the district's data from the centre."""
    settings = get_settings()
    engine = get_engine()
    with reporting_errors():
        try:
            pulled = client.enrol_node(engine, settings, centre, vehicle, code)
        except client.LinkDown as exc:
            fail(i18n.render(_N("the centre cannot be reached: {reason}"), i18n.cli_language(), {"reason": exc}))
        except client.Refused as exc:
            fail(i18n.render(_N("the centre refused: {reason}"), i18n.cli_language(), {"reason": exc.reason}))
    typer.echo(
        i18n.render(
            _N("enrolled {vehicle}: {rows} rows from the centre"),
            i18n.cli_language(),
            {"vehicle": vehicle, "rows": pulled},
        )
    )


@node_app.callback(invoke_without_command=True)
def node_run(
    ctx: typer.Context,
    centre: Annotated[str | None, typer.Option("--centre", help="the centre's base URL")] = None,
    vehicle: Annotated[str | None, typer.Option("--vehicle", help="the vehicle's code")] = None,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Serve the app on this laptop and run the sync loop with the centre (after `lims node enroll`)."""
    if ctx.invoked_subcommand is not None:
        return
    if not centre or not vehicle:
        fail(i18n.render(_N("give --centre and --vehicle"), i18n.cli_language()), code=2)
    import uvicorn

    os.environ["LIMS_NODE_CENTRE"] = centre
    os.environ["LIMS_NODE_VEHICLE"] = vehicle
    get_settings.cache_clear()
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        me = client.identity(session)
        if me is None:
            fail(i18n.render(_N("this node is not enrolled: run `lims node enroll` first"), i18n.cli_language()))
        if me.vehicle != vehicle:
            fail(
                i18n.render(
                    _N("this node is enrolled as {enrolled}, not {vehicle}"),
                    i18n.cli_language(),
                    {"enrolled": me.vehicle, "vehicle": vehicle},
                )
            )
        client.read_credential(get_settings())
    typer.echo(f"node {vehicle} serving on http://{host}:{port}/, syncing with {centre}", err=True)
    uvicorn.run(
        "lims.app:create_app", factory=True, host=host, port=port, workers=1, log_level="warning", proxy_headers=False
    )


def register(app: typer.Typer) -> None:
    """Add the vehicle and node commands to the `lims` command."""
    app.add_typer(vehicle_app, name="vehicle")
    app.add_typer(node_app, name="node")
