"""Product and trademark parsers, fuzzy mark search, authentication findings, EPCIS export."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from barcodes.authenticate import authenticate, country_of
from barcodes.epcis import EpcisError, epcis_document, measurement_type
from barcodes.gs1 import parse_code
from barcodes.products import (
    ProductRecord,
    RejectedRow,
    find_product,
    load_sample_catalogue,
    parse_off_csv,
    parse_off_jsonl,
)
from barcodes.trademarks import (
    KNOCKOFF_THRESHOLD,
    Trademark,
    load_sample_trademarks,
    marks_of_owner,
    parse_trademarks_csv,
    search_marks,
)
from tests.barcodes.epcis_schema import problems

TODAY = dt.date(2026, 11, 29)
PRODUCTS = load_sample_catalogue()
MARKS = load_sample_trademarks()


def test_sample_catalogue_is_valid_and_chinese() -> None:
    assert len(PRODUCTS) >= 30
    assert len({p.gtin14 for p in PRODUCTS}) == len(PRODUCTS)
    assert sum(p.country == "CN" for p in PRODUCTS) >= 25
    for p in PRODUCTS:
        parse_code(p.gtin14)


def test_find_product_by_any_gtin_form() -> None:
    p = find_product(PRODUCTS, "6920152400012")
    assert p is not None and p.brand == "康师傅"
    assert find_product(PRODUCTS, "06920152400012") == p
    assert find_product(PRODUCTS, "6920152400013") is None
    assert find_product(PRODUCTS, "not a code") is None


def test_off_jsonl_rows_and_rejects() -> None:
    lines = [
        json.dumps(
            {
                "code": "6920152400012",
                "product_name": "Beef noodles",
                "product_name_zh": "红烧牛肉面",
                "brands": "康师傅,Master Kong",
                "categories_tags": ["en:instant-noodles"],
                "countries_tags": ["en:china"],
                "quantity": "105 g",
            },
            ensure_ascii=False,
        ),
        "{broken",
        json.dumps({"code": "6920152400013", "product_name": "x"}),
        json.dumps({"code": "2012345678903", "product_name": "deli weight"}),
        json.dumps({"code": "6920152400012", "product_name": "again"}),
        json.dumps({"code": "70177154004", "product_name": "UPC without leading zero"}),
        json.dumps({"code": "6920152400029"}),
        "",
        "[1, 2]",
    ]
    rows = list(parse_off_jsonl(lines))
    products = [r for r in rows if isinstance(r, ProductRecord)]
    rejects = {r.line: r.reason for r in rows if isinstance(r, RejectedRow)}
    assert [p.gtin14 for p in products] == ["06920152400012", "00070177154004"]
    assert products[0].name == "红烧牛肉面" and products[0].brand == "康师傅"
    assert products[0].category == "instant noodles"
    assert "malformed JSON" in rejects[2]
    assert "expected 2, got 3" in rejects[3]
    assert "in-store" in rejects[4]
    assert "duplicate" in rejects[5] and "line 1" in rejects[5]
    assert "name" in rejects[7]
    assert "not a JSON object" in rejects[9]


def test_off_tab_separated_csv() -> None:
    header = "code\tproduct_name\tbrands\tbrand_owner\tquantity\tcategories_en\tcountries_en\torigins"
    lines = [
        header,
        "6902560000015\t旺仔牛奶\t旺仔\t中国旺旺控股有限公司\t245ml\tMilk drinks,Dairies\tChina\t湖南",
        "12345\tshort\t\t\t\t\t\t",
        '6901234567892\tquote " inside\tX\t\t\t\t\t',
    ]
    rows = list(parse_off_csv(lines))
    assert isinstance(rows[0], ProductRecord)
    assert rows[0].brand_owner == "中国旺旺控股有限公司" and rows[0].category == "Milk drinks"
    assert isinstance(rows[1], RejectedRow) and "8, 12, 13 or 14" in rows[1].reason
    assert isinstance(rows[2], ProductRecord) and rows[2].name == 'quote " inside'


def test_trademark_csv_parser() -> None:
    lines = [
        "registration_no,mark,owner,classes,valid_from,valid_to,status",
        "1,康师傅,康师傅控股有限公司,30;32,2013-06-14,2033-06-13,registered",
        "1,重复,x,30,,,registered",
        "2,,x,30,,,registered",
        "3,坏类,x,99,,,registered",
        "4,坏日期,x,30,2020-13-01,,registered",
        "5,状态,x,30,,,unknown",
        "6,倒序,x,30,2020-01-01,2010-01-01,registered",
    ]
    rows = list(parse_trademarks_csv(lines))
    assert isinstance(rows[0], Trademark) and rows[0].classes == (30, 32)
    assert rows[0].in_force(TODAY) and not rows[0].in_force(dt.date(2034, 1, 1))
    assert [r.reason.split()[0] for r in rows[1:] if isinstance(r, RejectedRow)] == [
        "duplicate",
        "missing",
        "Nice",
        "bad",
        "unknown",
        "validity",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("康帅傅", "康师傅"),
        ("旺子", "旺仔"),
        ("雷碧", "雪碧"),
        ("大白免", "大白兔"),
        ("奥利奧", "奥利奥"),
        ("青鸟啤酒", "青岛啤酒"),
        ("kangshifu", "康师傅"),
        ("wangzai", "旺仔"),
    ],
)
def test_knockoffs_find_the_imitated_mark(query: str, expected: str) -> None:
    hits = [h for h in search_marks(query, MARKS) if h.mark.mark != query]
    assert hits and hits[0].mark.mark == expected
    assert hits[0].score >= KNOCKOFF_THRESHOLD


@pytest.mark.parametrize("query", ["好吃面", "可口", "蒙牛伊利", "abc"])
def test_unrelated_queries_are_not_knockoffs(query: str) -> None:
    assert all(h.score < KNOCKOFF_THRESHOLD for h in search_marks(query, MARKS))


def test_exact_mark_ranks_first_and_class_filter() -> None:
    hits = search_marks("旺仔", MARKS)
    assert hits[0].exact and hits[0].mark.mark == "旺仔"
    assert search_marks("旺仔", MARKS, nice_class=5) == []
    assert search_marks("  ", MARKS) == []


def test_marks_of_owner_ignores_legal_form() -> None:
    assert {m.mark for m in marks_of_owner("中国旺旺控股有限公司", MARKS)} == {"旺仔", "旺旺"}
    assert {m.mark for m in marks_of_owner("中国旺旺", MARKS)} == {"旺仔", "旺旺"}
    assert marks_of_owner("", MARKS) == []


def _codes(code: str, **kw: str | None) -> dict[str, str]:
    product = find_product(PRODUCTS, code)
    findings = authenticate(code, product, MARKS, kw.get("origin"), kw.get("mark"), today=TODAY)
    return {f.code: f.severity for f in findings}


def test_genuine_product_is_all_ok() -> None:
    found = _codes("6920152400012", mark="康师傅", origin="天津")
    assert found == {"code_valid": "ok", "issuer": "info", "product_registered": "ok", "mark_registered": "ok"}


def test_bad_check_digit_is_critical_with_reason() -> None:
    findings = authenticate("6920152400013", None, MARKS, today=TODAY)
    assert findings[0].code == "code_invalid" and findings[0].severity == "critical"
    assert findings[0].params["reason"].params == {"expected": 2, "got": "3"} and "expected 2" in findings[0].message_en


def test_knockoff_mark_on_package() -> None:
    found = _codes("6902560000015", mark="旺子")
    assert found["mark_knockoff"] == "critical"
    found = _codes("6920152400012", mark="康帅傅")
    assert found["mark_cancelled"] == "critical" and found["mark_knockoff"] == "critical"


def test_expired_mark_and_owner_mismatch() -> None:
    assert _codes("6923110000026", mark="特仑苏")["mark_expired"] == "warning"
    assert _codes("6904740000013", mark="皇上皇")["mark_expired"] == "warning"
    found = _codes("6920152400012", mark="旺仔")
    assert found["mark_owner_mismatch"] == "warning" and found["brand_mismatch"] == "warning"


def test_origin_claims_against_issuer() -> None:
    assert _codes("4719512000014", origin="中国大陆")["origin_mismatch"] == "warning"
    assert "origin_mismatch" not in _codes("4719512000014", origin="台湾")
    assert "origin_mismatch" not in _codes("6920152400012", origin="湖南长沙")
    assert country_of("日本大阪") == "JP" and country_of("") is None


def test_unknown_restricted_and_other_codes() -> None:
    assert _codes("6901234567892") == {"code_valid": "ok", "issuer": "info", "product_unknown": "warning"}
    assert _codes("2012345678903")["restricted_number"] == "warning"
    assert _codes("9780306406157")["publication_number"] == "info"
    assert _codes("S2026000123") == {"not_gs1": "info"}
    assert _codes("6901234567892", mark="好吃面")["mark_unregistered"] == "warning"


def test_epcis_document_shape() -> None:
    doc = epcis_document(
        [
            {
                "tested_at": "2026-05-12T10:30:00+08:00",
                "gtin": "6920152400012",
                "lot": "L26/05",
                "item_code": "NY448",
                "value": 38.5,
                "unit": "%",
                "judgement": "negative",
                "positive": False,
                "read_point": "https://lims.example.cn/points/P3",
            },
            {"tested_at": "2026-05-12T09:00:00+08:00", "sample_id": "S2026000123", "biz_step": "sampling"},
        ],
        created=dt.datetime(2026, 5, 13, tzinfo=dt.UTC),
    )
    json.dumps(doc)
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
    first, second = doc["epcisBody"]["eventList"]
    assert first["type"] == "ObjectEvent" and first["action"] == "OBSERVE" and first["bizStep"] == "inspecting"
    assert first["eventTimeZoneOffset"] == "+08:00"
    assert first["quantityList"][0]["epcClass"] == "https://id.gs1.org/01/06920152400012/10/L26%2F05"
    assert parse_code(first["quantityList"][0]["epcClass"]).lot == "L26/05"
    report = first["sensorElementList"][0]["sensorReport"][0]
    assert report["value"] == 38.5 and report["uom"] == "P1" and report["booleanValue"] is False
    assert report["type"] == "Dimensionless"  # a CBV measurement type: the schema requires one
    assert problems(doc) == []
    assert second["bizStep"] == "sampling" and "sensorElementList" not in second
    again = epcis_document([{"tested_at": "2026-05-12T09:00:00+08:00", "sample_id": "S2026000123"}])
    assert again["epcisBody"]["eventList"][0]["eventID"] != second["eventID"]  # biz_step differs


def test_epcis_measurement_types_and_case_state_are_schema_valid() -> None:
    assert measurement_type("mg/L") == "MassConcentration" and measurement_type("µg/kg") == "Dimensionless"
    assert measurement_type(None) == "Dimensionless"
    doc = epcis_document(
        [
            {
                "tested_at": "2026-05-12T10:30:00+08:00",
                "sample_id": "XQ2605120014",
                "item_code": "CLB",
                "judgement": "positive",
                "positive": True,
                "detection_limit": 0.5,
                "detection_limit_unit": "µg/kg",
                "screening": True,
                "case_state": state,
            }
            for state in ("screening_positive", "retest_in_progress", "confirmed", "cleared", "no_retest")
        ]
        + [{"tested_at": "2026-05-12T10:30:00+08:00", "sample_id": "XQ2605120022", "value": 3.1, "unit": "mg/L"}]
    )
    assert problems(doc) == []
    events = doc["epcisBody"]["eventList"]
    assert [e.get("ext:caseState") for e in events][-2:] == ["no_retest", None]
    qualitative = events[0]["sensorElementList"][0]["sensorReport"][0]
    assert qualitative["type"] == "Dimensionless" and "value" not in qualitative and "uom" not in qualitative
    assert qualitative["ext:detectionLimit"] == 0.5 and qualitative["ext:detectionLimitUnit"] == "µg/kg"
    measured = events[-1]["sensorElementList"][0]["sensorReport"][0]
    assert measured["type"] == "MassConcentration" and measured["uom"] == "M1"
    broken = json.loads(json.dumps(doc))
    del broken["epcisBody"]["eventList"][-1]["sensorElementList"][0]["sensorReport"][0]["type"]
    assert any("'type' is a required property" in p for p in problems(broken))  # the schema does check


@pytest.mark.parametrize(
    "bad",
    [
        {"gtin": "6920152400012"},
        {"tested_at": "2026-05-12T10:30:00", "gtin": "6920152400012"},
        {"tested_at": "2026-05-12T10:30:00+08:00", "gtin": "6920152400013"},
        {"tested_at": "2026-05-12T10:30:00+08:00"},
        {"tested_at": "2026-05-12T10:30:00+08:00", "sample_id": "S1", "unit": "furlong", "value": 1},
        {"tested_at": "2026-05-12T10:30:00+08:00", "sample_id": "S1", "biz_step": "shipping"},
        {"tested_at": "2026-05-12T10:30:00+08:00", "gtin": "6920152400012", "lot": "批号 1"},
        {"tested_at": "2026-05-12T10:30:00+08:00", "sample_id": "S1", "case_state": "suspicious"},
    ],
)
def test_epcis_rejects_bad_results(bad: dict[str, object]) -> None:
    with pytest.raises(EpcisError):
        epcis_document([bad])
