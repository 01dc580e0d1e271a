"""State changes that hold under concurrency: conditional updates (one of two writers wins) and counters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, inspect, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col

from lims.models.samples import LabelCounter

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


def next_in_sequence(session: Session, district_id: int, day: date) -> int:
    """The next number of a district's daily label sequence, taken atomically inside the transaction.

    One upsert of the (district, day) counter row: on PostgreSQL it locks that row until commit, so
    registrations of one district and day queue behind each other (other districts and days do not);
    on SQLite the statement takes the database's write lock, which the busy timeout waits for. A
    rolled-back registration gives its number back.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(LabelCounter)
        .values(district_id=district_id, day=day, last=1)
        .on_conflict_do_update(
            index_elements=[col(LabelCounter.district_id), col(LabelCounter.day)],
            set_={"last": col(LabelCounter.last) + 1},
        )
        .returning(col(LabelCounter.last))
    )
    return int(session.execute(statement).scalar_one())
