"""Helpers shared by CLI commands: the engine, error reporting, schema upkeep."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.db import get_engine
from lims.i18n import cli_language
from lims.models import District
from lims.services.core import schema
from lims.services.core.audit import SYSTEM
from lims.services.core.errors import ServiceError
from lims.services.reference import reference_data
from lims.services.sync import outbox as sync_outbox
from lims.settings import get_settings


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `message` to stderr and exit non-zero."""
    typer.echo(f"lims: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn service errors into a clear message and exit status 1."""
    try:
        yield
    except ServiceError as exc:
        fail(exc.text(cli_language()))


def ready_engine(*, migrate_sqlite: bool = True) -> Engine:
    """The configured engine with an up-to-date schema; a new SQLite database is migrated and gets the
    shipped reference data by itself."""
    engine = get_engine()
    node = get_settings().is_node
    if engine.dialect.name == "sqlite" and migrate_sqlite:
        # A vehicle node gets its reference data from the centre when it enrols, never from the shipped files.
        load = None if node else (lambda: _load_reference_if_empty(engine))
        with reporting_errors():  # a migration that refuses (an audit chain it will not seal) says why
            schema.bring_up_to_date(engine, then=load)
    elif not schema.is_current(engine):
        fail("the database schema is not up to date: run `lims db upgrade`")
    if node:  # a vehicle node: what a command stores (`lims acquire`) goes to the outbox too
        sync_outbox.enable(engine)
    return engine


def _load_reference_if_empty(engine: Engine) -> None:
    with Session(engine) as session:
        if session.exec(select(District.id)).first() is None:
            reference_data.load_reference(session, SYSTEM)
            session.commit()


def read_secret(prompt: str) -> str:
    """A password from stdin (one line), or interactively when stdin is a terminal."""
    if sys.stdin.isatty():
        return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")
