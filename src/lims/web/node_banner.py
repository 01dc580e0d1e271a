"""The vehicle node's link as every page shows it: online or offline since when, and how many records wait."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlmodel import Session

from lims.db import get_engine
from lims.services.core import clock
from lims.services.sync import status
from lims.settings import get_settings


@dataclass(frozen=True)
class Banner:
    """What the banner says: online, offline since a local time (with the date when not today), records waiting."""

    online: bool
    since: str | None
    waiting: int


def banner(request: Request) -> Banner | None:
    """The banner of this node's pages, from `status.node_status`; None at the centre."""
    if not get_settings().is_node:
        return None
    engine = getattr(request.app.state, "engine", None) or get_engine()
    with Session(engine) as session:
        link = status.node_status(session)
    since = None
    if not link.online and link.offline_since is not None:
        local = clock.local_time(link.offline_since)
        since = f"{local:%H:%M}" if local.date() == clock.local_today() else f"{local:%Y-%m-%d %H:%M}"
    return Banner(online=link.online, since=since, waiting=link.waiting)
