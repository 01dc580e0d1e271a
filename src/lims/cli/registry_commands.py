"""Registry commands: import products (Open Food Facts exports) and trademarks, search marks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlmodel import Session

from lims.cli.common import ready_engine, reporting_errors
from lims.services.core.audit import SYSTEM
from lims.services.reference import registry

products_app = typer.Typer(no_args_is_help=True, help="The product registry (GTIN → product).")
marks_app = typer.Typer(no_args_is_help=True, help="The trademark registry.")


@products_app.command("import")
def import_products(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="OFF export: .jsonl or .csv (tab-separated), optionally .gz"),
    ],
) -> None:
    """Upsert products from an Open Food Facts export; prints counts and the rejected rows with reasons."""
    engine = ready_engine()
    with (
        reporting_errors(),
        Session(engine) as session,
        Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True) as bar,
    ):
        task = bar.add_task("importing products")
        report = registry.import_product_file(
            session, SYSTEM, file, progress=lambda n: bar.update(task, description=f"{n} rows read")
        )
    typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))


@marks_app.command("import")
def import_marks(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Upsert trademarks from a CSV file (registration_no, mark, owner, classes, valid_from, valid_to, status)."""
    engine = ready_engine()
    with reporting_errors(), Session(engine) as session:
        report = registry.import_trademark_file(session, SYSTEM, file)
    typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))


@marks_app.command("search")
def search(query: str, limit: Annotated[int, typer.Option(min=1, max=100)] = 10) -> None:
    """Marks that read or look like QUERY (Chinese or pinyin), best first."""
    engine = ready_engine()
    with Session(engine) as session:
        for mark, score in registry.find_marks(session, query, limit):
            typer.echo(f"{score:5.1f}  {mark.mark}  {mark.registration_no}  {mark.owner}  {mark.status}")


def register(app: typer.Typer) -> None:
    """Add the registry commands to the `lims` app."""
    app.add_typer(products_app, name="products")
    app.add_typer(marks_app, name="trademarks")
