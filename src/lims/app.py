"""The FastAPI application: API under /api/v1, health, and the pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.engine import Engine

from lims import __version__
from lims.api import errors
from lims.api.deps import SessionDep
from lims.api.routes import auth, cases, plans, reference, results, samples, scan, trace, users, warnings
from lims.services import throttle
from lims.settings import get_settings
from lims.web import pages

STATIC = Path(pages.__file__).parent / "static"


def create_app(engine: Engine | None = None) -> FastAPI:
    """Build the app; `engine` overrides the configured database."""
    app = FastAPI(
        title="Food quick-test LIMS",
        version=__version__,
        description="Samples, quick-test results, review and publication, and public traceability.",
    )
    app.state.engine = engine
    settings = get_settings()
    settings.resolved_secret_key()  # a missing key file is made now, a short key refused at start
    app.state.signin_throttle = throttle.SignInThrottle.from_settings(settings)
    app.state.trusted_proxies = throttle.trusted_networks(settings.trusted_proxies)
    errors.install(app)
    api = APIRouter(prefix="/api/v1")
    for module in (auth, users, samples, results, cases, warnings, trace, scan, reference, plans):
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
