"""Sign-in and sign-out for pages: the bearer token kept in an HttpOnly cookie; sign-out revokes it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from lims.api.deps import ClientAddress, SessionDep, ThrottleDep
from lims.services.access import auth
from lims.services.core.errors import Busy, TooManyRequests, Unauthorized
from lims.web.common import (
    SESSION_COOKIE,
    CsrfChecked,
    Viewer,
    clear_session,
    page_router,
    redirect,
    render,
    safe_next,
    set_session,
)

router = page_router()


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, me: Viewer, next: str = "") -> HTMLResponse:
    """The sign-in form for staff."""
    return render(request, "login.html", next=safe_next(next) if next else "", username="")


@router.post("/login", response_class=HTMLResponse, dependencies=[CsrfChecked])
def login(
    request: Request,
    session: SessionDep,
    throttle: ThrottleDep,
    address: ClientAddress,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the credentials, keep the token in the session cookie and go on to the page asked for."""
    try:
        signed_in = auth.sign_in(session, throttle, username, password, address)
    except Unauthorized:
        return render(request, "login.html", status_code=401, next=next, username=username, error=True)
    except (TooManyRequests, Busy) as exc:
        locked = isinstance(exc, TooManyRequests)
        page = render(
            request,
            "login.html",
            status_code=exc.status_code,
            next=next,
            username=username,
            error="locked" if locked else "busy",
            minutes=str(max(1, round((exc.retry_after or 60) / 60))),
        )
        page.headers["Retry-After"] = str(exc.retry_after or 1)
        return page
    session.commit()
    response = redirect(safe_next(next, auth.actor_for(signed_in.user)))
    set_session(response, request, signed_in.token)
    return response


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, session: SessionDep) -> Response:
    """Revoke the sign-in (its token stops working everywhere at once) and go to the home page."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and auth.sign_out(session, token):
        session.commit()
    response = redirect("/")
    clear_session(response)
    return response
