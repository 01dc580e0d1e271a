"""The page's language and the template helpers that translate: `_`, `pgettext`, `label`, `localized`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from lims import i18n
from lims.i18n import _N, _NC, terms
from lims.services.lab import qc

LANGUAGES = i18n.LANGUAGES

# Texts a template picks by a value it holds (a status, a stage, a judgement), so their message ids
# are marked here rather than written in the template.
LABELS: dict[str, str] = {
    "negative": _N("Negative"),
    "positive": _N("Suspected positive"),
    "invalid": _N("Invalid"),
    "done_approve": _NC("done", "Approved"),
    "done_reject": _N("Rejected for retest"),
    "done_publish": _N("Published"),
    "done_warning": _N("Warning published"),
    "done_withdrawn": _N("Warning withdrawn"),
    "done_correction_approved": _N("Correction approved; the public now sees it"),
    "done_correction_rejected": _N("Correction rejected"),
    "done_case": _N("Recorded"),
    "done_assign": _N("Reading assigned and judged"),
    "field_product_name": _NC("sample", "Product"),
    "field_category_code": _N("Food category"),
    "field_brand": _N("Brand"),
    "field_gtin": _N("Product barcode"),
    "field_batch": _N("Batch"),
    "field_production_date": _N("Production date"),
    "field_supplier": _N("Supplier"),
    "field_quantity": _N("Quantity"),
    "field_quantity_unit": _NC("quantity", "Unit"),
    "field_seal_number": _N("Seal number of the retained sample"),
    "by_item": _N("By test item"),
    "by_category": _N("By food category"),
    "by_point": _N("By sampling point"),
    "by_month": _N("By month"),
    "stage_awaiting_party": _N("Waiting for the seller (4-hour retest window)"),
    "stage_referral": _N("Referred to a laboratory"),
    "stage_disposal": _N("To dispose of"),
    "stage_closed": _N("Closed"),
    "stage_notice": _N("Results notice to deliver"),
    "procedure_art88_retest": _N("Edible agricultural product: retest on request within 4 hours (art. 88)"),
    "procedure_art112_inspection": _N("Processed food: inspection by a qualified laboratory (art. 112, 87)"),
    "delivery_in_person": _N("Delivered in person"),
    "delivery_left_at_premises": _N("Left at the premises"),
    "delivery_electronic": _N("Delivered electronically"),
    "delivery_postal": _N("Sent by post"),
    "verdict_confirmed": _N("Confirmed by the laboratory"),
    "verdict_not_confirmed": _N("Not confirmed by the laboratory"),
    "disposal_suspend_sale": _N("Sale suspended"),
    "disposal_removal": _N("Removal from sale"),
    "disposal_seal": _N("Sealed up"),
    "disposal_return_recall": _N("Return or recall"),
    "disposal_destruction": _N("Destruction"),
    "disposal_harmless_treatment": _N("Harmless treatment"),
    **{f"status_{status}": msgid for status, msgid in terms.RESULT_STATUSES.items()},
}


def language(request: Request) -> str:
    """The page language: `?lang=`, then the `lang` cookie, then Accept-Language, then Chinese."""
    return i18n.pick_language(
        request.query_params.get("lang"), request.cookies.get("lang"), request.headers.get("accept-language")
    )


def label(key: str, lang: str) -> str:
    """The text for a value shown by its key (`status_tested`, `positive`); the key itself when there is none."""
    msgid = LABELS.get(key)
    return i18n.gettext(msgid, lang) if msgid else key


def gettext(msgid: str, lang: str) -> str:
    """`msgid` in `lang`."""
    return i18n.gettext(msgid, lang)


def _lang(context: Context) -> str:
    lang = context.get("lang")
    return lang if isinstance(lang, str) else i18n.DEFAULT_LANGUAGE


# Translations are text, not markup: escaped here, so jinja2's newstyle gettext (which marks the result
# safe before filling in the escaped parameters) never lets a catalogue entry inject HTML.
@pass_context
def _gettext(context: Context, msgid: str) -> Markup:
    return escape(i18n.gettext(msgid, _lang(context)))


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> Markup:
    return escape(i18n.gettext(singular if n == 1 else plural, _lang(context)))


@pass_context
def _pgettext(context: Context, ctx: str, msgid: str) -> Markup:
    return escape(i18n.pgettext(ctx, msgid, _lang(context)))


@pass_context
def _npgettext(context: Context, ctx: str, singular: str, plural: str, n: int) -> Markup:
    return escape(i18n.pgettext(ctx, singular if n == 1 else plural, _lang(context)))


@pass_context
def _label(context: Context, key: Any) -> str:
    return label(str(key), _lang(context)) if key else ""


@pass_context
def _localized(context: Context, zh: str | None, en: str | None) -> str:
    return i18n.localized(_lang(context), zh, en)


@pass_context
def _judgement_reason(context: Context, code: str, params: dict[str, Any] | None = None) -> str:
    return i18n.judgement_reason(code, params, _lang(context))


@pass_context
def _held_reason(context: Context, reading: dict[str, Any]) -> str:
    message = reading.get("reason_message")
    if isinstance(message, str) and message:
        return i18n.render(message, _lang(context), reading.get("reason_params") or {})
    return str(reading.get("reason", ""))


@pass_context
def _qc_hold_reason(context: Context, code: str, kinds: list[str]) -> str:
    reason_code, params = qc.hold_reason(code, kinds)
    return i18n.judgement_reason(reason_code, params, _lang(context))


@pass_context
def _case_state_name(context: Context, state: str) -> str:
    return terms.case_state_name(state, _lang(context))


@pass_context
def _case_state_meaning(context: Context, state: str) -> str:
    return terms.case_state_meaning(state, _lang(context))


def setup(env: Environment) -> None:
    """Give `env` jinja2's i18n extension with our catalogues and the label/localized helpers."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True, pgettext=_pgettext, npgettext=_npgettext
    )
    env.globals["label"] = _label
    env.globals["localized"] = _localized
    env.globals["judgement_reason"] = _judgement_reason
    env.globals["held_reason"] = _held_reason
    env.globals["qc_hold_reason"] = _qc_hold_reason
    env.globals["case_state_name"] = _case_state_name
    env.globals["case_state_meaning"] = _case_state_meaning
