"""`lims scan` and `lims label` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from lims.cli.barcode_commands import register

URL = "https://lims.example.cn/s/S2026000123?sig=abc"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_label_then_scan_round_trip(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "label.png"
    result = runner.invoke(
        app, ["label", "S2026000123", "--url", URL, "-o", str(out), "--format", "png", "--items", "NY448,CLB"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["scan", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {(r["file"], r["symbology"], r["text"]) for r in rows} == {
        (str(out), "Code 128", "S2026000123"),
        (str(out), "QR Code", URL),
    }


@pytest.mark.parametrize("fmt", ["svg", "pdf", "zpl"])
def test_label_formats(app: typer.Typer, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"label.{fmt}"
    result = CliRunner().invoke(app, ["label", "S1", "--url", URL, "-o", str(out), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 100


def test_label_refuses_long_id(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["label", "S20260001234567", "--url", URL, "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 1
    assert "12 characters" in result.output


def test_scan_unreadable_files_exit_non_zero(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    result = CliRunner().invoke(app, ["scan", str(bad), str(tmp_path / "missing.jpg")])
    assert result.exit_code == 1
    assert "not an image" in result.output and "missing.jpg" in result.output


def test_scan_reports_a_gs1_symbol_with_bad_content_as_invalid(app: typer.Typer) -> None:
    sample = Path("/work/shared/benchmarks/zxing-samples/code128-1/1.png")
    result = CliRunner().invoke(app, ["scan", str(sample)])
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (row["text"], row["gs1"], row["kind"]) == ("168901", True, "invalid")
    assert "(16)" in row["error"]
