"""Instrument commands: `lims acquire` stores what an instrument sends; `lims readings` lists it."""

from __future__ import annotations

import json
import signal
from typing import Annotated

import typer
from sqlmodel import Session

from instrument_drivers import family_registry
from lims.cli.common import fail, ready_engine
from lims.services.results import ingest


def _print_json(stored: ingest.Stored) -> None:
    typer.echo(json.dumps(stored.as_json(), ensure_ascii=False), nl=True)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def acquire(
    kind: Annotated[str, typer.Argument(help=f"instrument family: {', '.join(family_registry.names())}")],
    url: Annotated[str, typer.Argument(help="socket://host:port, a device path, modbus-tcp://…, modbus-rtu://…")],
    count: Annotated[int | None, typer.Option(min=1, help="stop after this many new readings")] = None,
    idle_exit: Annotated[
        float | None, typer.Option(min=0.1, help="stop after this many seconds without a new reading")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print each stored reading as one JSON line")] = False,
) -> None:
    """Connect to an instrument and store every reading it sends, acknowledging each after it is committed."""
    from instrument_drivers.errors import DriverError
    from instrument_drivers.registry import create_driver

    engine = ready_engine()
    signal.signal(signal.SIGTERM, _stop)
    try:
        with create_driver(kind, url) as driver:
            new = ingest.acquire(
                engine, driver, count=count, idle_exit=idle_exit, on_stored=_print_json if as_json else None
            )
    except DriverError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("stopped", code=130)
    if not as_json:
        typer.echo(f"stored {new} new readings")


def readings(
    instrument: Annotated[str, typer.Option(help="instrument serial number")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per reading")] = False,
) -> None:
    """List what is stored for one instrument: judged results and held readings, by sequence number."""
    engine = ready_engine()
    with Session(engine) as session:
        rows = ingest.stored_for(session, instrument)
    for row in rows:
        data = row.as_json()
        if as_json:
            typer.echo(json.dumps(data, ensure_ascii=False))
        else:
            where = f"result {data['result_id']}" if data["result_id"] else f"held: {data['hold_reason']}"
            typer.echo(
                f"{data['sequence']:>8}  {data['item']:<6} {data['value']!s:>10} {data['judgement']!s:<9} {where}"
            )


def register(app: typer.Typer) -> None:
    """Add the instrument commands to the `lims` app."""
    app.command("acquire")(acquire)
    app.command("readings")(readings)
