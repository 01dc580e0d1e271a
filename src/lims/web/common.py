"""What every page shares: templates, rendering, the sign-in cookie, role checks, CSRF and error pages."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRouter
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.convertors import PathConvertor
from starlette.exceptions import HTTPException
from starlette.routing import Route

from lims.api.deps import SessionDep
from lims.api.errors import classify, validation_problems
from lims.api.limits import BoundedFormRoute
from lims.i18n import _N
from lims.models.common import Role
from lims.services.access import auth
from lims.services.cases import notifications
from lims.services.core import clock
from lims.services.core.audit import Actor
from lims.services.core.errors import Forbidden, ServiceError
from lims.settings import get_settings
from lims.web import i18n as web_i18n
from lims.web import node_banner
from lims.web.i18n import language

logger = logging.getLogger(__name__)
SESSION_COOKIE = "lims_session"
CSRF_COOKIE = "lims_csrf"
CSRF_FIELD = "csrf"
HOME_OF_ROLE = {Role.TESTER: "/vehicle", Role.REVIEWER: "/review", Role.STATION: "/station", Role.ADMIN: "/admin"}

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M", zone: ZoneInfo | None = None) -> str:
    """A stored UTC time as wall-clock time in `zone` (the viewer's district; the default zone for the public)."""
    if value is None:
        return ""
    try:
        return clock.local_time(value, zone).strftime(fmt)
    except OverflowError:  # a time at the very edge of the calendar, stored before inputs were bounded
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.strftime(fmt + " UTC")


def viewer_zone(request: Request) -> ZoneInfo:
    """The time zone pages show times in: the signed-in viewer's district's, else the default zone."""
    found = getattr(request.state, "time_zone", None)
    return found if isinstance(found, ZoneInfo) else clock.zone()


@pass_context
def _local_filter(context: Any, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    request = context.get("request")
    return local_time(value, fmt, viewer_zone(request) if request is not None else None)


def number(value: float | None) -> str:
    """A measured value with at most four significant digits (93.18, 0.4, 1250)."""
    return "" if value is None else f"{value:.4g}"


templates.env.filters["local"] = _local_filter
templates.env.filters["num"] = number
web_i18n.setup(templates.env)


class LoginRequired(Exception):
    """The page needs a signed-in user; the visitor is sent to the sign-in form."""


class CsrfFailed(ServiceError):
    """A form came without the token of this browser session (possibly from another site)."""

    status_code = 403


HEADLINES = {
    401: _N("Please sign in"),
    403: _N("Not allowed"),
    404: _N("Not found"),
    409: _N("Not possible in the current state"),
    410: _N("The link has expired"),
    413: _N("The file is too large"),
    422: _N("The input was not accepted"),
    429: _N("Too many attempts; try again later"),
    500: _N("Something went wrong on our side; try again later"),
    503: _N("The system is busy; try again"),
}


def error_page(request: Request, status: int, reason: str, headline: str = "") -> HTMLResponse:
    """A page that says what went wrong, in the visitor's language, with the detail from the service."""
    lang = language(request)
    title = headline or web_i18n.gettext(HEADLINES.get(status, _N("Cannot show this")), lang)
    return render(request, "error.html", status_code=status, headline=title, reason=reason)


class PageRoute(BoundedFormRoute):
    """A route whose refusals become HTML pages (or a sign-in redirect), never JSON or a stack trace.

    Its form body is parsed under the limits of ``lims.api.limits`` before the handler runs."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler so service errors and bad input render the error page."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            except HTTPException:
                raise
            except CsrfFailed:
                return form_expired_page(request)
            except (ServiceError, RequestValidationError, ValidationError, DataError, IntegrityError) as exc:
                return refusal_page(request, exc)
            except Exception as exc:  # a fault of ours (or a busy database): log it, show a page, never a stack trace
                if not isinstance(exc, OperationalError):
                    logger.exception("page %s %s failed", request.method, request.url.path)
                return refusal_page(request, exc)

        return page_handler


def form_url(request: Request) -> str:
    """The page a refused form was sent from (its Referer on this site), else the address it was sent to."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc == request.url.netloc and referer.path.startswith("/"):
        path = _on_site(unquote(referer.path))
        return f"{path}?{referer.query}" if referer.query else path
    return page_path(request) if request.url.path == "/login" else "/"


def form_expired_page(request: Request) -> HTMLResponse:
    """403 for a form whose token is missing, stale or from another browser: "the form expired", with a way back.

    The usual cause is harmless (a page left open past a sign-out or a restart, a second tab), so the page
    says so instead of "not allowed", and links back to the form, which comes with a fresh token."""
    lang = language(request)
    return render(
        request,
        "error.html",
        status_code=403,
        headline=web_i18n.gettext(_N("The form expired; please try again"), lang),
        hint=web_i18n.gettext(
            _N("Go back to the form: it opens with a new token. Anything typed in it may need entering again."),
            lang,
        ),
        reason="",
        retry_url=form_url(request),
    )


def said(request: Request, exc: ServiceError) -> str:
    """What a service error says, in the visitor's language."""
    return exc.text(language(request))


def refusal_page(request: Request, exc: Exception) -> HTMLResponse:
    """The error page for `exc`, classified as the API classifies it, in the visitor's language."""
    refusal = classify(exc)
    page = error_page(request, refusal.status, refusal.text(language(request)))
    for name, value in refusal.headers.items():
        if name != "WWW-Authenticate":
            page.headers[name] = value
    return page


def validation_reason(exc: RequestValidationError | ValidationError) -> str:
    """The first few field problems of a rejected form, as one line."""
    return validation_problems(exc)


def page_router() -> APIRouter:
    """A router for pages: hidden from the OpenAPI schema, errors rendered as pages."""
    return APIRouter(include_in_schema=False, route_class=PageRoute)


# --------------------------------------------------------------------------- sign-in and roles


def viewer(request: Request, session: SessionDep) -> Actor | None:
    """The signed-in user from the session cookie, or None for a visitor (an expired cookie counts as none)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        user = auth.user_from_token(session, token)
    except ServiceError:
        return None
    actor = auth.actor_for(user)
    request.state.actor = actor
    request.state.time_zone = clock.zone_of(session, actor.district_id)
    request.state.full_name = user.full_name or user.username
    if actor.role == Role.STATION:
        request.state.unread = len(notifications.unread(session, actor))
    return actor


Viewer = Annotated[Actor | None, Depends(viewer)]


def role_page(*roles: Role) -> Callable[[Request, Actor | None], Actor]:
    """A dependency giving the signed-in actor; sign-in redirect without one, 403 page for another role."""

    def dependency(request: Request, actor: Viewer) -> Actor:
        if actor is None:
            raise LoginRequired()
        if actor.role not in {r.value for r in roles}:
            raise Forbidden(
                "common.page_role_you",
                _N("this page is for the {roles} role; you are {actor_role}"),
                roles=" or ".join(r.value for r in roles),
                actor_role=actor.role,
            )
        return actor

    return dependency


def set_session(response: Response, request: Request, token: str) -> None:
    """Keep the bearer token in an HttpOnly, SameSite=Lax cookie."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=get_settings().token_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def clear_session(response: Response) -> None:
    """Forget the sign-in."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def safe_next(target: str | None, actor: Actor | None = None) -> str:
    """A local path to go to after sign-in (never another site), else the role's home page."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
    ):
        return target
    if actor is not None:
        return HOME_OF_ROLE.get(Role(actor.role), "/")
    return "/"


# --------------------------------------------------------------------------- CSRF


def _mac(value: str) -> str:
    key = get_settings().resolved_secret_key().encode()
    return hmac.new(key, b"csrf|" + value.encode(), hashlib.sha256).hexdigest()[:40]


def _expected(session_token: str | None, browser: str) -> str:
    return _mac(f"s:{session_token}|{browser}") if session_token else _mac(f"a:{browser}")


def csrf_token(request: Request) -> str:
    """The form token of this browser session: bound to a random per-browser cookie and to the sign-in cookie."""
    browser = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not browser:
        browser = secrets.token_urlsafe(24)
        request.state.new_csrf = browser
    return _expected(request.cookies.get(SESSION_COOKIE), browser)


async def check_csrf(request: Request) -> None:
    """Refuse a form POST whose token does not match this browser session's."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    browser = request.cookies.get(CSRF_COOKIE)
    expected = _expected(request.cookies.get(SESSION_COOKIE), browser) if browser else ""
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        raise CsrfFailed(
            "common.form_has_expired_did",
            _N("the form has expired or did not come from this site; reload the page and try again"),
        )


CsrfChecked = Depends(check_csrf)


# --------------------------------------------------------------------------- rendering


def _on_site(path: str) -> str:
    """A path a browser can only resolve on this site: one leading slash, every other character quoted."""
    return "/" + quote(path, safe="/:@!$&'()*+,;=-._~").lstrip("/")


def page_path(request: Request) -> str:
    """The address of the page being shown, rebuilt from its route and parameters, never echoed from the request.

    ``//evil.example/x`` reaches the catch-all route with the parameter ``/evil.example/x``; rebuilt and
    quoted it stays ``/evil.example/x`` on this site."""
    route = request.scope.get("route")
    path = getattr(route, "path_format", None)
    if not isinstance(route, Route) or not isinstance(path, str):
        return "/"
    for name, value in request.path_params.items():
        convertor = route.param_convertors.get(name)
        text = convertor.to_string(value) if convertor is not None else str(value)
        safe = "/" if isinstance(convertor, PathConvertor) else ""
        path = path.replace("{" + name + "}", quote(text, safe=safe))
    return "/" + path.lstrip("/")


def lang_url(request: Request, lang: str) -> str:
    """This page in another language, keeping its filters; after a form POST, the page the form was on."""
    if request.method == "GET":
        path, query = page_path(request), request.url.query
    else:
        referer = urlsplit(request.headers.get("referer", ""))
        if referer.netloc != request.url.netloc or not referer.path.startswith("/"):
            return f"/?lang={lang}"
        path, query = _on_site(unquote(referer.path)), referer.query
    params = [(k, v) for k, v in parse_qsl(query) if k != "lang"] + [("lang", lang)]
    return f"{path}?{urlencode(params)}"


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a template in the request's language and remember the choice."""
    lang = language(request)
    token = csrf_token(request)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "other_lang": "en" if lang == "zh" else "zh",
            "lang_url": lang_url(request, "en" if lang == "zh" else "zh"),
            "me": getattr(request.state, "actor", None),
            "my_name": getattr(request.state, "full_name", ""),
            "unread": getattr(request.state, "unread", 0),
            "csrf": token,
            "path": request.url.path,
            "node_link": node_banner.banner(request),
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") == lang:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    new_csrf = getattr(request.state, "new_csrf", None)
    if new_csrf:
        response.set_cookie(
            CSRF_COOKIE, new_csrf, httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/"
        )
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def redirect(url: str) -> RedirectResponse:
    """A 303 redirect after a form POST."""
    return RedirectResponse(url, status_code=303)
