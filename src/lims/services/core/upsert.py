"""Create or update a row by its natural key, appending an audit event only when something changed."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, select

from lims.services.core import audit
from lims.services.core.audit import Actor

M = TypeVar("M", bound=SQLModel)


class Outcome(StrEnum):
    """What an upsert did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


def upsert(
    session: Session,
    actor: Actor,
    model: type[M],
    key: dict[str, Any],
    values: dict[str, Any],
    *,
    action: str = "create",
) -> tuple[M, Outcome]:
    """The row of `model` with `key`, created or brought to `values`; audited as `action` or `update`."""
    statement = select(model)
    for name, value in key.items():
        statement = statement.where(getattr(model, name) == value)
    row = session.exec(statement).first()
    if row is None:
        row = model.model_validate({**key, **values})
        session.add(row)
        session.flush()
        audit.record(session, actor, row, action, None)
        return row, Outcome.CREATED
    before = audit.snapshot(row)
    for name, value in values.items():
        setattr(row, name, value)
    if audit.snapshot(row) == before:
        return row, Outcome.UNCHANGED
    session.add(row)
    session.flush()
    audit.record(session, actor, row, "update", before)
    return row, Outcome.UPDATED
