"""Instrument commands: `lims acquire` stores what an instrument sends; `lims readings` lists it;
`lims readings import FILE --instrument SERIAL` stores the readings of an instrument's export file."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from instrument_drivers import family_registry
from lims.cli.common import fail, ready_engine, reporting_errors
from lims.i18n import cli_language
from lims.services.cases.files import Upload
from lims.services.core.audit import SYSTEM
from lims.services.lab import file_import
from lims.services.results import imports, ingest

readings_app = typer.Typer(
    invoke_without_command=True,
    help="What is stored for an instrument (`--instrument SERIAL`), or `import FILE` of its export.",
)


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


@readings_app.callback()
def readings(
    ctx: typer.Context,
    instrument: Annotated[str | None, typer.Option(help="instrument serial number")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per reading")] = False,
) -> None:
    """List what is stored for one instrument: judged results and held readings, by sequence number."""
    if ctx.invoked_subcommand is not None:
        return
    if not instrument:
        fail("give --instrument SERIAL (or `lims readings import FILE --instrument SERIAL`)")
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


@readings_app.command("import")
def import_readings(
    file: Annotated[Path, typer.Argument(help="the instrument's export file (CSV or .xlsx)")],
    instrument: Annotated[str, typer.Option(help="serial number of the instrument that exported it")],
    mapping: Annotated[
        str | None, typer.Option(help="column mapping name (default: the one saved for the instrument's model)")
    ] = None,
    preview: Annotated[bool, typer.Option("--preview", help="show what would be stored; store nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as one JSON object")] = False,
) -> None:
    """Judge and store the readings of an export file as live readings are; a file imported twice stores nothing
    twice. Lists the rows refused with their reasons; exits 1 when any row was refused."""
    try:
        with file.open("rb") as stream:
            data = stream.read(file_import.MAX_FILE_BYTES + 1)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    engine = ready_engine()
    lang = cli_language()
    with reporting_errors(), Session(engine) as session:
        upload = Upload(data, file.name)
        if preview:
            report = imports.preview(session, SYSTEM, instrument, upload, mapping)
        else:
            report = imports.import_file(session, SYSTEM, instrument, upload, mapping)
        session.commit()
    if as_json:
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        for row in report.rows:
            if row.state in {"rejected", "held"}:
                why = row.problem.text(lang) if row.problem else row.reason
                typer.echo(f"line {row.line}: {row.state}: {why}")
        counts = {s: report.count(s) for s in ("stored", "duplicate", "held", "rejected", "new")}
        typer.echo(" ".join(f"{k}={v}" for k, v in counts.items() if v or k == "stored"))
    if report.count("rejected"):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the instrument commands to the `lims` app."""
    app.command("acquire")(acquire)
    app.add_typer(readings_app, name="readings")
