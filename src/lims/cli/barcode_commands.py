"""Barcode commands: `lims scan` reads codes from images; `lims label` writes a sample label."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from barcodes.labels import LabelData, LabelFormat
from lims import i18n
from lims.cli.common import fail
from lims.i18n import _N


def scan(
    images: Annotated[list[str], typer.Argument(help="image files (PNG, JPEG, WebP, BMP, GIF, TIFF)")],
) -> None:
    """Print one JSON object per decoded code per line: file, symbology, text, GS1 data."""
    from barcodes.decode import ImageError, decode
    from barcodes.gs1 import CodeError, parse_code

    lang = i18n.cli_language()
    failed = 0
    for name in images:
        try:
            found = decode(Path(name))
        except ImageError as exc:
            typer.echo(f"lims: {name}: {exc.reason}", err=True)
            failed += 1
            continue
        if not found:
            typer.echo(f"lims: {name}: {i18n.gettext(_N('no barcode found'), lang)}", err=True)
        for code in found:
            record = {"file": name, **code.to_dict()}
            try:
                if code.gs1_problem:
                    record["kind"] = "invalid"
                    record["error"] = i18n.render_message(code.gs1_problem, lang)
                else:
                    parsed = parse_code(code.text)
                    record["kind"] = parsed.kind.value
                    if parsed.is_gs1:
                        record["gs1_data"] = parsed.to_dict()
            except CodeError as exc:
                record["kind"] = "invalid"
                record["error"] = i18n.render_message(exc.message, lang)
            typer.echo(json.dumps(record, ensure_ascii=False))
    if failed:
        raise typer.Exit(1)


def label(
    sample_id: Annotated[str, typer.Argument(help="sample id, at most 12 characters")],
    url: Annotated[
        str | None, typer.Option("--url", help="public URL for the QR code (default: the sample's signed link)")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")] = Path("label.png"),
    fmt: Annotated[LabelFormat, typer.Option("--format", help="png, svg, pdf or zpl")] = LabelFormat.PNG,
    point: Annotated[str, typer.Option(help="sampling point")] = "",
    date: Annotated[str, typer.Option(help="sampling date")] = "",
    items: Annotated[list[str] | None, typer.Option(help="test item code (repeat or separate by commas)")] = None,
) -> None:
    """Write a sample label (Code 128 id, QR URL, id, point, date, item codes)."""
    from barcodes.labels import LabelData, LabelError, render_label

    codes = tuple(c.strip() for entry in items or [] for c in entry.split(",") if c.strip())
    if url is None:  # a registered sample: its signed link and the rest of the label come from the database
        fields = _registered_label(sample_id)
        sample_id, url = fields.sample_id, fields.url
        point, date, codes = point or fields.point, date or fields.date, codes or fields.items
    try:
        data = render_label(LabelData(sample_id, url, point, date, codes), fmt)
    except LabelError as exc:
        fail(str(exc))
    try:
        output.write_bytes(data)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    typer.echo(f"wrote {output} ({fmt.value}, {len(data)} bytes)")


def _registered_label(sample_id: str) -> LabelData:
    from sqlmodel import Session

    from lims.cli.common import ready_engine, reporting_errors
    from lims.i18n import _N
    from lims.services.core.errors import NotFound
    from lims.services.samples import sample_labels, sampling

    with reporting_errors(), Session(ready_engine()) as session:
        sample = sampling.find(session, sample_id)  # the command runs with the database's own rights
        if sample is None:
            raise NotFound("sample_labels.no_sample", _N("no sample {label_id}"), label_id=sample_id)
        return sample_labels.label_data(session, sample)


def register(app: typer.Typer) -> None:
    """Add `scan` and `label` to the `lims` command."""
    app.command("scan")(scan)
    app.command("label")(label)
