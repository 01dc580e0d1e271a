"""`lims qc …`: record a control run, see where a lot's controls stand, its history and Levey-Jennings chart,
the blind samples' scores and the method verification figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlmodel import Session, select

from lims.cli.common import fail, ready_engine, reporting_errors
from lims.i18n import cli_language
from lims.models import User
from lims.models.common import Role
from lims.models.qc import ControlSubmit
from lims.services.access import auth, districts
from lims.services.core import dates
from lims.services.core.audit import SYSTEM, Actor
from lims.services.lab import qc, verification
from lims.services.results import ingest

qc_app = typer.Typer(no_args_is_help=True, help="Quality control: control runs, holds, charts, blind samples.")
blind_app = typer.Typer(no_args_is_help=True, help="Blind (proficiency) samples.")
qc_app.add_typer(blind_app, name="blind")

DistrictOption = Annotated[str | None, typer.Option(help="district code (default: the first one)")]
JsonOption = Annotated[bool, typer.Option("--json", help="one JSON object per line")]


def _figures(pairs: list[str]) -> dict[str, float]:
    figures: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            figures[name.strip()] = float(value)
        except ValueError:
            fail(f"--raw takes NAME=NUMBER, got {pair!r}")
        if not sep or not name.strip():
            fail(f"--raw takes NAME=NUMBER, got {pair!r}")
    return figures


def _tester(session: Session, district: Actor, username: str | None) -> Actor:
    if username is None:
        return ingest.gateway_actor(session, int(district.district_id or 0))
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or user.role != Role.TESTER or user.district_id != district.district_id:
        fail(f"no tester {username!r} in this district")
    return auth.actor_for(user)


def _echo(rows: list[Any], as_json: bool, line: Any) -> None:
    for row in rows:
        typer.echo(json.dumps(row.model_dump(mode="json"), ensure_ascii=False) if as_json else line(row))


@qc_app.command("record")
def record(
    item: Annotated[str, typer.Argument(help="item code, e.g. CLB")],
    kind: Annotated[str, typer.Argument(help="negative | positive | blank | spiked | standard")],
    raw: Annotated[list[str], typer.Option("--raw", help="a raw figure NAME=NUMBER (repeat)")],
    lot: Annotated[str | None, typer.Option(help="kit lot number")] = None,
    expected: Annotated[float | None, typer.Option(help="a standard's known concentration")] = None,
    category: Annotated[str | None, typer.Option(help="the food category a control card is read for")] = None,
    tester: Annotated[
        str | None, typer.Option(help="recorded as this tester (default: the instrument gateway)")
    ] = None,
    district: DistrictOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a control run; it is judged at once and holds or releases its lot's results of the day."""
    try:
        data = ControlSubmit.model_validate(
            {
                "item_code": item,
                "kind": kind,
                "raw": _figures(raw),
                "kit_lot": lot,
                "expected": expected,
                "category_code": category,
            }
        )
    except ValidationError as exc:
        fail(f"not accepted: {'; '.join(str(e.get('msg', '')) for e in exc.errors()[:3])}")
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        actor = _tester(session, districts.acting_for(session, SYSTEM, district), tester)
        run = qc.record(session, actor, data)
        session.commit()
        view = qc.views(session, [run], cli_language())[0]
    if as_json:
        typer.echo(json.dumps(view.model_dump(mode="json"), ensure_ascii=False))
    else:
        typer.echo(
            f"{'PASS' if view.passed else 'FAIL'}  {view.item_code} {view.kit_lot or '-'} {view.kind}: {view.reason}"
        )
    if not view.passed:
        raise typer.Exit(2)


@qc_app.command("status")
def status(
    item: Annotated[str, typer.Argument(help="item code")],
    lot: Annotated[str | None, typer.Option(help="kit lot number")] = None,
    day: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: the district's today)")] = None,
    district: DistrictOption = None,
) -> None:
    """Which controls an item and lot need on a day, which passed, and how many results they hold."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        actor = districts.acting_for(session, SYSTEM, district)
        found = qc.status(session, actor, item, lot, dates.day(day, "day"))
    typer.echo(json.dumps(found.model_dump(mode="json"), ensure_ascii=False))


@qc_app.command("history")
def history(
    item: Annotated[str | None, typer.Option(help="item code")] = None,
    lot: Annotated[str | None, typer.Option(help="kit lot number")] = None,
    kind: Annotated[str | None, typer.Option(help="kind of control")] = None,
    limit: Annotated[int, typer.Option(min=1, max=qc.MAX_HISTORY)] = 50,
    district: DistrictOption = None,
    as_json: JsonOption = False,
) -> None:
    """The district's control runs, newest first."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        actor = districts.acting_for(session, SYSTEM, district)
        lot_id = qc.lot_by_code(session, lot, item).id if lot else None
        runs = qc.history(session, actor, lot_id=lot_id, item_code=None if lot else item, kind=kind, limit=limit)
        views = qc.views(session, runs, cli_language())
    _echo(
        views,
        as_json,
        lambda v: (
            f"{v.tested_at:%Y-%m-%d %H:%M} {'PASS' if v.passed else 'FAIL'} {v.item_code} {v.kit_lot or '-'} "
            f"{v.kind} {'' if v.value is None else f'{v.value:.4g}'} {' '.join(v.westgard)}".rstrip()
        ),
    )


@qc_app.command("chart")
def chart(
    lot: Annotated[str, typer.Argument(help="kit lot number")],
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="SVG file to write")],
    item: Annotated[str | None, typer.Option(help="item code, when two items share the lot number")] = None,
    kind: Annotated[str | None, typer.Option(help="kind of control")] = None,
    district: DistrictOption = None,
) -> None:
    """Write the lot's Levey-Jennings chart (SVG) of its quantitative controls."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        actor = districts.acting_for(session, SYSTEM, district)
        kit = qc.lot_by_code(session, lot, item)
        svg = qc.chart_svg(session, actor, int(kit.id or 0), kind, cli_language())
    try:
        out.write_text(svg, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    typer.echo(str(out))


@qc_app.command("verify")
def verify(
    item: Annotated[str | None, typer.Option(help="item code")] = None,
    since: Annotated[str | None, typer.Option(help="YYYY-MM-DD: pairs from this local date on")] = None,
    district: DistrictOption = None,
) -> None:
    """Sensitivity, specificity, false-positive and false-negative rates per item and kit maker (JSON lines)."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        actor = districts.acting_for(session, SYSTEM, district)
        rows = verification.compute(session, actor, item_code=item, since=dates.day(since, "since"))
    _echo(rows, True, str)


@blind_app.command("list")
def blind_list(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    district: DistrictOption = None,
) -> None:
    """The blind samples with their true values and scores (JSON lines; for administrators)."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        actor = districts.acting_for(session, SYSTEM, district)
        rows = qc.blind_list(session, actor, limit)
    _echo(rows, True, str)


def register(app: typer.Typer) -> None:
    """Add the quality-control commands to the `lims` app."""
    app.add_typer(qc_app, name="qc")
