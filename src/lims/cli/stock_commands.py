"""Stock commands: `lims stock levels|lots|receive|accept|open|write-off|alerts|reconcile` for kit lots."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import typer
from sqlmodel import Session

from lims import i18n
from lims.cli.common import ready_engine, reporting_errors
from lims.i18n import _N
from lims.models.stock import StockLevel
from lims.services.access import districts
from lims.services.core import dates
from lims.services.core.audit import SYSTEM, Actor
from lims.services.lab import stock

stock_app = typer.Typer(no_args_is_help=True, help="Kit and reagent lots as stock.")
District = Annotated[str | None, typer.Option(help="district code (default: the first one)")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]


def _actor(session: Session, district: str | None) -> Actor:
    return districts.acting_for(session, SYSTEM, district)


def _day(text: str | None, name: str) -> date | None:
    return dates.day(text, name)


def _print_level(level: StockLevel, as_json: bool) -> None:
    if as_json:
        typer.echo(level.model_dump_json())
        return
    lang = i18n.cli_language()
    typer.echo(
        i18n.render(
            _N(
                "{lot} ({item_code}): {remaining} of {received} left, {acceptance}, expires {expires_on} "
                "({days} days), {rate} tests a day, runs out {runs_out}"
            ),
            lang,
            {
                "lot": level.lot,
                "item_code": level.item_code,
                "remaining": level.remaining,
                "received": level.received,
                "acceptance": i18n.gettext(ACCEPTANCE[level.acceptance], lang),
                "expires_on": level.expires_on.isoformat(),
                "days": level.days_to_expiry,
                "rate": level.tests_per_day,
                "runs_out": level.runs_out_on.isoformat() if level.runs_out_on else "-",
            },
        )
        + (" " + i18n.gettext(_N("[low]"), lang) if level.low else "")
        + (" " + i18n.gettext(_N("[near expiry]"), lang) if level.near_expiry else "")
        + (f" — {_refusal_text(level, lang)}" if level.refusal_code else "")
    )


def _refusal_text(level: StockLevel, lang: str) -> str:
    """Why the lot is refused now, in the reader's language."""
    return stock.refusal_text(level.refusal_code, level.refusal_params, lang) or level.refusal


ACCEPTANCE = {"pending": _N("awaiting acceptance"), "accepted": _N("accepted"), "rejected": _N("rejected")}


@stock_app.command("levels")
def levels(district: District = None, as_json: AsJson = False) -> None:
    """Every lot the district holds: units left, days to expiry, tests a day, when it runs out."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        found = stock.stock_levels(session, _actor(session, district))
    if as_json:
        typer.echo(json.dumps([json.loads(level.model_dump_json()) for level in found], ensure_ascii=False))
        return
    for level in found:
        _print_level(level, False)


@stock_app.command("lots")
def lots(district: District = None, as_json: AsJson = False) -> None:
    """Every kit lot not expired, with its id (to receive it) and whether the district holds it."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        found = stock.kit_lots(session, _actor(session, district))
    if as_json:
        typer.echo(json.dumps([json.loads(lot.model_dump_json()) for lot in found], ensure_ascii=False))
        return
    for lot in found:
        held = "*" if lot.held else " "
        typer.echo(f"{lot.id:>5} {held} {lot.item_code:<6} {lot.lot:<14} {lot.expires_on.isoformat()}")


@stock_app.command("receive")
def receive(
    kit_lot_id: int,
    quantity: Annotated[int, typer.Option(help="units received (cards, strips, reagent sets)")],
    received_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today)")] = None,
    min_units: Annotated[int | None, typer.Option(help="below this many units the stock is low")] = None,
    note: Annotated[str, typer.Option()] = "",
    district: District = None,
    as_json: AsJson = False,
) -> None:
    """Book a delivery of a kit lot into the district's stock (the first one waits for acceptance)."""
    engine = ready_engine()
    with reporting_errors(), Session(engine, expire_on_commit=False) as session:
        held = stock.receive(
            session,
            _actor(session, district),
            kit_lot_id,
            quantity,
            received_on=_day(received_on, "received_on"),
            min_units=min_units,
            note=note,
        )
        session.commit()
        _print_level(stock.level_of(session, held), as_json)


