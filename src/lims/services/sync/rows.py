"""Rows as they travel between node and centre: the table model of a name, a row's values from JSON, its
foreign keys, and its current snapshot."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Table
from sqlmodel import Session, SQLModel

from lims.i18n import _N
from lims.services.core.audit import snapshot_values
from lims.services.core.errors import Invalid


@cache
def models_by_table() -> dict[str, type[SQLModel]]:
    """Every table model by table name."""
    found: dict[str, type[SQLModel]] = {}
    stack = list(SQLModel.__subclasses__())
    while stack:
        model = stack.pop()
        stack.extend(model.__subclasses__())
        table = getattr(model, "__table__", None)
        if isinstance(table, Table):
            found[table.name] = model
    return found


def model_of(table_name: str) -> type[SQLModel] | None:
    """The table model of `table_name`, None when there is none."""
    return models_by_table().get(table_name)


@cache
def foreign_keys(table_name: str) -> dict[str, str]:
    """The columns of a table that refer to another table's id: column name -> referred table name."""
    model = model_of(table_name)
    if model is None:
        return {}
    table: Table = model.__table__  # type: ignore[attr-defined]
    return {
        column.name: next(iter(column.foreign_keys)).column.table.name
        for column in table.columns
        if column.foreign_keys
    }


@cache
def _adapter(model: type[SQLModel], name: str) -> TypeAdapter[Any]:
    return TypeAdapter(model.model_fields[name].annotation or Any)


def from_json(model: type[SQLModel], values: dict[str, Any]) -> dict[str, Any]:
    """Column values of `model` from their JSON form (times, dates and numbers parsed by each field's type).

    Only the model's own fields are taken: a payload cannot name a column the model does not have."""
    try:
        return {
            name: _adapter(model, name).validate_python(value)
            for name, value in values.items()
            if name in model.model_fields
        }
    except ValidationError as exc:
        raise Invalid(
            "sync.bad_values",
            _N("the values of a {table} row cannot be read: {reason}"),
            table=str(model.__tablename__),
            reason=str(exc.errors()[0].get("msg", "")),
        ) from None


def current_snapshot(session: Session, model: type[SQLModel], row_id: int) -> dict[str, Any] | None:
    """The stored row's snapshot (as the audit trail writes it), None when the row is gone."""
    row = session.get(model, row_id)
    if row is None:
        return None
    return snapshot_values(model, {name: getattr(row, name) for name in model.model_fields})
