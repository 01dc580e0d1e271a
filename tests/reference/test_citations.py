"""`lims reference check`: the shipped data cites only sources in force; a missing citation and a superseded one are
listed (through the catalogues) and make the command fail."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from lims import i18n
from lims.cli.main import app
from lims.services.core.errors import Invalid
from lims.services.reference import citations, reference_data

SHIPPED = reference_data.shipped_reference_dir()


def _shipped_items() -> dict[str, Any]:
    return yaml.safe_load((SHIPPED / "items.yaml").read_text(encoding="utf-8"))


def _folder(tmp_path: Path, doc: dict[str, Any]) -> Path:
    folder = tmp_path / "reference"
    folder.mkdir()
    (folder / "items.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return folder


def _flawed(tmp_path: Path) -> Path:
    """The shipped items with the nitrite quick method and one limit's source gone, and SO2 citing GB 2760-2014."""
    doc = _shipped_items()
    no2 = next(it for it in doc["items"] if it["code"] == "NO2")
    no2["quick_method"] = ""
    afb1_rice = next(lim for lim in doc["limits"] if lim["item"] == "AFB1" and lim["categories"] == ["RICE"])
    afb1_rice["source"] = "  "
    so2 = next(lim for lim in doc["limits"] if lim["item"] == "SO2" and lim["categories"] == ["DRIED_FRUIT"])
    so2["source"] = "GB 2760—2014 A.1 二氧化硫: 水果干类 0.1 g/kg"
    return _folder(tmp_path, doc)


def test_the_shipped_data_cites_only_sources_in_force_on_2026_12_01() -> None:
    assert citations.check(None, date(2026, 12, 1)) == []


def test_every_shipped_item_names_its_quick_method_and_its_confirmatory_method() -> None:
    for it in _shipped_items()["items"]:
        assert it["quick_method"].strip() and it["reference_method"].strip(), it["code"]
        assert it["method"]["source"].strip(), it["code"]
        assert "default_cutoff_tc" not in it["method"] and "default_min_c" not in it["method"], it["code"]


def test_a_missing_citation_and_a_superseded_one_are_listed(tmp_path: Path) -> None:
    found = citations.check(_flawed(tmp_path), date(2026, 12, 1))
    shown = [i18n.render_message(f.message, "en") for f in found]
    assert shown == [
        "item NO2: no quick-test method cited",
        "limit of AFB1 on RICE: no source cited",
        "limit of SO2 on DRIED_FRUIT: cites GB 2760-2014, replaced by GB 2760-2024 from 2025-02-08",
    ]
    assert [f.where for f in found] == ["item NO2", "limit AFB1 RICE", "limit SO2 DRIED_FRUIT"]


def test_a_standard_is_superseded_from_the_day_its_replacement_is_in_force(tmp_path: Path) -> None:
    folder = _flawed(tmp_path)

    def superseded(day: date) -> list[str]:
        return [f.where for f in citations.check(folder, day) if "2760-2014" in i18n.render_message(f.message, "en")]

    assert superseded(date(2025, 2, 7)) == []
    assert superseded(date(2025, 2, 8)) == ["limit SO2 DRIED_FRUIT"]


def test_a_citation_of_a_standard_not_yet_in_force_is_listed() -> None:
    early = [i18n.render_message(f.message, "en") for f in citations.check(None, date(2025, 2, 7))]
    assert "limit of NO2 on CURED_MEAT: cites GB 2760-2024, in force only from 2025-02-08" in early


def test_a_folder_may_bring_its_own_table_of_superseded_standards(tmp_path: Path) -> None:
    folder = _flawed(tmp_path)
    (folder / "superseded.yaml").write_text(
        "superseded:\n  - {cited: GB 2761-2017, replaced_by: GB 2761-2099, from: 2026-01-01, source: test}\n",
        encoding="utf-8",
    )
    shown = [i18n.render_message(f.message, "en") for f in citations.check(folder, date(2026, 12, 1))]
    assert "limit of SO2 on DRIED_FRUIT: cites GB 2760-2014, replaced by GB 2760-2024 from 2025-02-08" not in shown
    # maize and peanuts, and wheat (the rice limit lost its source in this folder)
    assert sum("cites GB 2761-2017, replaced by GB 2761-2099 from 2026-01-01" in s for s in shown) == 2


def test_the_command_fails_and_speaks_chinese_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIMS_LANG", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    folder = _flawed(tmp_path)
    result = CliRunner().invoke(app, ["reference", "check", "--folder", str(folder), "--on", "2026-12-01"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines == [i18n.render_message(f.message, "zh") for f in citations.check(folder, date(2026, 12, 1))]
    assert lines[0] == "检测项目 NO2：未引用快速检测方法"
    assert "GB 2760-2014" in lines[2] and "GB 2760-2024" in lines[2] and "起" in lines[2]


def test_the_command_passes_on_the_shipped_data_in_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMS_LANG", "en")
    result = CliRunner().invoke(app, ["reference", "check", "--on", "2026-12-01"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "every item, method, limit and kit lot cites a source in force"


def test_a_bad_date_or_folder_is_a_clear_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMS_LANG", "en")
    bad_day = CliRunner().invoke(app, ["reference", "check", "--on", "2026-13-01"])
    assert bad_day.exit_code == 1 and "is not a date" in bad_day.stderr
    with pytest.raises(Invalid, match=r"has no items\.yaml"):
        citations.check(tmp_path, date(2026, 12, 1))


def test_citations_are_read_in_any_spelling() -> None:
    assert citations.cited("GB 2760—2014 表A.1; GB/T5009.199-2003 第二法; 农业部公告第 193 号; NY/T 448–2001") == [
        "GB 2760-2014",
        "GB/T 5009.199-2003",
        "农业部公告第193号",
        "NY/T 448-2001",
    ]


def test_the_shipped_table_names_where_each_replacement_comes_from() -> None:
    table = citations.superseded_table()
    assert table["GB 2760-2014"].replaced_by == "GB 2760-2024" and table["GB 2760-2014"].since == date(2025, 2, 8)
    assert table["GB 2763-2021"].since == table["GB 2763.1-2022"].since == date(2026, 3, 1)
    assert all(row.source for row in table.values())


def test_copying_the_shipped_folder_checks_the_same(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(SHIPPED, copy)
    assert citations.check(copy, date(2026, 12, 1)) == []
