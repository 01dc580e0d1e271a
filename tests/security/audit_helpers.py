"""What an attacker with SQL access does to the audit trail, and the `lims audit` commands run on the result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from typer.testing import CliRunner, Result

from lims.cli.main import app
from lims.models.common import utcnow
from lims.services.core import audit
from lims.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]


def url_of(engine: Engine) -> str:
    """The engine's URL with its password, for the CLI."""
    return engine.url.render_as_string(hide_password=False)


def lims(engine: Engine, *args: str) -> Result:
    """Run `lims ARGS` in this process against `engine`'s database."""
    previous = os.environ.get("LIMS_DATABASE_URL")
    os.environ["LIMS_DATABASE_URL"] = url_of(engine)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        if previous is None:
            del os.environ["LIMS_DATABASE_URL"]
        else:
            os.environ["LIMS_DATABASE_URL"] = previous
        get_settings.cache_clear()


def lims_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m lims ARGS` as its own process with exactly `env` (plus what Python needs)."""
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    base["PYTHONPATH"] = str(ROOT / "src")
    return subprocess.run(
        [sys.executable, "-m", "lims", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def newest_event(conn: Connection, chain: str) -> dict[str, Any]:
    """The last event of `chain` as a dict."""
    events = audit.EVENTS
    row = conn.execute(events.select().where(events.c.chain == chain).order_by(events.c.seq.desc()).limit(1)).one()
    return dict(row._mapping)


def event_after(conn: Connection, event_id: int) -> dict[str, Any]:
    """The `after` snapshot of one event."""
    row = conn.execute(audit.EVENTS.select().where(audit.EVENTS.c.id == event_id)).one()
    return dict(row.after)


def forge_event(
    conn: Connection,
    chain: str,
    entity: str,
    entity_id: int,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> int:
    """Append an event the way the LIMS would, with a correctly computed public SHA-256 but without the
    audit key (so with a made-up MAC), and move the chain head record onto it; the new event's id."""
    last = newest_event(conn, chain)
    values = {
        "chain": chain,
        "seq": int(last["seq"]) + 1,
        "at": utcnow(),
        "actor": "reviewer",
        "role": "reviewer",
        "entity": entity,
        "entity_id": entity_id,
        "action": action,
        "before": before,
        "after": after,
        "prev_hash": last["hash"],
    }
    digest = audit.event_hash(values)
    conn.execute(
        audit.EVENTS.insert().values(**values, hash=digest, mac="f" * 64),
    )
    point_head(conn, chain, int(values["seq"]), digest)
    return int(newest_event(conn, chain)["id"])


def rewrite_event(conn: Connection, event_id: int, after: dict[str, Any]) -> None:
    """Change an event's `after` and recompute its public hash (the MAC cannot be recomputed)."""
    row = dict(conn.execute(audit.EVENTS.select().where(audit.EVENTS.c.id == event_id)).one()._mapping)
    row["after"] = after
    digest = audit.event_hash(row)
    conn.execute(audit.EVENTS.update().where(audit.EVENTS.c.id == event_id).values(after=after, hash=digest))
    point_head(conn, str(row["chain"]), int(row["seq"]), digest)


def point_head(conn: Connection, chain: str, count: int, head: str) -> None:
    """Set a chain's head record as an attacker can (the MAC of the record stays what it was)."""
    conn.execute(
        text("UPDATE audit_chain SET count = :n, head = :h, version = :v WHERE name = :c"),
        {"n": count, "h": head, "v": audit.head_version(head), "c": chain},
    )
