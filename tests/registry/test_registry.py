"""Product and trademark registries in the database: idempotent imports, rejected rows, lookups, search."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from lims.models import Product
from lims.services.core.audit import SYSTEM, verify
from lims.services.core.audit_tables import AUDITED_MODELS
from lims.services.reference import registry


def test_sample_catalogue_imports_once(engine: Engine) -> None:
    with Session(engine) as session:
        products, marks = registry.load_samples(session, SYSTEM)
        assert products.created > 10 and marks.created > 3 and not products.rejected
        again, marks_again = registry.load_samples(session, SYSTEM)
        assert (again.created, again.updated, again.unchanged) == (0, 0, products.created)
        assert marks_again.created == 0
        assert session.exec(select(func.count()).select_from(Product)).one() == products.created


def test_off_jsonl_upsert_and_rejected_rows(engine: Engine, tmp_path: Path) -> None:
    rows = [
        {"code": "6901234567892", "product_name": "测试饼干", "brands": "测试"},
        {"code": "6901234567891", "product_name": "bad check digit"},
        {"code": "", "product_name": "no code"},
        {"code": "036000291452", "product_name": "UPC-A product"},
    ]
    export = tmp_path / "off.jsonl"
    export.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{not json\n", encoding="utf-8")
    with Session(engine) as session:
        report = registry.import_product_file(session, SYSTEM, export)
        assert report.created == 2
        assert len(report.rejected) == 3
        assert any("check digit" in r.reason for r in report.rejected)
        # The UPC-A and its EAN-13 form are one product, stored as GTIN-14.
        assert registry.product(session, "00036000291452") is not None
        changed = tmp_path / "off2.jsonl"
        changed.write_text(
            json.dumps({**rows[0], "product_name": "测试饼干（新包装）"}, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        second = registry.import_product_file(session, SYSTEM, changed)
        assert (second.created, second.updated) == (0, 1)
        assert verify(session, AUDITED_MODELS) is None


def test_mark_search_finds_knock_offs(engine: Engine) -> None:
    with Session(engine) as session:
        registry.load_samples(session, SYSTEM)
        session.commit()
        best = [m.mark for m, _score in registry.find_marks(session, "康帅傅", limit=3)]
        assert "康师傅" in best
        assert "旺仔" in [m.mark for m, _score in registry.find_marks(session, "旺子", limit=3)]
