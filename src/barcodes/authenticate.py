"""Authentication (鉴别) of a scanned or typed code: findings from data-driven rules, bilingual."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from barcodes.gs1 import CodeError, CodeKind, ParsedCode
from barcodes.products import ProductRecord
from barcodes.trademarks import KNOCKOFF_THRESHOLD, Trademark, normalise_company, search_marks

__all__ = ["SEVERITIES", "Finding", "authenticate", "country_of"]

SEVERITIES = ("ok", "info", "warning", "critical")
_KIND_ZH = {
    CodeKind.GTIN: "商品条码",
    CodeKind.GS1_ELEMENT_STRING: "GS1元素串",
    CodeKind.DIGITAL_LINK: "GS1数字链接",
    CodeKind.OTHER: "其他",
}
_STATUS_ZH = {"cancelled": "注销", "invalidated": "宣告无效", "expired": "到期", "pending": "审查中"}


@dataclass(frozen=True)
class Finding:
    """One authentication finding with severity (ok, info, warning, critical) and messages."""

    code: str
    severity: str
    message_zh: str
    message_en: str

    def to_dict(self) -> dict[str, str]:
        """Plain dict for JSON."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


@dataclass(frozen=True)
class _Rule:
    severity: str
    message_zh: str
    message_en: str


@cache
def _rules() -> dict[str, _Rule]:
    text = resources.files("barcodes").joinpath("data", "authentication_rules.csv").read_text(encoding="utf-8")
    return {
        r["code"]: _Rule(r["severity"], r["message_zh"], r["message_en"]) for r in csv.DictReader(text.splitlines())
    }


@cache
def _country_aliases() -> dict[str, str]:
    text = resources.files("barcodes").joinpath("data", "country_aliases.csv").read_text(encoding="utf-8")
    return {
        alias.strip().lower(): row["country"]
        for row in csv.DictReader(text.splitlines())
        for alias in row["aliases"].split("|")
    }


def country_of(claim: str) -> str | None:
    """ISO country code for an origin claim such as “中国”, “台湾”, “Japan”, or a province inside China."""
    text = claim.strip().lower()
    if not text:
        return None
    aliases = _country_aliases()
    if text in aliases:
        return aliases[text]
    for alias, code in sorted(aliases.items(), key=lambda kv: -len(kv[0])):
        if len(alias) >= 2 and text.startswith(alias):
            return code
    return None


@dataclass(frozen=True)
class _Context:
    parsed: ParsedCode | None
    error: CodeError | None
    product: ProductRecord | None
    marks: Sequence[Trademark]
    claimed_origin: str | None
    package_mark: str | None
    today: dt.date


_Hit = tuple[str, dict[str, Any]]


def _code_rule(ctx: _Context) -> Iterator[_Hit]:
    if ctx.error is not None:
        yield "code_invalid", {"reason": ctx.error.reason, "reason_zh": ctx.error.reason_zh}
    elif ctx.parsed is not None and not ctx.parsed.is_gs1:
        yield "not_gs1", {}
    elif ctx.parsed is not None:
        yield "code_valid", {"kind": ctx.parsed.kind.value, "kind_zh": _KIND_ZH[ctx.parsed.kind]}


def _issuer_rule(ctx: _Context) -> Iterator[_Hit]:
    gtin = ctx.parsed.gtin if ctx.parsed else None
    if gtin is None:
        return
    issuer = gtin.issuer
    if issuer is None:
        yield "issuer_unknown", {"prefix": gtin.gtin14[1:4]}
        return
    params = {
        "prefix": issuer.prefix,
        "organisation": issuer.organisation,
        "organisation_zh": issuer.organisation_zh,
    }
    if issuer.restricted:
        yield "restricted_number", params
    elif issuer.kind in ("isbn", "issn"):
        yield "publication_number", params
    else:
        yield "issuer", params
        claimed = country_of(ctx.claimed_origin or "")
        if claimed and issuer.country and claimed != issuer.country:
            yield "origin_mismatch", {**params, "claimed": ctx.claimed_origin}


