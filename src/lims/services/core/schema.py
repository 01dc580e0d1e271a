"""Bring a database schema up to date with the Alembic migrations shipped in `lims.migrations`."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the shipped migrations and `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to `revision` on `engine`'s database."""
    with _migration_lock(engine):
        _upgrade(engine, revision)


def bring_up_to_date(engine: Engine, then: Callable[[], None] | None = None) -> None:
    """Migrate to the newest schema if needed, then run `then`, while no other process does the same."""
    with _migration_lock(engine):
        if not is_current(engine):
            _upgrade(engine, "head")
        if then is not None:
            then()


def _upgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    else:
        # The sqlite3 module commits DDL on its own; drive the transaction by hand so that a migration
        # that fails half-way leaves nothing behind.
        # Foreign keys are off while tables are rebuilt (dropping a referenced table would check every row
        # against its children), and checked as a whole before the commit.
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # only takes effect outside a transaction
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    config.attributes["connection"] = connection
                    command.upgrade(config, revision)
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise RuntimeError(f"migration broke a foreign key: {tuple(broken)}")
                except BaseException:
                    connection.exec_driver_sql("ROLLBACK")
                    raise
                connection.exec_driver_sql("COMMIT")
            finally:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    analyze(engine)


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """One migrating process at a time. SQLite runs DDL outside transactions, so two processes opening a new
    database file at once would both create the tables; PostgreSQL takes an advisory lock instead."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        with open(f"{database}.migrate-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT pg_advisory_lock(731216)")
            try:
                yield
            finally:
                connection.exec_driver_sql("SELECT pg_advisory_unlock(731216)")
                connection.commit()
        return
    yield


def analyze(engine: Engine) -> None:
    """Refresh the query planner's statistics (SQLite keeps none until asked; PostgreSQL autovacuum does)."""
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def is_current(engine: Engine) -> bool:
    """Whether the database has the schema at the newest revision."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == set(script.get_heads())
