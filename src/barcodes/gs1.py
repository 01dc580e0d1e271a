"""GS1 rules: GTIN validation and normalisation, prefix issuers, element strings and Digital Link URIs."""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from biip import ParseConfig, ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message
from biip.upc import Upc

from barcodes.messages import _N, Message

__all__ = [
    "GS",
    "CodeError",
    "CodeKind",
    "Element",
    "Gtin",
    "Issuer",
    "ParsedCode",
    "check_digit",
    "digital_link",
    "issuer_of",
    "normalize_gtin",
    "parse_code",
    "parse_digital_link",
    "parse_element_string",
    "parse_gtin",
    "upce_to_upca",
]

GS = "\x1d"
"""ASCII group separator: how scanners transmit FNC1 between variable-length fields."""

GTIN_LENGTHS = (8, 12, 13, 14)
DEFAULT_DL_DOMAIN = "id.gs1.org"

# Symbology identifiers (ISO/IEC 15424) that announce GS1 data, stripped before parsing.
_GS1_SYMBOLOGY_IDS = ("]C1", "]e0", "]d2", "]Q3", "]J1")
_PARSE_CONFIG = ParseConfig(separator_chars=(GS,))
_ELEMENT_STRING_START = re.compile(r"(?:00\d{18}|0[12]\d{14})")
_DL_PRIMARY_KEYS = re.compile(r"/(?:01|gtin|00|sscc|414|gln|8006|8010|8013|8017|8018|253|255|401|402|417)/")


class CodeKind(StrEnum):
    """What kind of text a scanned or typed code is."""

    GTIN = "gtin"
    GS1_ELEMENT_STRING = "gs1_element_string"
    DIGITAL_LINK = "digital_link"
    OTHER = "other"


class CodeError(ValueError):
    """A code that claims to be GS1 but breaks GS1 rules: ``code`` says which rule, ``message`` how.

    ``message`` is a message id with parameters for an application to translate; ``reason`` is its English."""

    def __init__(self, code: str, msgid: str, /, **params: Any) -> None:
        self.code = code
        self.message = Message(msgid, params)
        self.reason = self.message.english()
        super().__init__(self.reason)


@dataclass(frozen=True)
class Issuer:
    """The GS1 organisation (or reserved use) behind a GS1 prefix."""

    prefix: str
    organisation: str
    organisation_zh: str
    country: str | None
    kind: str

    @property
    def restricted(self) -> bool:
        """True for in-store / company-internal numbers that never identify a product worldwide."""
        return self.kind in ("restricted", "restricted_company")

    @property
    def is_china_mainland(self) -> bool:
        """True when the number was issued by the Article Numbering Center of China."""
        return self.country == "CN"


@dataclass(frozen=True)
class Gtin:
    """A valid GTIN with its normalised GTIN-14 form and issuer."""

    value: str
    gtin14: str
    length: int
    issuer: Issuer | None

    @property
    def short(self) -> str:
        """The GTIN in the shortest form it was issued in (8, 12, 13 or 14 digits)."""
        return self.gtin14[14 - self.length :]

    @property
    def gtin13(self) -> str | None:
        """GTIN-13 form (EAN-13), or None for a GTIN-14 with a packaging indicator."""
        return self.gtin14[1:] if self.gtin14[0] == "0" else None


@dataclass(frozen=True)
class Element:
    """One GS1 element string: application identifier, raw value and decoded meaning."""

    ai: str
    title: str
    value: str
    date: dt.date | None = None
    decimal: Decimal | None = None
    title_zh: str | None = None


