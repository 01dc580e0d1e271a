"""Secrets never enter the audit trail (password hashes are snapshotted as keyed fingerprints, through the
`secret_field` marker), yet a changed password shows in the trail and a swapped hash is still caught; the
audit key is refused when short and its file is created 0600 atomically, the same for racing processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.app import create_app
from lims.models import AuditEvent, User
from lims.services.access import auth
from lims.services.core import audit
from lims.services.core.audit import SYSTEM
from lims.services.core.audit_keys import AuditKeyError, event_key
from lims.services.core.audit_tables import AUDITED_MODELS
from lims.settings import get_settings
from tests.security.audit_helpers import ROOT, lims


def _events_text(engine: Engine) -> str:
    with Session(engine) as session:
        return json.dumps([[e.before, e.after] for e in session.exec(select(AuditEvent))])


def test_no_password_hash_enters_any_event_yet_a_change_and_a_swap_show(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        user = session.exec(select(User).where(User.username == "tester")).one()
        old_hash = user.password_hash
        before = audit.snapshot(user)
        user.password_hash = auth.hash_password("another-long-password")
        session.add(user)
        changed = audit.record(session, SYSTEM, user, "password", before)
        session.commit()
    events = _events_text(engine)
    assert "$argon2" not in events and old_hash not in events and user.password_hash not in events
    assert changed.before is not None and changed.after is not None
    assert changed.before["password_hash"].startswith("hmac-sha256:")
    assert changed.before["password_hash"] != changed.after["password_hash"]  # the trail shows it changed
    assert {k for k in changed.after if changed.after[k] != changed.before[k]} == {"password_hash"}

    with engine.begin() as conn:  # take over the account by putting a known hash in place
        conn.execute(
            text("UPDATE app_user SET password_hash = :h WHERE id = :id"),
            {"h": auth.hash_password("attacker-knows-this"), "id": user.id},
        )
    with Session(engine) as session:
        found = audit.verify(session, AUDITED_MODELS)
    assert found is not None and found.entity == "app_user" and found.entity_id == user.id
    assert "password_hash" in found.problem and "$argon2" not in found.problem


def test_a_short_audit_key_is_refused_with_a_clear_error(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMS_AUDIT_KEY", "too-short")
    get_settings.cache_clear()
    outcome = lims(engine, "audit", "verify")
    assert outcome.exit_code == 1
    assert "LIMS_AUDIT_KEY holds 9 bytes; an audit key needs at least 32" in outcome.stderr
    with pytest.raises(AuditKeyError, match="at least 32"), TestClient(create_app(engine)):
        pass  # the server does not start


def test_the_key_file_is_created_private_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIMS_AUDIT_KEY")
    get_settings.cache_clear()
    key = event_key()
    path = tmp_path / "var" / "audit_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 32 and path.read_bytes().strip() == key
    assert [p.name for p in path.parent.iterdir()] == ["audit_key"]  # no temporary file left behind

    loose = tmp_path / "loose_key"
    loose.write_bytes(path.read_bytes())
    loose.chmod(0o644)
    monkeypatch.setenv("LIMS_AUDIT_KEY_FILE", str(loose))
    get_settings.cache_clear()
    with pytest.raises(AuditKeyError, match="accessible to other users"):
        event_key()
    short = tmp_path / "short_key"
    short.write_text("0123456789")
    short.chmod(0o600)
    monkeypatch.setenv("LIMS_AUDIT_KEY_FILE", str(short))
    get_settings.cache_clear()
    with pytest.raises(AuditKeyError, match="at least 32"):
        event_key()


def test_processes_starting_at_once_end_with_the_same_key(tmp_path: Path) -> None:
    go = tmp_path / "go"
    script = (
        "import os, sys, time\n"
        "from lims.services.core import audit_keys\n"
        "print('ready', flush=True)\n"
        "while not os.path.exists(sys.argv[1]):\n"
        "    time.sleep(0.001)\n"
        "print(audit_keys.event_key().hex())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LIMS_AUDIT_KEY"}
    env.update(PYTHONPATH=str(ROOT / "src"), LIMS_VAR_DIR=str(tmp_path / "shared-var"))
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(go)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    for child in children:  # every process has imported everything and waits
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    go.touch()
    outputs = [child.communicate(timeout=60) for child in children]
    assert all(child.returncode == 0 for child in children), outputs
    keys = {out.strip() for out, _err in outputs}
    assert len(keys) == 1
    path = tmp_path / "shared-var" / "audit_key"
    assert path.read_bytes().strip().hex() in keys
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["audit_key"]
