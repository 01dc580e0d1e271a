"""GS1 rules: GTIN vectors, issuers, element strings cross-checked with biip, Digital Link round trips."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import biip
import pytest
from biip.gs1_messages import GS1Message
from biip.upc import Upc

from barcodes.gs1 import (
    GS,
    CodeError,
    CodeKind,
    check_digit,
    digital_link,
    issuer_of,
    normalize_gtin,
    parse_code,
    parse_digital_link,
    parse_gtin,
    upce_to_upca,
)

# Published examples: Wikipedia EAN-13/EAN-8/UPC-A/ISBN articles and GS1 Digital Link examples.
PUBLISHED_VALID = [
    "5901234123457",
    "4006381333931",
    "036000291452",
    "96385074",
    "09501101530003",
    "9780306406157",
    "00614141123452",
]


@pytest.mark.parametrize("gtin", PUBLISHED_VALID)
def test_published_gtins_are_valid_and_agree_with_biip(gtin: str) -> None:
    parsed = parse_gtin(gtin)
    assert parsed.gtin14 == gtin.zfill(14)
    assert biip.parse(gtin).gtin is not None
    assert parsed.short == gtin


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("5901234123458", "check_digit", "expected 7, got 8"),
        ("036000291453", "check_digit", "expected 2, got 3"),
        ("590123412345", "check_digit", "expected"),
        ("59012341234", "length", "got 11"),
        ("590123412345a", "non_digit", "'a'"),
        ("", "non_digit", "empty"),
        ("５９０１２３４１２３４５７", "non_digit", "digits"),
    ],
)
def test_invalid_gtins_say_why(text: str, code: str, fragment: str) -> None:
    with pytest.raises(CodeError) as err:
        parse_gtin(text)
    assert err.value.code == code
    assert fragment in err.value.reason
    assert err.value.message.english() == err.value.reason  # a message id and parameters, for catalogues


def test_check_digit_matches_payloads() -> None:
    assert check_digit("590123412345") == 7
    assert check_digit("03600029145") == 2
    assert check_digit("9638507") == 4


def test_upca_and_ean13_forms_normalise_to_one_gtin14() -> None:
    assert normalize_gtin("036000291452") == normalize_gtin("0036000291452") == "00036000291452"
    assert normalize_gtin("96385074") == "00000096385074"


@pytest.mark.parametrize(
    ("gtin", "country", "kind"),
    [
        ("6901234567892", "CN", "member"),
        ("6921168509256", "CN", "member"),
        ("4710088410033", "TW", "member"),
        ("4890008100309", "HK", "member"),
        ("9588000000003", "MO", "member"),
        ("2012345678903", None, "restricted"),
        ("0212345678909", None, "restricted"),
        ("9780306406157", None, "isbn"),
        ("9771234567003", None, "issn"),
        ("4006381333931", "DE", "member"),
        ("036000291452", "US", "member"),
        ("20123451", None, "restricted_company"),
    ],
)
def test_issuer_table(gtin: str, country: str | None, kind: str) -> None:
    full = gtin[:-1] + str(check_digit(gtin[:-1]))
    issuer = issuer_of(full)
    assert issuer is not None
    assert issuer.country == country
    assert issuer.kind == kind
    assert issuer.restricted == kind.startswith("restricted")


def test_china_issuer_has_chinese_name() -> None:
    issuer = parse_gtin("6901234567892").issuer
    assert issuer is not None and issuer.is_china_mainland
    assert "中国" in issuer.organisation_zh


@pytest.mark.parametrize("upce", ["01234565", "04252614", "01234531"])
def test_upce_expansion_matches_biip(upce: str) -> None:
    assert upce_to_upca(upce) == Upc.parse(upce).as_upc_a()
    parse_gtin(upce_to_upca(upce))


ELEMENT_STRINGS = [
    "0106901234567892" + "10LOT42" + GS + "17261231",
    "010690123456789211250101" + "13250102" + "15260101" + "21SN-9" + GS + "3103001500",
    "]C10106901234567892" + "3102012345",
    "]d2010950110153000310ABC",
    "]Q30109501101530003" + "17250100",
]


@pytest.mark.parametrize("text", ELEMENT_STRINGS)
def test_element_strings_agree_with_biip(text: str) -> None:
    parsed = parse_code(text)
    assert parsed.kind is CodeKind.GS1_ELEMENT_STRING
    body = text[3:] if text.startswith("]") else text
    reference = GS1Message.parse(body)
    assert [(e.ai, e.value) for e in parsed.elements] == [(e.ai.ai, e.value) for e in reference.element_strings]
    assert parsed.hri() == reference.as_hri()


def test_food_ai_meanings() -> None:
    parsed = parse_code(ELEMENT_STRINGS[1])
    assert parsed.gtin is not None and parsed.gtin.gtin14 == "06901234567892"
    assert parsed.production_date == dt.date(2025, 1, 1)
    assert parsed.packaging_date == dt.date(2025, 1, 2)
    assert parsed.best_before == dt.date(2026, 1, 1)
    assert parsed.serial == "SN-9"
    assert parsed.net_weight_kg == Decimal("1.500")
    assert parse_code(ELEMENT_STRINGS[0]).lot == "LOT42"
    assert parse_code(ELEMENT_STRINGS[4]).expiry == dt.date(2025, 1, 31)  # day 00 = end of month


def test_hri_input_and_separator_output() -> None:
    parsed = parse_code("(01)06901234567892(10)A1(17)261231")
    assert parsed.element_string() == "0106901234567892" + "10A1" + GS + "17261231"
    assert parsed.element_string("|") == "010690123456789210A1|17261231"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("0106901234567893", "check_digit"),
        ("0106901234567892" + "17251399", "gs1_syntax"),
        ("990000", "length"),
        ("(01)0690123456789210ABC", "gs1_syntax"),
        ("]C1" + "01123", "gs1_syntax"),
    ],
)
def test_malformed_gs1_raises(text: str, code: str) -> None:
    with pytest.raises(CodeError) as err:
        parse_code(text)
    assert err.value.code == code


@pytest.mark.parametrize(
    "url",
    [
        "https://id.gs1.org/01/09501101530003",
        "https://id.gs1.org/01/09501101530003/10/ABC?17=250101",
        "https://example.cn/shop/01/06901234567892/10/L%2F7/21/S1?15=260101&3103=000250",
    ],
)
def test_digital_link_round_trip(url: str) -> None:
    parsed = parse_digital_link(url)
    assert parsed.kind is CodeKind.DIGITAL_LINK
    again = parse_code(parsed.digital_link("example.cn"))
    assert again.elements == parsed.elements
    assert parse_code(again.element_string()).elements == parsed.elements


def test_digital_link_out_of_gtin_and_element_string() -> None:
    assert digital_link("6901234567892") == "https://id.gs1.org/01/06901234567892"
    assert digital_link("0106901234567892" + "10L1", "q.example") == "https://q.example/01/06901234567892/10/L1"


def test_bad_digital_link_raises() -> None:
    with pytest.raises(CodeError) as err:
        parse_code("https://id.gs1.org/01/09501101530004")
    assert err.value.code == "check_digit"


@pytest.mark.parametrize(
    "text",
    ["S2026-0001", "https://lims.example.cn/s/S1?sig=abc", "hello", "ABC123", "2026-0001", "康师傅"],
)
def test_other_codes_are_not_gs1(text: str) -> None:
    parsed = parse_code(text)
    assert parsed.kind is CodeKind.OTHER
    assert not parsed.is_gs1
    assert parsed.to_dict() == {"text": text, "kind": "other"}


def test_to_dict_is_json_ready() -> None:
    import json

    d = parse_code("(01)06901234567892(17)261231").to_dict()
    assert d["gtin"]["issuer"]["country"] == "CN"
    assert d["elements"][1]["date"] == "2026-12-31"
    json.dumps(d)


def test_food_ais_have_chinese_titles() -> None:
    parsed = parse_code(ELEMENT_STRINGS[1])
    assert [e.title_zh for e in parsed.elements][:2] == ["商品条码（GTIN）", "生产日期"]
    assert parsed.element("310") is not None and parsed.element("310").title_zh == "净含量（千克）"  # type: ignore[union-attr]
