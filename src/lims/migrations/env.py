"""Alembic environment: runs migrations against the connection or URL given in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlmodel import Session, SQLModel

import lims.models  # noqa: F401  (registers every table on SQLModel.metadata)
from lims.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    """Emit SQL without a database connection."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _migrate(connection: Connection) -> None:
    """Run the migrations; when they reach the newest revision, record in the audit trail, in the same
    transaction, the fields they added to audited rows and the values they rewrote (see
    `audit.record_schema_changes`)."""
    applied: list[str] = []
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        on_version_apply=lambda **kw: applied.append(kw["step"].up_revision_id),
    )
    with context.begin_transaction():
        tables_before = set(inspect(connection).get_table_names())
        context.run_migrations()
        at_head = set(context.get_context().get_current_heads()) == set(context.script.get_heads())
        if applied and at_head and not context.is_offline_mode():
            from lims.migrations.data_rewrites import REWRITES
            from lims.services.core import audit
            from lims.services.core.audit_tables import AUDITED_MODELS

            created = frozenset(set(inspect(connection).get_table_names()) - tables_before)
            joined = connection.in_transaction()
            with Session(bind=connection) as session:  # joins the migrations' transaction if there is one
                audit.record_schema_changes(session, AUDITED_MODELS, created, REWRITES)
                if not joined:
                    session.commit()


def run_migrations_online() -> None:
    """Run migrations on the connection passed in `config.attributes`, or a new one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _migrate(conn)
        conn.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
