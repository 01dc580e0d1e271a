"""Loading the reference files: an item or limit that leaves them is retired (kept, audited, offered for no new test),
never deleted; the new fields (quick method, confirmatory method) are stored."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.models import AuditEvent, FoodCategory, Limit, TestItem
from lims.services.core.audit import SYSTEM, verify
from lims.services.core.audit_tables import AUDITED_MODELS
from lims.services.core.errors import Invalid
from lims.services.reference import reference_data

SHIPPED = reference_data.shipped_reference_dir()


def _shipped() -> dict[str, Any]:
    return yaml.safe_load((SHIPPED / "items.yaml").read_text(encoding="utf-8"))


def _write(folder: Path, doc: dict[str, Any]) -> Path:
    folder.mkdir()
    (folder / "items.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return folder


def _old(tmp_path: Path) -> Path:
    """Items as a database loaded before this release holds them: one NF item, OPC on fruit, HCHO on all aquatic."""
    doc = _shipped()
    doc.pop("retired")
    doc["items"].append(
        {"code": "NF", "name_zh": "硝基呋喃类代谢物", "name_en": "Nitrofuran metabolites", "family": "gold",
         "banned": True, "method_standard": "KJ 201705", "unit": "µg/kg", "method": {"detection_limit": 1.0}}
    )  # fmt: skip
    doc["limits"] += [
        {"item": "NF", "categories": ["AQUATIC"], "limit": None, "unit": "µg/kg", "source": "农业农村部公告第250号"},
        {"item": "OPC", "categories": ["FRUIT"], "limit": 50.0, "unit": "%", "source": "GB/T 5009.199-2003"},
        {"item": "HCHO", "categories": ["AQUATIC"], "limit": None, "unit": "mg/kg", "source": "名单(第一批)"},
    ]
    doc["kit_lots"].append(
        {"item": "NF", "lot": "NF-2610B", "manufacturer": "x生物", "expires_on": "2027-04-30", "cutoff_tc": 0.85}
    )
    return _write(tmp_path / "old", doc)


def _limit(session: Session, item: str, category: str) -> Limit | None:
    return session.exec(
        select(Limit)
        .join(TestItem, TestItem.id == Limit.item_id)  # type: ignore[arg-type]
        .join(FoodCategory, FoodCategory.id == Limit.category_id)  # type: ignore[arg-type]
        .where(TestItem.code == item, FoodCategory.code == category)
    ).first()


def test_an_old_database_loads_the_new_files_and_keeps_what_they_retire(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as session:
        reference_data.load_reference(session, SYSTEM, _old(tmp_path))
        session.commit()
        nf = session.exec(select(TestItem).where(TestItem.code == "NF")).one()
        assert not nf.retired and "NF" in [i.code for i in reference_data.items(session)]

        report = reference_data.load_reference(session, SYSTEM, SHIPPED)
        session.commit()
        session.refresh(nf)
        assert nf.retired and nf.id is not None  # kept for the results that name it
        assert "NF" not in [i.code for i in reference_data.items(session)]
        assert {"AOZ", "AMOZ", "AHD", "SEM"} <= {i.code for i in reference_data.items(session)}
        retired = {(i, c): _limit(session, i, c) for i, c in [("NF", "AQUATIC"), ("OPC", "FRUIT"), ("HCHO", "AQUATIC")]}
        assert all(limit is not None and limit.retired for limit in retired.values())
        for kept in [("OPC", "VEG"), ("HCHO", "SOAKED_AQUATIC"), ("HCHO", "TRIPE"), ("AOZ", "AQUATIC")]:
            limit = _limit(session, *kept)
            assert limit is not None and not limit.retired, kept
        assert report.changed.get("test_item", 0) >= 1 and report.changed.get("item_limit", 0) >= 3
        retirements = session.exec(
            select(AuditEvent)
            .where(AuditEvent.entity == "test_item", AuditEvent.entity_id == nf.id)
            .order_by(AuditEvent.id)  # type: ignore[arg-type]
        ).all()
        assert [e.action for e in retirements][-1] == "update"
        last = retirements[-1]
        assert last.after is not None and last.before is not None
        assert last.after["retired"] is True and last.before["retired"] is False

        again = reference_data.load_reference(session, SYSTEM, SHIPPED)
        assert again.created == {} and again.changed == {}  # idempotent
        assert verify(session, AUDITED_MODELS) is None  # nothing deleted behind the audit trail


def test_the_quick_method_and_the_confirmatory_method_are_stored(session: Session) -> None:
    reference_data.load_reference(session, SYSTEM, SHIPPED)
    clb = reference_data.item(session, "CLB")
    assert clb.quick_method.startswith("KJ 201706 ") and "胶体金免疫层析法" in clb.quick_method
    assert clb.reference_method.startswith("GB/T 22286-2008")
    assert clb.method_standard == clb.quick_method  # what the public pages show
    assert "default_cutoff_tc" not in clb.method
    opc = reference_data.item(session, "OPC")
    assert opc.method["interfering_species"][:3] == ["葱", "蒜", "萝卜"]
    assert "GB/T 5009.199-2003" in opc.method["interfering_clause"]
    flo = reference_data.item(session, "FLO")  # from SAMR's 2025 quick methods
    assert flo.quick_method.startswith("KJ 202514 ") and not flo.banned


def test_an_item_both_listed_and_retired_is_refused(session: Session, tmp_path: Path) -> None:
    doc = _shipped()
    doc["retired"]["items"].append({"code": "CLB", "reason": "test"})
    with pytest.raises(Invalid, match="item CLB is listed and also retired"):
        reference_data.load_reference(session, SYSTEM, _write(tmp_path / "both", doc))


def test_a_limit_both_listed_and_retired_is_refused(session: Session, tmp_path: Path) -> None:
    doc = _shipped()
    reference_data.load_reference(session, SYSTEM, SHIPPED)
    doc["retired"]["limits"].append({"item": "OPC", "categories": ["VEG"], "reason": "test"})
    with pytest.raises(Invalid, match="the limit of OPC on VEG is listed and also retired"):
        reference_data.load_reference(session, SYSTEM, _write(tmp_path / "both", doc))


@pytest.mark.parametrize(
    ("key", "value", "refusal"),
    [
        ("absorbance_range", [2.0, 1.0], "item NO2: absorbance_range must be [min, max] with min below max"),
        ("measured_as", "NO3-", "item NO2: unknown basis of expression 'NO3-'; known: NaNO2, NO2-"),
        ("significant_figures", 0, "item NO2: significant_figures must be a whole number of at least 1"),
    ],
)
def test_a_method_setting_the_judgement_cannot_use_is_refused_on_load(
    session: Session, tmp_path: Path, key: str, value: Any, refusal: str
) -> None:
    doc = _shipped()
    nitrite = next(it for it in doc["items"] if it["code"] == "NO2")
    nitrite["method"][key] = value
    with pytest.raises(Invalid, match=re.escape(refusal)):
        reference_data.load_reference(session, SYSTEM, _write(tmp_path / "bad", doc))


def test_an_item_missing_from_the_files_is_left_alone(session: Session, tmp_path: Path) -> None:
    reference_data.load_reference(session, SYSTEM, SHIPPED)
    doc = _shipped()
    doc["items"] = [it for it in doc["items"] if it["code"] != "BORAX"]
    doc["limits"] = [lim for lim in doc["limits"] if lim["item"] != "BORAX"]
    reference_data.load_reference(session, SYSTEM, _write(tmp_path / "partial", doc))
    borax = reference_data.item(session, "BORAX")
    assert not borax.retired  # only what the file retires is retired


def test_the_public_item_list_shows_the_methods_and_leaves_out_retired_items(
    engine: Engine, client: Any, tmp_path: Path
) -> None:
    with Session(engine) as session:
        reference_data.load_reference(session, SYSTEM, _old(tmp_path))
        reference_data.load_reference(session, SYSTEM, SHIPPED)
        session.commit()
    listed = {i["code"]: i for i in client.get("/api/v1/reference/items").json()}
    assert "NF" not in listed and {"AOZ", "AMOZ", "AHD", "SEM"} <= set(listed)
    assert listed["SO2"]["reference_method"].startswith("GB 5009.34-2022")
    assert listed["OPC"]["quick_method"].startswith("KJ 201710 ")
