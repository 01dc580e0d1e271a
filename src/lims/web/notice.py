"""The results notice (快速检测结果告知书) of a positive case: a printable page and the same notice as a PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from lims.api.deps import RowId, SessionDep
from lims.models.common import Role
from lims.services.cases import files, notice, procedure
from lims.services.core.audit import Actor
from lims.web.common import page_router, render, role_page

router = page_router()
Staff = Annotated[Actor, Depends(role_page(Role.STATION, Role.REVIEWER, Role.ADMIN, Role.TESTER))]
STYLE = Path(__file__).parent / "static" / "notice.css"


@router.get("/cases/{case_id}/notice", response_class=HTMLResponse)
def notice_page(request: Request, session: SessionDep, actor: Staff, case_id: RowId) -> HTMLResponse:
    """The notice as a page to print and hand over."""
    return render(request, "notice.html", n=notice.notice_of(session, actor, case_id), pdf=False)


@router.get("/cases/{case_id}/notice.pdf")
def notice_pdf(request: Request, session: SessionDep, actor: Staff, case_id: RowId) -> Response:
    """The notice as an A4 PDF (WeasyPrint, with a CJK font so the Chinese prints)."""
    from weasyprint import CSS, HTML  # imported when asked for: it loads Pango

    page = render(request, "notice.html", n=notice.notice_of(session, actor, case_id), pdf=True)
    data = HTML(string=bytes(page.body).decode()).write_pdf(stylesheets=[CSS(filename=str(STYLE))])
    assert data is not None
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="notice-case-{case_id}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/cases/{case_id}/files/{file_id}")
def case_file(session: SessionDep, actor: Staff, case_id: RowId, file_id: RowId) -> Response:
    """A file of a case (the lab report, a photo) for the district's staff, checked against its SHA-256."""
    case = procedure.get_for(session, actor, case_id)
    row, data = files.download(session, actor, case, file_id)
    return Response(
        data,
        media_type=row.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{files.download_name(row)}"',
            "X-Content-SHA256": row.sha256,
            "Cache-Control": "no-store",
        },
    )
