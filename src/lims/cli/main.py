"""The `lims` command: demo, serve, database, users, reference data, audit, and the instrument and label tools."""

from __future__ import annotations

import importlib
import json
import os
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlmodel import Session

from lims import i18n
from lims.cli.common import fail, ready_engine, reporting_errors
from lims.cli.demo_instruments import simulated_instruments
from lims.db import dispose_engines, get_engine
from lims.i18n import _N
from lims.services.core import audit_checkpoints, audit_keys, clock, dates, schema
from lims.services.core.audit import SYSTEM
from lims.services.demo import builder
from lims.services.reference import citations, reference_data
from lims.services.sync import guard
from lims.settings import SettingsError, get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Food quick-test LIMS.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
reference_app = typer.Typer(no_args_is_help=True, help="Reference data (stations, points, items, limits, kits).")
app.add_typer(db_app, name="db")
app.add_typer(reference_app, name="reference")
console = Console(stderr=True)

# Command groups living in their own modules; each exposes `register(app)`.
COMMAND_MODULES = (
    "lims.cli.audit_commands",
    "lims.cli.barcode_commands",
    "lims.cli.instrument_commands",
    "lims.cli.plan_commands",
    "lims.cli.qc_commands",
    "lims.cli.report_commands",
    "lims.cli.simulator_commands",
    "lims.cli.stock_commands",
    "lims.cli.registry_commands",
    "lims.cli.seed_commands",
    "lims.cli.sharing_commands",
    "lims.cli.user_commands",
    "lims.cli.node_commands",
)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database."""
    with reporting_errors():
        schema.upgrade(get_engine())
    typer.echo("database is up to date")


@reference_app.command("load")
def reference_load(
    folder: Annotated[
        Path | None, typer.Option(help="folder with items.yaml and district files (district.yaml, districts/*.yaml)")
    ] = None,
) -> None:
    """Apply the reference data files (default: the shipped ones); every change is audited."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        report = reference_data.load_reference(session, SYSTEM, folder)
        session.commit()
    typer.echo(json.dumps({"created": report.created, "changed": report.changed, "unchanged": report.unchanged}))


@reference_app.command("check")
def reference_check(
    folder: Annotated[Path | None, typer.Option(help="folder with items.yaml (default: the shipped one)")] = None,
    on: Annotated[
        str | None, typer.Option(help="YYYY-MM-DD: the day the citations must be in force (default: today)")
    ] = None,
) -> None:
    """List every item, method, limit and kit lot without a source, and every citation superseded on the day;
    exit 1 when anything is listed."""
    lang = i18n.cli_language()
    with reporting_errors():
        day = dates.day(on, "on")
        findings = citations.check(folder, day)
    for finding in findings:
        typer.echo(i18n.render_message(finding.message, lang))
    if findings:
        typer.echo(i18n.render(_N("{count} citation problems"), lang, {"count": len(findings)}), err=True)
        raise typer.Exit(1)
    typer.echo(i18n.render(_N("every item, method, limit and kit lot cites a source in force"), lang))


def _fresh_sqlite() -> None:
    """Move the default SQLite database aside (never delete it) so the demo starts fresh; a database named
    by LIMS_DATABASE_URL is left where it is (and checked for other data)."""
    settings = get_settings()
    url = settings.resolved_database_url()
    if settings.database_url or not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    if path.exists():
        dispose_engines()
        stamp = clock.now().strftime("%Y%m%dT%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            old = Path(f"{path}{suffix}")
            if old.exists():
                shutil.move(old, old.with_name(f"{path.stem}.{stamp}{path.suffix}{suffix}"))
        checkpoints = audit_checkpoints.checkpoint_file()  # they vouch for the database moved aside
        if checkpoints.exists():
            shutil.move(checkpoints, checkpoints.with_name(f"{checkpoints.stem}.{stamp}{checkpoints.suffix}"))


@app.command("demo")
def demo_command(
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="serve the API and pages afterwards")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as one JSON object")] = False,
    days: Annotated[int, typer.Option(min=1, max=3650, help="days of work to simulate, ending today")] = 1,
    samples_per_day: Annotated[int, typer.Option(min=10, max=999)] = 30,
    host: str = "127.0.0.1",
    port: int = 8000,
    force: Annotated[
        bool, typer.Option("--force", help="add the demo's accounts even to a database that holds other data")
    ] = False,
) -> None:
    """Run the main job on a fresh database: reference data, users, samples, results, review, publication.

    The demo's accounts have published passwords: on a configured database that holds other data it
    refuses (and writes nothing) unless told --force.
    """
    _fresh_sqlite()
    reason = None if force else builder.foreign_data(get_engine())
    if reason:
        fail(
            f"{reason}. The demo adds accounts whose passwords are published (tester, reviewer, station, "
            "admin): use an empty database, or --force to add them anyway"
        )
    engine = ready_engine()
    with reporting_errors():
        summary = builder.run_demo(
            engine,
            instruments=simulated_instruments(engine),
            days=days,
            samples_per_day=samples_per_day,
            progress=None if as_json or days == 1 else lambda d, n: console.print(f"day {d}/{n}", end="\r"),
        )
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), ensure_ascii=False))
    else:
        console.print(f"[bold]Demo done[/bold] on {engine.url.render_as_string(hide_password=True)}")
        console.print(
            f"  {summary.samples} samples, {summary.results} results, {summary.positives} suspected "
            f"positives, {summary.published} published, {summary.rejected} rejected for retest"
        )
        console.print(
            f"  quality control: {summary.controls} control runs, {summary.qc_failed} failed, "
            f"{summary.held_results} results held until the controls were repeated"
        )
        console.print(
            "  users: " + ", ".join(f"{u} / {p} ({summary.accounts.get(u, '')})" for u, p in summary.users.items())
        )
        console.print("  try: " + ", ".join(f"/trace/{c}" for c in summary.trace_codes[:3]))
        if summary.case_examples:
            console.print("  positive cases: " + ", ".join(f"{k} /trace/{c}" for k, c in summary.case_examples.items()))
    if serve:
        serve_command(host=host, port=port)


@app.command("serve")
def serve_command(
    host: str = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="worker processes (uvicorn), each with its own connections")
    ] = 1,
) -> None:
    """Serve the API and pages (Ctrl-C stops)."""
    import uvicorn

    ready_engine()
    settings = get_settings()
    settings.resolved_secret_key()  # refuse a short key file before the workers start
    with reporting_errors():  # a missing or short audit key stops here, not at the first request
        audit_keys.event_key()
    console.print(f"serving on http://{host}:{port}/  (API docs at /docs), {workers} worker(s)")
    if workers > 1 and settings.resolved_throttle_storage_url().startswith("memory"):
        console.print(
            "[yellow]each worker counts sign-in attempts and downloads on its own: set LIMS_REDIS_URL so they "
            "share the counters[/yellow]"
        )
    # Forwarded headers are judged by the application against LIMS_TRUSTED_PROXIES (sign-in throttling,
    # HSTS), never rewritten by uvicorn on its own list.
    uvicorn.run(
        "lims.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        proxy_headers=False,
    )


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def run() -> None:
    """Entry point of the `lims` console script."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    guard.install()  # on a vehicle node, no command may change what the centre owns
    try:
        app()
    except SettingsError as exc:
        typer.echo(f"lims: configuration: {exc}", err=True)
        raise SystemExit(2) from None
