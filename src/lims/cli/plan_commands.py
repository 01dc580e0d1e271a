"""Plan commands: `lims plan generate` stores a month's plan version; `lims plan progress` shows planned vs done;
`lims plan day` prints the vehicle's day sheet (by default the district's today)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from lims import i18n
from lims.cli.common import ready_engine, reporting_errors
from lims.i18n import _N
from lims.services.access import districts
from lims.services.core import clock, dates
from lims.services.core.audit import SYSTEM
from lims.services.samples import plans

plan_app = typer.Typer(no_args_is_help=True, help="Monthly sampling plans (定期定项定批定点).")


@plan_app.command("generate")
def generate(
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    plan: Annotated[Path | None, typer.Option(help="plan file (default: the shipped district plan)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the schedule as JSON")] = False,
    district: Annotated[str | None, typer.Option(help="district code (default: the first one)")] = None,
) -> None:
    """Generate the month's dated tasks from the plan and store them as a new plan version."""
    engine = ready_engine()
    with reporting_errors(), Session(engine, expire_on_commit=False) as session:
        loaded = plans.load(plan)
        actor = districts.acting_for(session, SYSTEM, district)
        version, schedule = plans.generate(session, actor, loaded, month)
        session.commit()
    if as_json:
        typer.echo(schedule.to_json())
        return
    typer.echo(
        f"stored plan version {version.number} for {version.month}: {len(schedule.tasks)} tasks on "
        f"{len(schedule.working_days)} working days, {len(schedule.shortfalls)} shortfalls"
    )
    for short in schedule.shortfalls:
        typer.echo(f"  short: {short.point} {short.item} {short.category} {short.batches} ({short.reason})")


@plan_app.command("progress")
def progress(
    month: Annotated[str | None, typer.Option(help="YYYY-MM (default: the district's current month)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    district: Annotated[str | None, typer.Option(help="district code (default: the first one)")] = None,
) -> None:
    """Planned against done batches per point and item, and overdue visits carried to the next working day."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        actor = districts.acting_for(session, SYSTEM, district)
        if month is None:
            year, number = clock.this_month(clock.zone_of(session, actor.district_id))
            month = f"{year}-{number:02d}"
        rows, overdue = plans.progress(session, actor, month)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "progress": [r.model_dump(mode="json") for r in rows],
                    "overdue": [t.model_dump(mode="json") for t in overdue],
                },
                ensure_ascii=False,
            )
        )
        return
    typer.echo(f"{'point':<6} {'item':<6} {'planned':>7} {'done':>5} {'left':>5}")
    for r in rows:
        typer.echo(f"{r.point_code:<6} {r.item_code:<6} {r.planned:>7} {r.done:>5} {r.remaining:>5}")
    for t in overdue:
        typer.echo(
            f"OVERDUE {t.carried_from} {t.point_code}: {t.samples_registered}/{sum(t.batches.values())} "
            f"batches; carried to {t.carried_to or 'the next working day (beyond the holiday calendar)'}"
        )


@plan_app.command("day")
def day_sheet(
    day: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: the district's today)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    district: Annotated[str | None, typer.Option(help="district code (default: the first one)")] = None,
) -> None:
    """The vehicle's tasks for a day in route order: urgent tests, planned visits, carried-over visits."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        actor = districts.acting_for(session, SYSTEM, district)
        chosen = dates.day(day, "day") or plans.today(session, actor)
        sheet = plans.day_sheet(session, actor, chosen)
    if as_json:
        typer.echo(json.dumps([t.model_dump(mode="json") for t in sheet], ensure_ascii=False))
        return
    lang = i18n.cli_language()
    typer.echo(i18n.render(_N("{day}: {count} tasks"), lang, {"day": chosen.isoformat(), "count": len(sheet)}))
    for t in sheet:
        batches = {"done": t.samples_registered, "planned": sum(t.batches.values())}
        line = i18n.render(_N("{done}/{planned} batches"), lang, batches)
        if t.carried_from:
            line += " " + i18n.render(_N("(carried from {day})"), lang, {"day": t.carried_from})
        typer.echo(f"{t.kind:<8} {t.point_code:<6} {line}")


def register(app: typer.Typer) -> None:
    """Add the plan commands to the `lims` app."""
    app.add_typer(plan_app, name="plan")
