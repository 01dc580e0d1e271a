"""The FastAPI application: API under /api/v1, health, and the pages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.engine import Engine

from lims import __version__
from lims.api import errors
from lims.api.deps import SessionDep
from lims.api.routes import auth, cases, plans, reference, results, samples, scan, trace, warnings
from lims.db import get_engine
from lims.services import audit_checkpoints, audit_keys
from lims.web import pages

STATIC = Path(pages.__file__).parent / "static"


def create_app(engine: Engine | None = None) -> FastAPI:
    """Build the app; `engine` overrides the configured database."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        audit_keys.event_key()  # a missing or short audit key stops the start, not the first request
        checkpoints = audit_checkpoints.schedule(engine or get_engine())
        try:
            yield
        finally:
            if checkpoints is not None:
                await asyncio.to_thread(checkpoints.stop)

    app = FastAPI(
        lifespan=lifespan,
        title="Food quick-test LIMS",
        version=__version__,
        description="Samples, quick-test results, review and publication, and public traceability.",
    )
    app.state.engine = engine
    errors.install(app)
    api = APIRouter(prefix="/api/v1")
    for module in (auth, samples, results, cases, warnings, trace, scan, reference, plans):
        api.include_router(module.router)
    app.include_router(api)

    @app.get("/healthz", tags=["health"])
    def healthz(session: SessionDep) -> dict[str, str]:
        """Liveness and database reachability."""
        session.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(pages.router)
    return app