@stock_app.command("accept")
def accept(
    kit_lot_id: int,
    reject: Annotated[bool, typer.Option("--reject", help="the lot failed its check on receipt")] = False,
    note: Annotated[str, typer.Option(help="what was checked (needed to reject)")] = "",
    district: District = None,
    as_json: AsJson = False,
) -> None:
    """Record the lot's check on receipt: accepted, or rejected with --reject and a note."""
    engine = ready_engine()
    with reporting_errors(), Session(engine, expire_on_commit=False) as session:
        held = stock.accept(session, _actor(session, district), kit_lot_id, not reject, note)
        session.commit()
        _print_level(stock.level_of(session, held), as_json)


@stock_app.command("open")
def open_lot(
    kit_lot_id: int,
    opened_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today)")] = None,
    district: District = None,
    as_json: AsJson = False,
) -> None:
    """Record the day the lot was opened."""
    engine = ready_engine()
    with reporting_errors(), Session(engine, expire_on_commit=False) as session:
        held = stock.open_lot(session, _actor(session, district), kit_lot_id, _day(opened_on, "opened_on"))
        session.commit()
        _print_level(stock.level_of(session, held), as_json)


@stock_app.command("write-off")
def write_off(
    kit_lot_id: int,
    reason: Annotated[str, typer.Option(help="broken, qc, spoiled or other")],
    quantity: Annotated[int, typer.Option(help="units")],
    note: Annotated[str, typer.Option(help="what happened (needed for other)")] = "",
    district: District = None,
    as_json: AsJson = False,
) -> None:
    """Take units out of stock: broken, used for quality control, spoiled or other."""
    engine = ready_engine()
    with reporting_errors(), Session(engine, expire_on_commit=False) as session:
        held = stock.write_off(session, _actor(session, district), kit_lot_id, reason, quantity, note)
        session.commit()
        _print_level(stock.level_of(session, held), as_json)


@stock_app.command("alerts")
def alerts(district: District = None, as_json: AsJson = False) -> None:
    """Raise the low-stock and near-expiry conditions the district's lots are in now (once each; run daily) and
    list every condition raised."""
    engine = ready_engine()
    with reporting_errors(), Session(engine, expire_on_commit=False) as session:
        actor = _actor(session, district)
        stock.check_alerts(session, actor)
        session.commit()
        found = stock.alerts(session, actor, unread_only=False)
    rows: list[dict[str, Any]] = [{**n.__dict__, "raised_at": n.raised_at.isoformat()} for n in found]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    lang = i18n.cli_language()
    for row in rows:
        condition = i18n.gettext(CONDITIONS.get(row["condition"], row["condition"]), lang)
        typer.echo(f"{row['raised_at'][:10]} {row['lot']} ({row['item_code']}): {condition}")


CONDITIONS = {"low": _N("low stock"), "near_expiry": _N("near expiry")}


@stock_app.command("reconcile")
def reconcile(
    month: Annotated[str, typer.Argument(help="YYYY-MM")],
    district: District = None,
    as_json: AsJson = False,
) -> None:
    """The month's reconciliation per lot: opening balance, received, tests recorded, units consumed by tests, QC,
    written off by reason, closing balance and the difference named; exit 1 when it does not balance."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        report = stock.reconcile(session, _actor(session, district), month)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        lang = i18n.cli_language()
        for row in report.lots:
            named = ", ".join(f"{i18n.gettext(REASONS[k], lang)} {v}" for k, v in row.difference.items()) or "-"
            typer.echo(
                i18n.render(
                    _N(
                        "{lot} ({item_code}): opening {opening} + received {received} − tests {units_by_tests} "
                        "({tests_recorded} recorded) − written off {written_off} ({named}) = closing {closing}"
                    ),
                    lang,
                    {
                        **row.as_dict(),
                        "written_off": sum(row.difference.values()),
                        "named": named,
                    },
                )
            )
        typer.echo(i18n.gettext(_N("balanced") if report.balanced else _N("does not balance"), lang))
    if not report.balanced:
        raise typer.Exit(1)


REASONS = {"qc": _N("QC"), "broken": _N("broken"), "spoiled": _N("spoiled"), "other": _N("other")}


def register(app: typer.Typer) -> None:
    """Add the stock commands to the `lims` app."""
    app.add_typer(stock_app, name="stock")
