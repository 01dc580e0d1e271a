"""`lims seed`: a province with a long history of quick tests, written in bulk, for benchmarks and trials."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from lims import i18n
from lims.cli.common import fail, reporting_errors
from lims.db import get_engine, make_engine
from lims.i18n import _N
from lims.services.core import schema
from lims.services.demo import province

console = Console(stderr=True)


def seed_command(
    districts: Annotated[int, typer.Option(help=f"districts, 1..{province.MAX_DISTRICTS}")] = 12,
    days: Annotated[int, typer.Option(help=f"days of history ending today, 1..{province.MAX_DAYS}")] = 365,
    samples_per_day: Annotated[
        int, typer.Option(help=f"samples a district takes a day, 1..{province.MAX_SAMPLES_PER_DAY}")
    ] = 80,
    seed: Annotated[int, typer.Option(help="the random seed: the same seed writes the same rows")] = 12315,
    db: Annotated[str | None, typer.Option("--db", help="database URL (default: LIMS_DATABASE_URL)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as one JSON object")] = False,
) -> None:
    """Write a province into an empty database: districts with their stations, points, accounts and stock, and
    `--days` of samples, results, reviews, publications, cases, controls and the stock ledger, with their audit
    trail (`lims audit verify` passes on it). The accounts get the demo's published passwords."""
    with reporting_errors():
        province.check_arguments(districts, days, samples_per_day)
    if db is not None and not db.startswith(("sqlite:", "postgresql")):
        fail(i18n.render(_N("--db must be a sqlite:/// or postgresql+psycopg:// URL"), i18n.cli_language()))
    engine = make_engine(db) if db else get_engine()
    with reporting_errors():
        schema.bring_up_to_date(engine)
        summary = province.seed_province(
            engine,
            districts=districts,
            days=days,
            samples_per_day=samples_per_day,
            seed=seed,
            progress=None if as_json else lambda code, day, total: console.print(f"{code} day {day}/{total}", end="\r"),
        )
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), ensure_ascii=False))
        return
    console.print(
        f"seeded {len(summary.districts)} districts, {summary.days} days ({summary.first_day}..{summary.last_day}): "
        f"{summary.samples} samples, {summary.results} results, {summary.cases} cases, {summary.controls} controls, "
        f"{summary.movements} stock movements, {summary.events} audit events; seconds {summary.seconds}"
    )
    console.print("  try: " + ", ".join(f"/trace/{code}" for code in summary.trace_codes[:3]))


def register(app: typer.Typer) -> None:
    """Add the `seed` command to the CLI."""
    app.command("seed")(seed_command)
