"""Sharing commands: `lims export open-data` (published results of a day or month) and `lims webhooks …`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from lims import i18n
from lims.cli.common import fail, ready_engine, reporting_errors
from lims.i18n import _N
from lims.services.access import districts
from lims.services.core.audit import SYSTEM
from lims.services.public import open_data
from lims.services.sharing import delivery, subscriptions

export_app = typer.Typer(no_args_is_help=True, help="Exports for other platforms.")
webhooks_app = typer.Typer(no_args_is_help=True, help="Signed webhooks to subscribed platforms.")


@export_app.command("open-data")
def export_open_data(
    month: Annotated[str | None, typer.Option(help="a local month, YYYY-MM")] = None,
    day: Annotated[str | None, typer.Option(help="a local day, YYYY-MM-DD")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv (UTF-8 with BOM) or json")] = "csv",
    district: Annotated[str | None, typer.Option(help="a district code (default: every district)")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="the file to write; - for standard output")] = Path(
        "-"
    ),
) -> None:
    """Write the published results of a local day or month (docs/open-data.md)."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        chosen_format = open_data.check_format(fmt)
        chosen = open_data.period(session, day=day, month=month, district=district)
    if str(output) == "-":
        for piece in open_data.chunks(engine, chosen, chosen_format):
            sys.stdout.buffer.write(piece)
        sys.stdout.buffer.flush()
        return
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("wb") as handle:
            for piece in open_data.chunks(engine, chosen, chosen_format):
                handle.write(piece)
        partial.replace(output)  # a reader never sees half a file
    except OSError as exc:
        partial.unlink(missing_ok=True)
        fail(i18n.render(_N("cannot write {path}: {reason}"), i18n.cli_language(), {"path": output, "reason": exc}))


@webhooks_app.command("deliver")
def webhooks_deliver(
    loop: Annotated[bool, typer.Option("--loop", help="keep delivering until stopped (Ctrl-C)")] = False,
    interval: Annotated[float, typer.Option(min=1, max=3600, help="seconds between runs with --loop")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="print each run's report as JSON")] = False,
) -> None:
    """Send every webhook delivery that is due now (once, or with --loop every few seconds)."""
    engine = ready_engine()
    lang = i18n.cli_language()
    while True:
        report = delivery.deliver_due(engine)
        if as_json:
            typer.echo(json.dumps(report.as_dict()))
        elif report.attempted or not loop:
            typer.echo(
                i18n.render(
                    _N("{attempted} tried: {delivered} delivered, {retrying} to retry, {failed} given up"),
                    lang,
                    report.as_dict(),
                )
            )
        if not loop:
            return
        if report.attempted < delivery.BATCH:
            time.sleep(interval)


@webhooks_app.command("list")
def webhooks_list(
    district: Annotated[str | None, typer.Option(help="district code (default: the first one)")] = None,
) -> None:
    """Every webhook subscription of the district as JSON lines (never with its secret)."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        actor = districts.acting_for(session, SYSTEM, district)
        for row in subscriptions.listing(session, actor):
            typer.echo(row.model_dump_json())


def register(app: typer.Typer) -> None:
    """Add the `export` and `webhooks` command groups to the `lims` command."""
    app.add_typer(export_app, name="export")
    app.add_typer(webhooks_app, name="webhooks")
