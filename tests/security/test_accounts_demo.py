"""`lims demo` refuses to add its published accounts to a database holding other data, unless --force."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from lims.db import make_engine
from lims.models import User
from lims.services.access import auth
from lims.services.core import schema
from lims.services.core.audit import SYSTEM
from lims.services.core.errors import Invalid
from lims.services.demo import builder
from lims.services.reference import reference_data
from tests.conftest import PASSWORD


def _lims(cwd: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
    return subprocess.run(
        [sys.executable, "-m", "lims", *args],
        cwd=cwd,
        env={**env, "LIMS_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _contents(engine: Engine) -> dict[str, Any]:
    """Every table's row count and highest id: what a write would change."""
    with engine.connect() as conn:
        return {
            table.name: tuple(conn.execute(select(func.count(), func.max(table.c.id)).select_from(table)).one())
            for table in SQLModel.metadata.sorted_tables
        }


def test_demo_refuses_a_database_with_other_accounts_and_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    before = _contents(engine)
    done = _lims(tmp_path, engine.url.render_as_string(hide_password=False), "demo", "--no-serve", "--json")
    assert done.returncode == 1, done.stdout[-500:]
    assert "account(s) that the demo did not make" in done.stderr
    assert "--force" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert _contents(engine) == before


@pytest.mark.slow
def test_demo_with_force_adds_its_accounts_anyway(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as session:
        auth.add_user(session, SYSTEM, "liwei", "reviewer", PASSWORD)
        session.commit()
    url = engine.url.render_as_string(hide_password=False)
    done = _lims(tmp_path, url, "demo", "--no-serve", "--json", "--force", "--samples-per-day", "10")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["samples"] >= 10
    with Session(engine) as session:
        names = set(session.execute(select(User.username)).scalars())
    assert {"liwei", *builder.DEMO_USERS} <= names


def test_only_the_demo_s_own_accounts_count_as_a_previous_demo(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'lims.db'}")
    try:
        assert builder.foreign_data(engine) is None  # nothing at all
        schema.upgrade(engine)
        with Session(engine) as session:
            reference_data.load_reference(session, SYSTEM)
            session.commit()
        assert builder.foreign_data(engine) is None  # migrated, reference data only
        with Session(engine) as session:
            builder.ensure_users(session)
            session.commit()
        assert builder.foreign_data(engine) is None  # a previous demo

        with Session(engine) as session:
            admin = session.execute(select(User).where(User.username == "admin")).scalar_one()
            admin.password_hash = auth.hash_password("a-real-admin-password")
            session.add(admin)
            session.commit()
        reason = builder.foreign_data(engine)
        assert reason is not None and "(admin)" in reason  # a real account that happens to be named admin
    finally:
        engine.dispose()


def test_demo_passwords_are_refused_for_real_accounts(engine: Engine) -> None:
    with Session(engine) as session:
        for _role, password, _station in builder.DEMO_USERS.values():
            with pytest.raises(Invalid, match="published"):
                auth.add_user(session, SYSTEM, "liwei", "tester", password)
