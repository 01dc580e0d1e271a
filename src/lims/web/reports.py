"""The monthly quick-test report for reviewers and stations: the page, its charts, the same report as PDF and XLSX."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from lims.api.deps import SessionDep
from lims.i18n import _N
from lims.models.common import Role
from lims.services.core import clock
from lims.services.core.audit import Actor
from lims.services.core.errors import NotFound
from lims.services.reports import charts, workbook
from lims.services.reports.month import MonthReport, month_key, monthly_report, shift
from lims.web.common import local_time, page_router, render, role_page, templates
from lims.web.i18n import language

router = page_router()
Reader = Annotated[Actor, Depends(role_page(Role.REVIEWER, Role.STATION))]
Month = Annotated[str | None, Query(max_length=20)]
STYLE = Path(__file__).parent / "static" / "report.css"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def default_month(session: Session, actor: Actor) -> str:
    """The month a report opens on: the one before the district's current local month (the last complete one)."""
    year, month = clock.this_month(clock.zone_of(session, actor.district_id))
    return month_key(*shift(year, month, -1))


def _context(report: MonthReport, lang: str, chart_src: dict[str, str]) -> dict[str, Any]:
    return {
        "lang": lang,
        "r": report,
        "charts": chart_src,
        "chart_titles": charts.TITLES,
        "areas": workbook.AREAS,
        "made_at": local_time(report.generated_at, zone=clock.zone(report.zone)),
    }


def document(report: MonthReport, lang: str) -> str:
    """The report as a standalone HTML document for print (charts embedded as SVG data), as the PDF is made from."""
    embedded = {
        name: "data:image/svg+xml;base64," + base64.b64encode(charts.draw(report, name, lang).encode()).decode()
        for name in charts.NAMES
    }
    return templates.get_template("report_print.html").render(**_context(report, lang, embedded))


def pdf(report: MonthReport, lang: str) -> bytes:
    """The report as an A4 PDF with page numbers (WeasyPrint, from the same template as the page)."""
    from weasyprint import CSS, HTML  # imported when asked for: it loads Pango

    data = HTML(string=document(report, lang)).write_pdf(stylesheets=[CSS(filename=str(STYLE))])
    assert isinstance(data, bytes)
    return data


def _report(session: Session, actor: Actor, month: str | None) -> MonthReport:
    return monthly_report(session, actor, month or default_month(session, actor))


def _download(data: bytes, media_type: str, name: str) -> Response:
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"},
    )


@router.get("/reports/month", response_class=HTMLResponse)
def month_page(request: Request, session: SessionDep, actor: Reader, month: Month = None) -> HTMLResponse:
    """The month's report as a page, with a month picker and links to the PDF and the spreadsheet."""
    report = _report(session, actor, month)
    query = f"month={report.month}"
    sources = {name: f"/reports/month/{name}.svg?{query}&amp;lang={language(request)}" for name in charts.NAMES}
    context = _context(report, language(request), sources)
    del context["lang"]
    return render(request, "report_month.html", query=query, **context)


@router.get("/reports/month.pdf")
def month_pdf(request: Request, session: SessionDep, actor: Reader, month: Month = None) -> Response:
    """The month's report as an A4 PDF."""
    report = _report(session, actor, month)
    return _download(pdf(report, language(request)), "application/pdf", f"report-{report.month}.pdf")


@router.get("/reports/month.xlsx")
def month_xlsx(request: Request, session: SessionDep, actor: Reader, month: Month = None) -> Response:
    """The month's report as a spreadsheet, one sheet per table."""
    report = _report(session, actor, month)
    return _download(workbook.workbook(report, language(request)), XLSX, f"report-{report.month}.xlsx")


@router.get("/reports/month/{name}.svg")
def month_chart(request: Request, session: SessionDep, actor: Reader, name: str, month: Month = None) -> Response:
    """One of the report's charts, for the page."""
    if name not in charts.NAMES:
        raise NotFound("reports.no_chart", _N("no chart named {name!r}"), name=name[:40])
    report = _report(session, actor, month)
    svg = charts.draw(report, name, language(request))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, no-store"})
