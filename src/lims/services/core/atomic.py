"""State changes that hold under concurrency: conditional updates (one of two writers wins) and upserts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, inspect, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col

M = TypeVar("M", bound=SQLModel)


def update_where(
    session: Session,
    row: M,
    guard: Mapping[str, Any],
    values: Mapping[str, Any],
    *also: ColumnElement[bool],
) -> bool:
    """Set `values` on `row` only while its columns still hold `guard` (None: NULL) and `also` holds.

    This is one `UPDATE … WHERE id = … AND <the state the row was read in>`: of two people acting on
    the same row at once, the database lets exactly one match and the other finds nothing to change
    (PostgreSQL re-checks the condition after the first commits; SQLite has one writer at a time).
    Returns whether the row changed; when it did, `row` is reloaded so that what is audited is what is
    stored.
    """
    model = type(row)
    mapper = inspect(model)
    conditions = [mapper.primary_key[0] == mapper.primary_key_from_instance(row)[0]]
    for name, value in guard.items():
        column = col(getattr(model, name))
        conditions.append(column.is_(None) if value is None else column == value)
    changed = session.execute(
        update(model).where(*conditions, *also).values(**values).execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.refresh(row)
    return True


def upsert(session: Session, model: type[SQLModel]) -> Any:
    """`INSERT … ON CONFLICT` for `model` in the session's dialect (PostgreSQL and SQLite spell it alike).

    Add `.on_conflict_do_update(...)`: the insert or the update is one atomic statement, so two
    writers that both find no row never both insert.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)
