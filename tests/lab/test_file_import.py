"""Readings from export files: the two shipped mappings (a GBK CSV with a title row, a two-row merged header and a
totals line; a card reader's .xlsx), rejected rows with reasons, held rows, idempotency, bounds and the CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from lims.models import HeldReading, TestResult
from lims.models.instruments import ReadingImport
from lims.services.cases.files import Upload
from lims.services.core import clock
from lims.services.core.errors import Invalid, TooLarge
from lims.services.lab import file_import
from lims.services.results import imports
from tests.core.helpers import register
from tests.lab.files import GOLD_HEADER, gold_row, pesticide_csv, pesticide_row, xlsx
from tests.web.helpers import actor_of

PESTICIDE = "PR-8CH-0001"  # shipped: 8-channel enzyme-inhibition analyzer
GOLD = "GR-CR-0001"  # shipped: colloidal gold card reader


def _now(session: Session, minutes: int = 0) -> str:
    zone = clock.zone_of(session, actor_of(session, "admin").district_id)
    return (clock.local_time(clock.now(), zone) + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")


def _labels(client: TestClient, headers: dict[str, dict[str, str]], count: int, **sample: Any) -> list[str]:
    return [str(register(client, headers["tester"], **sample)["label_id"]) for _ in range(count)]


def _import(session: Session, serial: str, data: bytes, name: str = "export.csv") -> imports.Report:
    report = imports.import_file(session, actor_of(session, "admin"), serial, Upload(data, name))
    session.commit()
    return report


def test_the_pesticide_analysers_gbk_export_is_read_through_its_title_merged_header_and_totals(
    client: TestClient, headers: dict[str, dict[str, str]], session: Session
) -> None:
    a, b = _labels(client, headers, 2)
    data = pesticide_csv([pesticide_row(1, a, _now(session)), pesticide_row(2, b, _now(session), channel=2)])
    assert data.decode("gbk").startswith("农药残留")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    report = _import(session, PESTICIDE, data)
    assert [(r.state, r.judgement) for r in report.rows if r.state != "skipped"] == [
        ("stored", "negative"),
        ("stored", "negative"),
    ]
    assert report.count("skipped") == 1  # the 合计 line
    result = session.get(TestResult, report.rows[0].result_id)
    assert result is not None
    assert result.raw["control_a0"] == 0.512 and result.instrument_value == 17.9
    assert result.channel == 1 and result.instrument_judgement == "negative"
    # the analyser numbers each export from 1: a record is its day and its number
    assert result.instrument_sequence == int(_now(session)[:10].replace("-", "")) * 1_000_000_000 + 1


def test_the_same_file_imported_twice_stores_nothing_twice(
    client: TestClient, headers: dict[str, dict[str, str]], session: Session
) -> None:
    [a] = _labels(client, headers, 1)
    data = pesticide_csv([pesticide_row(1, a, _now(session))])
    first = _import(session, PESTICIDE, data)
    again = _import(session, PESTICIDE, data)
    assert (first.count("stored"), again.count("stored"), again.count("duplicate")) == (1, 0, 1)
    assert again.already_imported
    assert len(session.exec(select(TestResult).where(TestResult.instrument_sequence.is_not(None))).all()) == 1  # type: ignore[union-attr]
    assert len(session.exec(select(ReadingImport)).all()) == 1
    # the same records in another file (re-exported with one more line) are found stored too
    [b] = _labels(client, headers, 1)
    longer = pesticide_csv([pesticide_row(1, a, _now(session)), pesticide_row(2, b, _now(session))], totals=False)
    third = _import(session, PESTICIDE, longer)
    assert [r.state for r in third.rows if r.state != "skipped"] == ["duplicate", "stored"]


def test_bad_rows_are_rejected_with_their_reasons_and_unknown_samples_are_held(
    client: TestClient, headers: dict[str, dict[str, str]], session: Session
) -> None:
    [a] = _labels(client, headers, 1)
    good = pesticide_row(1, a, _now(session))
    not_a_number = pesticide_row(2, a, _now(session))
    not_a_number[6] = "溢出"
    no_time = pesticide_row(3, a, "昨天")
    unknown_item = pesticide_row(4, a, _now(session))
    unknown_item[4] = "甲醛"
    unknown_sample = pesticide_row(5, "XQ-20200101-0999", _now(session))
    twice = pesticide_row(1, a, _now(session))
    data = pesticide_csv([good, not_a_number, no_time, unknown_item, unknown_sample, twice, ["", "", ""]])
    report = _import(session, PESTICIDE, data)
    states = {r.line: (r.state, r.problem.code if r.problem else r.reason) for r in report.rows}
    assert states[4] == ("stored", "")
    assert states[5] == ("rejected", "file_import.not_a_number")
    assert states[6] == ("rejected", "file_import.not_a_time")
    assert states[7] == ("rejected", "file_import.unknown_item")
    assert states[8][0] == "held" and "unknown sample" in states[8][1]
    assert states[9] == ("rejected", "file_import.same_record_twice")
    assert report.count("skipped") == 2  # the blank line and 合计
    assert session.exec(select(HeldReading).where(HeldReading.instrument_serial == PESTICIDE)).one()
    assert "溢出" in report.rows[1].problem.text("zh") if report.rows[1].problem else False  # type: ignore[union-attr]


def test_the_card_readers_xlsx_export_is_judged_against_the_kit_lot(
    client: TestClient, headers: dict[str, dict[str, str]], session: Session
) -> None:
    a, b = _labels(client, headers, 2, product_name="猪肉", category_code="PORK")
    rows: list[list[object]] = [GOLD_HEADER, gold_row(1024, a, _now(session)), gold_row(1025, b, _now(session), t=0.5)]
    report = _import(session, GOLD, xlsx(rows), "export.xlsx")
    assert [(r.state, r.judgement) for r in report.rows if r.state != "skipped"] == [
        ("stored", "negative"),
        ("stored", "positive"),
    ]
    result = session.get(TestResult, report.rows[-1].result_id)
    assert result is not None and result.instrument_sequence == 1025 and result.kit_lot_id is not None


def test_the_preview_stores_nothing(client: TestClient, headers: dict[str, dict[str, str]], session: Session) -> None:
    [a] = _labels(client, headers, 1)
    data = pesticide_csv([pesticide_row(1, a, _now(session)), pesticide_row(2, a, "x")])
    report = imports.preview(session, actor_of(session, "admin"), PESTICIDE, Upload(data))
    session.commit()
    assert [r.state for r in report.rows if r.state != "skipped"] == ["new", "rejected"]
    assert session.exec(select(TestResult)).first() is None
    assert file_import.kept(session, report.sha256) == data


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "file_import.empty"),
        ("序号,通道\r\n".encode("utf-16"), "file_import.encoding"),
        (b"name,value\r\nx,1\r\n", "file_import.no_header"),
        (b"\x00\x01\x02 not text at all", "file_import.not_csv"),
        ("标题\r\n序号,通道,样品编号\r\n1,1,X\r\n".encode("gbk"), "file_import.missing_columns"),
    ],
)
def test_a_file_that_is_not_an_export_is_refused_with_a_reason(session: Session, data: bytes, code: str) -> None:
    with pytest.raises(Invalid) as refused:
        _import(session, PESTICIDE, data)
    assert refused.value.code == code


def test_files_are_bounded_in_size_rows_and_unpacked_size(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TooLarge):
        _import(session, PESTICIDE, b"x" * (file_import.MAX_FILE_BYTES + 1))
    monkeypatch.setattr(file_import, "MAX_ROWS", 3)
    rows = [pesticide_row(n, "XQ-X", _now(session)) for n in range(1, 20)]
    with pytest.raises(TooLarge):
        _import(session, PESTICIDE, pesticide_csv(rows))
    monkeypatch.setattr(file_import, "MAX_XLSX_UNPACKED", 100)
    with pytest.raises(TooLarge):
        _import(session, GOLD, xlsx([GOLD_HEADER]), "x.xlsx")
    with pytest.raises(Invalid):
        _import(session, GOLD, b"PK\x03\x04 broken zip", "x.xlsx")


def test_every_shipped_mapping_is_valid_and_one_is_chosen_by_the_instruments_model(session: Session) -> None:
    names = {m.name for m in file_import.mappings()}
    assert names == {"pesticide-analyser-csv", "gold-reader-xlsx"}
    from lims.services.lab import instruments

    gold = instruments.get(session, actor_of(session, "admin"), GOLD)
    assert file_import.mapping_for(gold).name == "gold-reader-xlsx"
    with pytest.raises(Invalid):
        file_import.mapping_for(gold, "pesticide-analyser-csv")


def test_lims_readings_import_stores_a_file_and_lists_refused_rows(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    session: Session,
    tmp_path: Path,
    engine: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lims.cli import main

    monkeypatch.setattr("lims.cli.common.get_engine", lambda: engine)
    monkeypatch.setattr("lims.cli.common.schema.bring_up_to_date", lambda *_a, **_k: None)
    [a] = _labels(client, headers, 1)
    path = tmp_path / "农残导出.csv"
    path.write_bytes(pesticide_csv([pesticide_row(1, a, _now(session)), pesticide_row(2, a, "x")]))
    runner = CliRunner()
    done = runner.invoke(main.app, ["readings", "import", str(path), "--instrument", PESTICIDE, "--json"])
    assert done.exit_code == 1, done.output  # a row was refused
    report = json.loads(done.output.strip().splitlines()[-1])
    assert report["counts"]["stored"] == 1 and report["counts"]["rejected"] == 1
    again = runner.invoke(main.app, ["readings", "import", str(path), "--instrument", PESTICIDE])
    assert "duplicate=1" in again.output
    listed = runner.invoke(main.app, ["readings", "--instrument", PESTICIDE, "--json"])
    assert listed.exit_code == 0 and a in listed.output
    unknown = runner.invoke(main.app, ["readings", "import", str(path), "--instrument", "NO-SUCH"])
    assert unknown.exit_code == 1 and "NO-SUCH" in unknown.output