@dataclass(frozen=True)
class ParsedCode:
    """Classification and content of any scanned or typed code."""

    text: str
    kind: CodeKind
    gtin: Gtin | None = None
    elements: tuple[Element, ...] = field(default=())

    def element(self, ai: str) -> Element | None:
        """The first element with this AI (``"310"`` matches any 310n)."""
        for el in self.elements:
            if el.ai == ai or (len(ai) == 3 and el.ai.startswith(ai) and len(el.ai) == 4):
                return el
        return None

    @property
    def lot(self) -> str | None:
        """Batch/lot number, AI (10)."""
        el = self.element("10")
        return el.value if el else None

    @property
    def serial(self) -> str | None:
        """Serial number, AI (21)."""
        el = self.element("21")
        return el.value if el else None

    @property
    def expiry(self) -> dt.date | None:
        """Use-by / expiry date, AI (17)."""
        el = self.element("17")
        return el.date if el else None

    @property
    def best_before(self) -> dt.date | None:
        """Best-before date, AI (15)."""
        el = self.element("15")
        return el.date if el else None

    @property
    def production_date(self) -> dt.date | None:
        """Production date, AI (11)."""
        el = self.element("11")
        return el.date if el else None

    @property
    def packaging_date(self) -> dt.date | None:
        """Packaging date, AI (13)."""
        el = self.element("13")
        return el.date if el else None

    @property
    def net_weight_kg(self) -> Decimal | None:
        """Net weight in kilograms, AI (310n)."""
        el = self.element("310")
        return el.decimal if el else None

    @property
    def is_gs1(self) -> bool:
        """True when the code carries GS1 data (a GTIN, element string or Digital Link)."""
        return self.kind is not CodeKind.OTHER

    def element_string(self, separator: str = GS) -> str:
        """The GS1 element string, with ``separator`` after each variable-length field."""
        return _message(self).value.replace(GS, separator)

    def hri(self) -> str:
        """Human-readable form, e.g. ``(01)06901234567892(10)LOT1``."""
        return _message(self).as_hri()

    def digital_link(self, domain: str = DEFAULT_DL_DOMAIN) -> str:
        """GS1 Digital Link URI for this code on ``domain``."""
        return _message(self).as_gs1_digital_link_uri().as_uri(domain=domain)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (dates as ISO strings, decimals as strings)."""
        out: dict[str, Any] = {"text": self.text, "kind": self.kind.value}
        if self.gtin is not None:
            iss = self.gtin.issuer
            out["gtin"] = {
                "gtin14": self.gtin.gtin14,
                "short": self.gtin.short,
                "length": self.gtin.length,
                "issuer": None
                if iss is None
                else {
                    "prefix": iss.prefix,
                    "organisation": iss.organisation,
                    "organisation_zh": iss.organisation_zh,
                    "country": iss.country,
                    "kind": iss.kind,
                },
            }
        if self.elements:
            out["elements"] = [
                {
                    "ai": e.ai,
                    "title": e.title,
                    "title_zh": e.title_zh,
                    "value": e.value,
                    "date": e.date.isoformat() if e.date else None,
                    "decimal": str(e.decimal) if e.decimal is not None else None,
                }
                for e in self.elements
            ]
            out["hri"] = self.hri()
            out["digital_link"] = self.digital_link()
        elif self.gtin is not None:
            out["digital_link"] = self.digital_link()
        return out


def _message(code: ParsedCode) -> GS1Message:
    if code.elements:
        return GS1Message.parse_hri("".join(f"({e.ai}){e.value}" for e in code.elements), config=_PARSE_CONFIG)
    if code.gtin is not None:
        return GS1Message.parse(f"01{code.gtin.gtin14}", config=_PARSE_CONFIG)
    raise CodeError("not_gs1", _N("not a GS1 code"))


# --------------------------------------------------------------------------- prefixes


@dataclass(frozen=True)
class _PrefixRange:
    first: int
    last: int
    organisation: str
    organisation_zh: str
    country: str | None
    kind: str


@cache
def _prefix_table(name: str) -> tuple[_PrefixRange, ...]:
    text = resources.files("barcodes").joinpath("data", name).read_text(encoding="utf-8")
    return tuple(
        _PrefixRange(
            int(r["first"]),
            int(r["last"]),
            r["organisation"],
            r["organisation_zh"],
            r["country"] or None,
            r["kind"],
        )
        for r in csv.DictReader(text.splitlines())
    )


def _lookup(table: str, prefix: str) -> Issuer | None:
    n = int(prefix)
    for r in _prefix_table(table):
        if r.first <= n <= r.last:
            return Issuer(prefix, r.organisation, r.organisation_zh, r.country, r.kind)
    return None


def issuer_of(gtin: str) -> Issuer | None:
    """GS1 organisation that issued a (valid-format) GTIN, from the shipped prefix table."""
    digits = gtin.strip().zfill(14)
    if digits.startswith("000000"):  # GTIN-8 in a 14-digit field
        g8 = digits[6:]
        return _lookup("gs1_8_prefixes.csv", g8[:3]) or _lookup("gs1_prefixes.csv", g8[:3])
    return _lookup("gs1_prefixes.csv", digits[1:4])


# --------------------------------------------------------------------------- GTIN


def check_digit(payload: str) -> int:
    """GS1 mod-10 check digit for ``payload`` (all digits but the last)."""
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(payload)))
    return (10 - total % 10) % 10


def parse_gtin(text: str) -> Gtin:
    """Validate a GTIN-8/12/13/14; raise ``CodeError`` naming the problem (length, digit, check digit)."""
    value = text.strip()
    if not value.isascii() or not value.isdigit():
        bad = next((c for c in value if not ("0" <= c <= "9")), "")
        if not value:
            raise CodeError("non_digit", _N("GTIN is empty"))
        raise CodeError("non_digit", _N("GTIN must contain only digits, found {character!r}"), character=bad)
    if len(value) not in GTIN_LENGTHS:
        raise CodeError("length", _N("GTIN must have 8, 12, 13 or 14 digits, got {length}"), length=len(value))
    expected = check_digit(value[:-1])
    if int(value[-1]) != expected:
        raise CodeError(
            "check_digit", _N("bad check digit: expected {expected}, got {got}"), expected=expected, got=value[-1]
        )
    gtin14 = value.zfill(14)
    return Gtin(value=value, gtin14=gtin14, length=len(value), issuer=issuer_of(gtin14))


def normalize_gtin(text: str) -> str:
    """The GTIN-14 storage form of any valid GTIN (UPC-A and EAN-13 of one item become equal)."""
    return parse_gtin(text).gtin14


def upce_to_upca(upce: str) -> str:
    """Expand an 8-digit UPC-E (number system 0/1) to its 12-digit UPC-A; ``CodeError`` if invalid."""
    try:
        return Upc.parse(upce.strip()).as_upc_a()
    except (ParseError, ValueError) as exc:
        raise CodeError("check_digit", _N("invalid UPC-E {upce!r}: {detail}"), upce=upce, detail=str(exc)) from exc


# --------------------------------------------------------------------------- element strings


def _element(es: GS1ElementString) -> Element:
    if es.gtin_error:
        raise CodeError("check_digit", _N("AI ({ai}): {problem}"), ai=es.ai.ai, problem=_gtin_problem(es.value))
    if es.sscc_error:
        raise CodeError("check_digit", _N("AI ({ai}): invalid SSCC: {detail}"), ai=es.ai.ai, detail=es.sscc_error)
    return Element(
        ai=es.ai.ai,
        title=es.ai.data_title,
        value=es.value,
        date=es.date,
        decimal=es.decimal,
        title_zh=_ai_titles_zh().get(es.ai.ai[:3] + "0" if es.ai.ai.startswith("310") else es.ai.ai),
    )


@cache
def _ai_titles_zh() -> dict[str, str]:
    text = resources.files("barcodes").joinpath("data", "gs1_food_ais.csv").read_text(encoding="utf-8")
    return {r["ai"]: r["title_zh"] for r in csv.DictReader(text.splitlines())}


def _gtin_problem(value: str) -> Message:
    """What is wrong with the GTIN in an element string."""
    try:
        parse_gtin(value)
    except CodeError as exc:
        return exc.message
    return Message(_N("invalid GTIN"))


def _from_elements(text: str, kind: CodeKind, elements: list[GS1ElementString]) -> ParsedCode:
    els = tuple(_element(e) for e in elements)
    gtin_el = next((e for e in els if e.ai in ("01", "02")), None)
    gtin = parse_gtin(gtin_el.value) if gtin_el else None
    return ParsedCode(text=text, kind=kind, gtin=gtin, elements=els)


def _strip_symbology_id(text: str) -> str:
    for sid in _GS1_SYMBOLOGY_IDS:
        if text.startswith(sid):
            return text[len(sid) :]
    return text


def parse_element_string(text: str) -> ParsedCode:
    """Parse a GS1 element string (FNC1 as GS, optional ``]C1``/``]d2``/``]Q3`` prefix, or HRI ``(01)…``)."""
    body = _strip_symbology_id(text.strip()).lstrip(GS)
    try:
        if body.startswith("("):
            msg = GS1Message.parse_hri(body, config=_PARSE_CONFIG)
        else:
            msg = GS1Message.parse(body, config=_PARSE_CONFIG)
    except (ParseError, ValueError) as exc:
        raise CodeError("gs1_syntax", _N("invalid GS1 element string: {detail}"), detail=str(exc)) from exc
    return _from_elements(text, CodeKind.GS1_ELEMENT_STRING, list(msg.element_strings))


def parse_digital_link(url: str) -> ParsedCode:
    """Parse a GS1 Digital Link URI (any domain, optional path prefix)."""
    try:
        dl = GS1DigitalLinkURI.parse(url.strip(), config=_PARSE_CONFIG)
    except (ParseError, ValueError) as exc:
        raise CodeError("digital_link", _N("invalid GS1 Digital Link: {detail}"), detail=str(exc)) from exc
    return _from_elements(url, CodeKind.DIGITAL_LINK, list(dl.element_strings))


def digital_link(code: str | ParsedCode, domain: str = DEFAULT_DL_DOMAIN) -> str:
    """GS1 Digital Link URI for a GTIN, element string or parsed code."""
    parsed = code if isinstance(code, ParsedCode) else parse_code(code)
    return parsed.digital_link(domain)


# --------------------------------------------------------------------------- classification


def _looks_like_digital_link(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(_DL_PRIMARY_KEYS.search(parts.path + "/"))


def parse_code(text: str) -> ParsedCode:
    """Classify any code text as GTIN, GS1 element string, Digital Link or other; ``CodeError`` if bad GS1."""
    stripped = text.strip()
    compact = stripped.replace(" ", "")
    if compact.isascii() and compact.isdigit() and len(compact) <= 14:
        return ParsedCode(text=text, kind=CodeKind.GTIN, gtin=parse_gtin(compact))
    if stripped.startswith(_GS1_SYMBOLOGY_IDS) or GS in stripped:
        return parse_element_string(stripped)
    if re.fullmatch(r"\(\d{2,4}\).+", stripped):
        return parse_element_string(stripped)
    if (stripped.isascii() and stripped.isdigit()) or _ELEMENT_STRING_START.match(stripped):
        return parse_element_string(stripped)
    if _looks_like_digital_link(stripped):
        return parse_digital_link(stripped)
    return ParsedCode(text=text, kind=CodeKind.OTHER)
