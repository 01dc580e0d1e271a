"""Request-body limits enforced while the body arrives, before routing, authentication or any parsing.

A pure ASGI middleware: a declared ``Content-Length`` over the route's limit is refused at once, without
reading a byte of the body; a chunked or undeclared body is cut off as soon as it passes the limit. The
refusal is 413 with the reason (JSON for the API, the error page for pages) and closes the connection,
so the client stops sending. Limits per route are in ``lims.api.limits``.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lims.api.limits import limits_for
from lims.web.common import error_page


class _BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the body passes its limit (an HTTPException, so no layer wraps it as a 400)."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail="request body too large")


def _is_api(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    return path == "/api" or path.startswith("/api/")


async def refuse(scope: Scope, send: Send, status: int, reason: str) -> None:
    """Answer ``status`` with ``reason`` (JSON under /api, an HTML page elsewhere) and close the connection."""
    if _is_api(scope):
        body = json.dumps({"detail": reason}, ensure_ascii=False).encode()
        headers = [(b"content-type", b"application/json")]
    else:
        page = error_page(Request(scope), status, reason)
        body = bytes(page.body)
        headers = [(k, v) for k, v in page.raw_headers if k not in (b"content-length", b"set-cookie")]
    headers += [(b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse request bodies over the limit of their route, counting bytes as they arrive."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count the body while the app reads it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = limits_for(str(scope.get("method", "")), str(scope.get("path", "")))
        limit = limits.body_bytes
        too_large = f"the request body is larger than {limits.body_text}, the limit of this address"
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isascii() or not declared.isdigit():
                await refuse(scope, send, 400, "the Content-Length header is not a number")
                return
            if int(declared) > limit:
                await refuse(scope, send, 413, too_large)
                return

        received = 0
        over = False
        started = False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _BodyTooLarge()
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # the app's answer to the broken-off body is replaced by ours below
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except _BodyTooLarge:
            if started:
                raise
        if over and not started:
            await refuse(scope, send, 413, too_large)
