"""Shared fixtures: a migrated database per backend (SQLite always, PostgreSQL when configured), reset per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
import sqlmodel
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel

import lims.models  # noqa: F401  (registers the tables)
from lims.api.deps import get_session
from lims.app import create_app
from lims.db import make_engine
from lims.models import User
from lims.services.access import auth
from lims.services.core import schema
from lims.services.core.audit import SYSTEM
from lims.services.reference import reference_data

PG_URL = os.environ.get("LIMS_TEST_DATABASE_URL")
# One audit key for the whole run: the base state is written once, before any per-test setting.
TEST_AUDIT_KEY = "test-audit-key-not-for-production-0123456789"
os.environ["LIMS_AUDIT_KEY"] = TEST_AUDIT_KEY
# New password hashes at argon2id's lowest cost: sign-ins are in most tests, and a stored hash is checked at the
# cost it was made with, so what is tested (argon2id, the hashing slots, the timing of unknown names) is the same.
for _name, _value in (("LIMS_HASH_MEMORY_KIB", "1024"), ("LIMS_HASH_TIME_COST", "1"), ("LIMS_HASH_PARALLELISM", "1")):
    os.environ.setdefault(_name, _value)
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])

# Users every test can act as: name -> (role, station code).
TEST_USERS: dict[str, tuple[str, str | None]] = {
    "tester": ("tester", None),
    "tester2": ("tester", None),
    "reviewer": ("reviewer", None),
    "reviewer2": ("reviewer", None),
    "station": ("station", "ST04"),
    "station_other": ("station", "ST01"),
    "admin": ("admin", None),
}
PASSWORD = "correct-horse-battery"
BASE_ROWS: dict[str, dict[str, list[dict[str, Any]]]] = {}


def _worker_database(url: str) -> str:
    """Under pytest-xdist each worker gets its own PostgreSQL database next to the configured one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _fresh_postgres(url: str, suffix: str) -> str:
    """A new, empty PostgreSQL database next to the configured one, of this worker alone."""
    base = make_url(url)
    name = f"{base.database}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{suffix}"
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of its own on each backend (for migration tests), never the shared test database."""
    if request.param == "postgresql":
        assert PG_URL
        engine = make_engine(_fresh_postgres(PG_URL, "scratch"))
    else:
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    yield engine
    engine.dispose()


def _drop_everything(engine: Engine) -> None:
    meta = MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)


def _base_state(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Load reference data and test users once; remember every row to restore before each test."""
    with Session(engine) as session:
        reference_data.load_reference(session, SYSTEM)
        for name, (role, station) in TEST_USERS.items():
            auth.add_user(session, SYSTEM, name, role, PASSWORD, station_code=station)
        session.commit()
    rows: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows[table.name] = [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.id))]
    return rows


@pytest.fixture(scope="session", params=BACKENDS)
def base_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database migrated with the shipped Alembic migrations, holding the base state."""
    if request.param == "postgresql":
        assert PG_URL
        engine = make_engine(_worker_database(PG_URL))
        _drop_everything(engine)
    else:
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('db') / 'lims.db'}")
    schema.upgrade(engine)
    assert schema.is_current(engine)
    BASE_ROWS[str(engine.url)] = _base_state(engine)
    yield engine
    engine.dispose()


def restore(engine: Engine) -> None:
    """Put the database back to the base state.

    Rows are deleted, not truncated: PostgreSQL's TRUNCATE makes new files for every table, which costs more than
    deleting the few rows a test leaves; the id sequences are then set past the base rows in one statement."""
    tables = SQLModel.metadata.sorted_tables
    base = BASE_ROWS[str(engine.url)]
    with engine.begin() as conn:
        for table in reversed(tables):
            conn.execute(table.delete())
        for table in tables:
            if base[table.name]:
                conn.execute(insert(table), base[table.name])
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "SELECT "
                    + ", ".join(
                        f"setval(pg_get_serial_sequence('\"{t.name}\"', 'id'), "
                        f'COALESCE((SELECT MAX(id) FROM "{t.name}"), 0) + 1, false)'
                        for t in tables
                    )
                )
            )


@pytest.fixture
def engine(base_engine: Engine) -> Engine:
    """The test database, reset to reference data and test users."""
    restore(base_engine)
    return base_engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def app(engine: Engine) -> Any:
    """The app with its session dependency pointed at the test database."""
    application = create_app(engine)

    def override() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as s:
            yield s

    application.dependency_overrides[get_session] = override
    return application


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    """An HTTP client on the app."""
    with TestClient(app) as c:
        yield c


@pytest.fixture
def headers(engine: Engine) -> dict[str, dict[str, str]]:
    """Authorization headers per test user name; API tests read refusals in English (`Accept-Language: en`)."""
    with Session(engine) as s:
        users = {u.username: u for u in s.exec(sqlmodel.select(User))}
        tokens = {name: auth.issue_token(s, user) for name, user in users.items()}
        s.commit()
    return {name: {"Authorization": f"Bearer {token}", "Accept-Language": "en"} for name, token in tokens.items()}


@pytest.fixture(autouse=True)
def _isolated_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep settings (secret key, SQLite default) in a per-test folder."""
    from lims.settings import get_settings

    monkeypatch.setenv("LIMS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LIMS_SECRET_KEY", "test-secret-key-not-for-production")
    monkeypatch.setenv("LIMS_AUDIT_KEY", TEST_AUDIT_KEY)
    monkeypatch.setenv("LIMS_AUDIT_CHECKPOINT_SECONDS", "0")  # tests that want the schedule turn it on
    monkeypatch.setenv("LIMS_WEBHOOK_DELIVER_SECONDS", "0")  # tests deliver webhooks when they choose
    monkeypatch.setenv("LIMS_LANG", "en")  # the command line's refusals in English, as the tests read them
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()  # a session fixture set up before the next test must not see this test's settings
