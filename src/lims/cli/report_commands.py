"""Report commands: `lims report month YYYY-MM --format pdf|xlsx|html -o FILE` for a district or the province."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from lims import i18n
from lims.cli.common import fail, ready_engine, reporting_errors
from lims.i18n import _N
from lims.services.core import dates
from lims.services.core.audit import SYSTEM
from lims.services.core.errors import Invalid
from lims.services.reports import month, workbook
from lims.web import reports

report_app = typer.Typer(no_args_is_help=True, help="Reports made from the record.")


class Format(StrEnum):
    """The forms a report is written in."""

    PDF = "pdf"
    XLSX = "xlsx"
    HTML = "html"


@report_app.command("month")
def month_report(
    month_text: Annotated[str, typer.Argument(metavar="YYYY-MM", help="the district's local month")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the file to write")],
    form: Annotated[Format, typer.Option("--format", help="pdf, xlsx or html")] = Format.PDF,
    district: Annotated[str | None, typer.Option(help="district code (default: the first one)")] = None,
    every_district: Annotated[
        bool, typer.Option("--all", help="every district of the database (the province)")
    ] = False,
    lang: Annotated[str | None, typer.Option(help="zh or en (default: LIMS_LANG, then LANG, then zh)")] = None,
) -> None:
    """The monthly quick-test report: the month and the year so far, 同比 and 环比, coverage, cases, QC, stock."""
    language = lang if lang in i18n.LANGUAGES else i18n.cli_language()
    if district and every_district:
        fail(i18n.gettext(_N("give --district or --all, not both"), language), 2)
    try:
        dates.month(month_text)
    except Invalid as exc:
        fail(exc.text(i18n.cli_language()), 2)
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        report = month.monthly_report(session, SYSTEM, month_text, district_code=district, province=every_district)
    if form is Format.PDF:
        data = reports.pdf(report, language)
    elif form is Format.XLSX:
        data = workbook.workbook(report, language)
    else:
        data = reports.document(report, language).encode()
    try:
        output.write_bytes(data)
    except OSError as exc:
        fail(
            i18n.render(
                _N("cannot write {path}: {reason}"),
                i18n.cli_language(),
                {"path": str(output), "reason": exc.strerror or str(exc)},
            )
        )
    typer.echo(str(output))


def register(app: typer.Typer) -> None:
    """Add the `report` command group to the CLI."""
    app.add_typer(report_app, name="report")
