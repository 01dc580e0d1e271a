"""Sign-in and sign-out for pages: the bearer token kept in an HttpOnly cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from lims.api.deps import SessionDep
from lims.services import auth
from lims.services.errors import Unauthorized
from lims.web.common import CsrfChecked, Viewer, clear_session, page_router, redirect, render, safe_next, set_session

router = page_router()


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, me: Viewer, next: str = "") -> HTMLResponse:
    """The sign-in form for staff."""
    return render(request, "login.html", next=safe_next(next) if next else "", username="")


@router.post("/login", response_class=HTMLResponse, dependencies=[CsrfChecked])
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the credentials, keep the token in the session cookie and go on to the page asked for."""
    try:
        user = auth.authenticate(session, username, password)
    except Unauthorized:
        return render(request, "login.html", status_code=401, next=next, username=username, error=True)
    response = redirect(safe_next(next, auth.actor_for(user)))
    set_session(response, request, auth.issue_token(user))
    return response


@router.post("/logout", dependencies=[CsrfChecked])
def logout() -> Response:
    """Forget the sign-in and go to the home page."""
    response = redirect("/")
    clear_session(response)
    return response
