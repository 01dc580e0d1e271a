"""The FastAPI application: API under /api/v1, health, and the pages."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from markupsafe import escape
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp

from lims import __version__
from lims.api import errors
from lims.api.deps import SessionDep
from lims.api.routes import (
    auth,
    cases,
    plans,
    qc,
    reference,
    results,
    samples,
    scan,
    sharing,
    signals,
    stock,
    sync,
    trace,
    users,
    warnings,
)
from lims.db import get_engine
from lims.services.access import throttle
from lims.services.core import audit_checkpoints, audit_keys, shared
from lims.services.sharing import delivery
from lims.services.sync import client as sync_client
from lims.services.sync import guard
from lims.services.sync import outbox as sync_outbox
from lims.settings import get_settings
from lims.web import pages
from lims.web.bodies import BodyLimit
from lims.web.headers import SecurityHeaders

STATIC = Path(pages.__file__).parent / "static"
FAVICON = STATIC / "favicon.svg"
# Swagger UI 5 (it reads the OpenAPI 3.1 FastAPI writes), from the files the fastapi-offline package ships, served
# from this site. Only its static files are used, not its app class.
SWAGGER_UI = "/static/swagger"
SWAGGER_FILES = files("fastapi_offline") / "static"


class LimsApp(FastAPI):
    """FastAPI with the security headers and the body limits outside everything else.

    Outside even Starlette's error middleware, so a 500 answer carries the headers too, and a body over
    its limit is refused before any other layer (authentication, parsing) sees the request."""

    def build_middleware_stack(self) -> ASGIApp:
        """The usual stack, wrapped in the body limits and then the security headers."""
        stack = BodyLimit(super().build_middleware_stack())
        return SecurityHeaders(stack, trusted_proxies=lambda: getattr(self.state, "trusted_proxies", None) or [])


def _docs_page(title: str) -> str:
    """The Swagger UI page, from this site only, without inline script (its start-up is /static/docs.js)."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · API</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{SWAGGER_UI}/swagger-ui.css">
<link rel="stylesheet" href="/static/docs.css">
</head>
<body>
<main id="swagger-ui" data-openapi="/openapi.json"><noscript>{escape(title)}: /openapi.json</noscript></main>
<script src="{SWAGGER_UI}/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body>
</html>
"""


def create_app(engine: Engine | None = None) -> FastAPI:
    """Build the app; `engine` overrides the configured database."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        audit_keys.event_key()  # a missing or short audit key stops the start, not the first request
        checkpoints = audit_checkpoints.schedule(engine or get_engine())
        dispatcher = delivery.schedule(engine or get_engine())
        node_loop = sync_client.schedule(engine or get_engine())
        try:
            yield
        finally:
            if node_loop is not None:
                await asyncio.to_thread(node_loop.stop)
            if dispatcher is not None:
                await asyncio.to_thread(dispatcher.stop)
            if checkpoints is not None:
                await asyncio.to_thread(checkpoints.stop)
            await asyncio.to_thread(shared.close_all)

    app = LimsApp(
        lifespan=lifespan,
        title="Food quick-test LIMS",
        version=__version__,
        description="Samples, quick-test results, review and publication, and public traceability.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    guard.install()  # on a vehicle node, no request may change what the centre owns
    settings = get_settings()
    settings.resolved_secret_key()  # a missing key file is made now, a short key refused at start
    if settings.is_node:  # a vehicle node: its node-owned changes go to the outbox from the first request
        sync_outbox.enable(engine or get_engine())
    app.state.signin_throttle = throttle.SignInThrottle.from_settings(settings)
    app.state.trusted_proxies = throttle.trusted_networks(settings.trusted_proxies)
    errors.install(app)
    api = APIRouter(prefix="/api/v1")
    for module in (
        auth,
        users,
        samples,
        results,
        cases,
        warnings,
        signals,
        trace,
        scan,
        reference,
        plans,
        qc,
        stock,
        sharing,
        sync,
    ):
        api.include_router(module.router)
    app.include_router(api)

    @app.get("/healthz", tags=["health"])
    def healthz(session: SessionDep) -> dict[str, str | int]:
        """Liveness and database reachability, and which worker process answered (`lims serve --workers N`)."""
        session.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__, "worker": os.getpid()}

    docs = _docs_page(app.title)

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        """Interactive API documentation (Swagger UI, served from this site: it works offline)."""
        return HTMLResponse(docs)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """The site's icon, for browsers that ask for it without reading a page's <link rel=icon>."""
        return FileResponse(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})

    # Static files (no secrets in them) are gzipped for browsers that accept it: a page's CSS and JS weigh a
    # third. Pages are not: they carry the form token next to text a visitor chose (BREACH).
    app.mount(SWAGGER_UI, GZipMiddleware(StaticFiles(directory=str(SWAGGER_FILES))), name="swagger")
    app.mount("/static", GZipMiddleware(StaticFiles(directory=str(STATIC))), name="static")
    app.include_router(pages.router)
    return app
