"""Security headers on every response: pages, API, static files, errors and refusals alike.

Pages load only this site's scripts and styles (no inline script, handler or style anywhere in the
templates), cannot be framed, and send no referrer to other sites. HSTS is sent only on requests that
arrived over https: the request's own scheme (which uvicorn sets from ``X-Forwarded-Proto`` for the
proxies in ``FORWARDED_ALLOW_IPS``, 127.0.0.1 by default), or ``X-Forwarded-Proto: https`` from a
proxy in ``LIMS_TRUSTED_PROXIES``.

The Swagger UI at ``/docs`` is served from this site too (Swagger UI 5 from the fastapi-offline package's
files, under ``/static/swagger``); that one page gets ``DOCS_POLICY``, which adds only ``data:`` images and fonts (its
icons) and nothing inline (its start-up script is ``/static/docs.js``). A response that sets its own header
keeps it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lims.services.access.throttle import is_trusted_proxy

Networks = list[ipaddress.IPv4Network | ipaddress.IPv6Network]

POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "media-src 'self' blob:",
        "manifest-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
DOCS_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
DOCS_PATHS = frozenset({"/docs"})
HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("X-Permitted-Cross-Domain-Policies", "none"),
    ("Permissions-Policy", "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"),
)
HSTS = "max-age=31536000"


class SecurityHeaders:
    """Add the security headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, trusted_proxies: Callable[[], Networks] = list) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    def _https(self, scope: Scope) -> bool:
        if scope.get("scheme") == "https":
            return True
        client = scope.get("client")
        if not client or not is_trusted_proxy(str(client[0]), self.trusted_proxies()):
            return False
        return Headers(scope=scope).get("x-forwarded-proto", "").split(",")[0].strip().lower() == "https"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response as it starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope.get("path") in DOCS_PATHS else POLICY
        https = self._https(scope)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", policy)
                for name, value in HEADERS:
                    headers.setdefault(name, value)
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, with_headers)
