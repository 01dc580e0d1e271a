"""Plan commands: `lims plan generate` stores a month's plan version; `lims plan progress` shows planned vs done;
`lims plan day` prints the vehicle's day sheet (by default the district's today); `lims plan suggest` suggests a
month's plan weighted by risk and `lims plan accept` stores a suggestion as the month's next plan version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from lims import i18n
from lims.cli.common import fail, ready_engine, reporting_errors
from lims.i18n import _N
from lims.models.plans import PlanSuggestion, PlanVersion
from lims.services.access import districts
from lims.services.analysis import signals
from lims.services.core import clock, dates
from lims.services.core.audit import SYSTEM
from lims.services.samples import plan_suggestions, plans

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


@plan_app.command("suggest")
def suggest(
    month: Annotated[str, typer.Option(help="YYYY-MM: the month to plan")],
    district: Annotated[str | None, typer.Option(help="district code (default: the first one)")] = None,
    plan: Annotated[Path | None, typer.Option(help="base plan file (default: the district's current plan)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the suggestion as JSON")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the suggested plan as YAML")] = None,
    accept_it: Annotated[bool, typer.Option("--accept", help="store it as the month's next plan version")] = False,
) -> None:
    """Suggest the month's plan: the fixed minimums kept, the free capacity spread by recent risk."""
    engine = ready_engine()
    with reporting_errors(), Session(engine, expire_on_commit=False) as session:
        base = plans.load(plan) if plan else None
        actor = districts.acting_for(session, SYSTEM, district)
        row = plan_suggestions.suggest(session, actor, month, plan=base, extra_risk=signals.plan_risk(session, actor))
        session.commit()
        version = plan_suggestions.accept(session, actor, int(row.id or 0)) if accept_it else None
        session.commit()
    if output is not None:
        try:
            output.write_text(plan_suggestions.plan_yaml(row), encoding="utf-8")
        except OSError as exc:
            fail(i18n.render(_N("cannot write {path}: {exc}"), i18n.cli_language(), {"path": output, "exc": exc}))
    if as_json:
        data = plan_suggestions.public(row).model_dump(mode="json")
        data["accepted_version"] = version.number if version else None
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    _print_suggestion(row, version)


def _print_suggestion(row: PlanSuggestion, version: PlanVersion | None) -> None:
    lang = i18n.cli_language()
    cap = row.capacity
    base = cap.get("base") or {}
    if base.get("kind") == "version":
        origin = i18n.render(_N("from plan version {number} of {month}"), lang, base)
    elif base.get("kind") == "file":
        origin = i18n.gettext(_N("from the plan file"), lang)
    else:
        origin = i18n.gettext(_N("from the shipped plan"), lang)
    head = {"id": row.id, "month": row.month, "origin": origin}
    typer.echo(i18n.render(_N("suggestion {id}: plan for {month}, {origin}"), lang, head))
    typer.echo(
        i18n.render(
            _N(
                "{days} vehicle days × {samples_per_day} batches = {capacity}; reserve {reserve}; "
                "fixed minimums {minimums}; free {free}"
            ),
            lang,
            {**cap, "reserve": f"{cap.get('reserve_share', 0):.0%}"},
        )
    )
    typer.echo(plan_suggestions.reason_text(cap.get("note") or {}, lang))
    heads = [i18n.gettext(h, lang) for h in (_N("point"), _N("category"), _N("minimum"), _N("before"), _N("after"))]
    why = i18n.gettext(_N("why"), lang)
    typer.echo(f"{heads[0]:<6} {heads[1]:<14} {heads[2]:>7} {heads[3]:>6} {heads[4]:>6}  {why}")
    for change in row.changes:
        why = "; ".join(plan_suggestions.reason_text(r, lang) for r in change["reasons"])
        typer.echo(
            f"{change['point']:<6} {change['category']:<14} {change['minimum']:>7} {change['before']:>6} "
            f"{change['after']:>6}  {why}"
        )
    if version is not None:
        typer.echo(i18n.render(_N("accepted as plan version {number} of {month}"), lang, version.model_dump()))
    elif row.status == "open":
        typer.echo(i18n.render(_N("accept it with: lims plan accept {id}"), lang, {"id": row.id}))


@plan_app.command("accept")
def accept(
    suggestion: Annotated[int, typer.Argument(help="the suggestion's number", min=1, max=2**31 - 1)],
    district: Annotated[str | None, typer.Option(help="district code (default: the first one)")] = None,
) -> None:
    """Store a suggested plan as its month's next plan version (refused when it is stale or taken already)."""
    engine = ready_engine()
    with reporting_errors(), Session(engine, expire_on_commit=False) as session:
        actor = districts.acting_for(session, SYSTEM, district)
        version = plan_suggestions.accept(session, actor, suggestion)
        session.commit()
    lang = i18n.cli_language()
    typer.echo(i18n.render(_N("accepted as plan version {number} of {month}"), lang, version.model_dump()))


def register(app: typer.Typer) -> None:
    """Add the plan commands to the `lims` app."""
    app.add_typer(plan_app, name="plan")
