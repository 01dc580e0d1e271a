"""Migrations: a fresh database reaches the models' schema, and a migration that fails half-way leaves nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import lims.models  # noqa: F401
from lims.db import make_engine
from lims.services.core import schema


def test_migrations_match_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    schema.upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []
    assert schema.is_current(engine)


def test_failed_sqlite_migration_rolls_back_completely(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'half.db'}")
    schema.upgrade(engine, "0005")
    columns = {c["name"]: str(c["type"]) for c in inspect(engine).get_columns("test_result")}
    held = {c["name"]: str(c["type"]) for c in inspect(engine).get_columns("held_reading")}
    with engine.begin() as connection:  # debris that makes 0006's second table rebuild fail
        connection.execute(text("CREATE TABLE _alembic_tmp_test_result (x INTEGER)"))
    with pytest.raises(Exception, match="already exists"):
        schema.upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0005"
    assert {c["name"]: str(c["type"]) for c in inspect(engine).get_columns("test_result")} == columns
    # held_reading was rebuilt before test_result failed: that rebuild is undone too.
    assert {c["name"]: str(c["type"]) for c in inspect(engine).get_columns("held_reading")} == held
    assert held["sequence"] == "INTEGER"
    assert not inspect(engine).has_table("_alembic_tmp_held_reading")


def test_foreign_keys_are_enforced_after_a_migration(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fk.db'}")
    schema.upgrade(engine)
    with engine.connect() as connection:  # the pool hands back the connection the migration ran on
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(Exception, match="FOREIGN KEY"):
            connection.exec_driver_sql(
                "INSERT INTO station (code, name, name_en, level, kind, address, district_id) "
                "VALUES ('S', 'n', 'n', 'city', '', '', 999)"
            )
