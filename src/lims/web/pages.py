"""Server-rendered pages: home, consumer trace page, warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from lims.api.deps import SessionDep
from lims.services import trace, warnings
from lims.services.errors import ServiceError
from lims.web.i18n import language, texts

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a template in the request's language and remember the choice."""
    lang = language(request)
    response = templates.TemplateResponse(
        request,
        name,
        {"t": texts(lang), "lang": lang, "other_lang": "en" if lang == "zh" else "zh", **context},
        status_code=status_code,
    )
    if request.query_params.get("lang") == lang:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> HTMLResponse:
    """The home page with a way in for each kind of user."""
    return render(request, "home.html", warnings=warnings.active(session)[:3])


@router.get("/trace", response_class=HTMLResponse)
def trace_form(request: Request, code: str = "") -> HTMLResponse:
    """The consumer's look-up form; a submitted code goes to its page."""
    if code.strip():
        return RedirectResponse(f"/trace/{code.strip()}", status_code=303)  # type: ignore[return-value]
    return render(request, "trace.html", record=None, code="")


@router.get("/trace/{code:path}", response_class=HTMLResponse)
def trace_page(request: Request, session: SessionDep, code: str) -> HTMLResponse:
    """The consumer's page for a code: product or sample, published results, warnings."""
    try:
        record = trace.trace(session, code)
    except ServiceError as exc:
        return render(request, "trace.html", status_code=exc.status_code, record=None, code=code, error=exc.reason)
    return render(request, "trace.html", record=record, code=code)