def _product_rule(ctx: _Context) -> Iterator[_Hit]:
    if ctx.parsed is None or ctx.parsed.gtin is None:
        return
    gtin = ctx.parsed.gtin
    if gtin.issuer is not None and (gtin.issuer.restricted or gtin.issuer.kind in ("isbn", "issn")):
        return
    p = ctx.product
    if p is None:
        yield "product_unknown", {}
    else:
        yield "product_registered", {"brand": p.brand, "name": p.name, "company": p.company or p.brand_owner}


def _mark_rule(ctx: _Context) -> Iterator[_Hit]:
    mark = (ctx.package_mark or "").strip()
    if not mark:
        return
    hits = search_marks(mark, ctx.marks, limit=5, min_score=KNOCKOFF_THRESHOLD)
    exact = [h.mark for h in hits if h.mark.mark == mark]
    if not exact:
        if hits:
            best = hits[0].mark
            yield "mark_knockoff", {"mark": mark, "similar": best.mark, "owner": best.owner}
        else:
            yield "mark_unregistered", {"mark": mark}
        return
    # Prefer a registration in force; report the best one's status.
    tm = next((t for t in exact if t.in_force(ctx.today)), exact[0])
    params = {
        "mark": tm.mark,
        "registration_no": tm.registration_no,
        "owner": tm.owner,
        "status": tm.status,
        "status_zh": _STATUS_ZH.get(tm.status, tm.status),
        "valid_to": tm.valid_to.isoformat() if tm.valid_to else "",
    }
    if tm.status in ("cancelled", "invalidated"):
        yield "mark_cancelled", params
    elif tm.status == "expired" or (tm.valid_to is not None and tm.valid_to < ctx.today):
        yield "mark_expired", params
    elif tm.status == "registered":
        yield "mark_registered", params
    # A knock-off maker may once have registered its imitation: name the mark in force it resembles.
    similar = [h.mark for h in hits if h.mark.mark != mark and h.mark.in_force(ctx.today)]
    if not tm.in_force(ctx.today) and similar:
        yield "mark_knockoff", {"mark": mark, "similar": similar[0].mark, "owner": similar[0].owner}
    if tm.status in ("cancelled", "invalidated"):
        return
    p = ctx.product
    if p is not None:
        owners = {normalise_company(x) for x in (p.brand_owner, p.company) if x}
        if owners and normalise_company(tm.owner) not in owners:
            yield "mark_owner_mismatch", {**params, "brand_owner": p.brand_owner or p.company}
        if p.brand and p.brand != mark:
            yield "brand_mismatch", {"mark": mark, "brand": p.brand}


# Rules run in this order; each yields (finding code, message parameters).
RULES: tuple[Callable[[_Context], Iterator[_Hit]], ...] = (_code_rule, _issuer_rule, _product_rule, _mark_rule)


def authenticate(
    parsed_code: ParsedCode | CodeError | str,
    product: ProductRecord | None,
    marks: Sequence[Trademark],
    claimed_origin: str | None = None,
    package_mark: str | None = None,
    *,
    today: dt.date | None = None,
) -> list[Finding]:
    """Findings for a code (parsed, a ``CodeError`` from parsing, or raw text), its product and marks."""
    from barcodes.gs1 import parse_code

    parsed: ParsedCode | None = None
    error: CodeError | None = None
    if isinstance(parsed_code, CodeError):
        error = parsed_code
    elif isinstance(parsed_code, str):
        try:
            parsed = parse_code(parsed_code)
        except CodeError as exc:
            error = exc
    else:
        parsed = parsed_code
    ctx = _Context(parsed, error, product, marks, claimed_origin, package_mark, today or dt.date.today())
    findings = []
    for rule in RULES:
        for code, params in rule(ctx):
            r = _rules()[code]
            findings.append(Finding(code, r.severity, r.message_zh.format(**params), r.message_en.format(**params)))
    return findings
