"""Translation catalogues (gettext `.po`, Chinese first) and the one rule that picks a reader's language.

Every text a person reads is an English message id marked with `_N` (or `_("…")` in a template) and
translated from `lims/locale/<locale>/LC_MESSAGES/messages.po`, read into memory on first use so an
editable install and a wheel behave the same.  Parameters are written `{name}` in Python messages
and filled after translation, so a translator may move them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from babel.messages.pofile import read_po

from barcodes.messages import Message, Names  # a message id with parameters, shared with the barcode library
from instrument_drivers import family_registry
from lims.judgement import reasons
from lims.judgement.reasons import reason_text

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LOCALES",
    "N_",
    "_N",
    "_NC",
    "Message",
    "cli_language",
    "gettext",
    "judgement_reason",
    "localized",
    "pgettext",
    "pick_language",
    "render",
    "render_message",
]

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LOCALES = {"zh": "zh_CN", "en": "en"}


def _N(msgid: str) -> str:
    """Mark `msgid` for extraction; it is translated when shown, not here."""
    return msgid


N_ = _N
CONTEXT_SEPARATOR = "\x04"  # gettext's own way of writing a message id with its context


def _NC(context: str, msgid: str) -> str:
    """Mark `msgid` whose English means different things in different places; `context` tells them apart."""
    return f"{context}{CONTEXT_SEPARATOR}{msgid}"


@cache
def _catalogue(lang: str) -> dict[tuple[str | None, str], str]:
    """The translations of `lang` by (context, message id); untranslated and fuzzy entries are left out."""
    locale = LOCALES.get(lang, LOCALES[DEFAULT_LANGUAGE])
    path = resources.files("lims").joinpath("locale", locale, "LC_MESSAGES", "messages.po")
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    found: dict[tuple[str | None, str], str] = {}
    for message in catalog:
        if not message.id or message.fuzzy or not isinstance(message.id, str):
            continue
        text = message.string if isinstance(message.string, str) else ""
        if text:
            found[(message.context, message.id)] = text
    return found


def gettext(msgid: str, lang: str) -> str:
    """`msgid` in `lang` (the message id itself when the catalogue has no translation)."""
    if CONTEXT_SEPARATOR in msgid:
        context, _, bare = msgid.partition(CONTEXT_SEPARATOR)
        return pgettext(context, bare, lang)
    return _catalogue(lang).get((None, msgid), msgid)


def pgettext(context: str, msgid: str, lang: str) -> str:
    """`msgid` in `lang` where the same English means different things (`context` tells them apart)."""
    return _catalogue(lang).get((context, msgid), msgid)


class _Params(dict[str, Any]):
    """Parameters for `str.format_map`; a placeholder without a value stays as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _in(lang: str, value: Any) -> Any:
    """A parameter as the reader sees it: a library's message translated, a two-language name picked."""
    if isinstance(value, Message):
        return render_message(value, lang)
    if isinstance(value, Names):
        return localized(lang, value.zh, value.en)
    shown = getattr(value, "shown", None)  # a term (lims.i18n.terms): names translated with the message
    return shown(lang) if callable(shown) else value


def render(msgid: str, lang: str, params: Mapping[str, Any] | None = None) -> str:
    """`msgid` translated into `lang` with its `{name}` parameters filled in (a `Message` parameter translated too)."""
    text = gettext(msgid, lang)
    if not params:
        return text
    shown = _Params({key: _in(lang, value) for key, value in params.items()})
    english = msgid.rpartition(CONTEXT_SEPARATOR)[2]
    try:
        return text.format_map(shown)
    except (ValueError, IndexError, AttributeError):  # a translation with a broken placeholder
        return english.format_map(shown) if text != msgid else text


def render_message(message: Message, lang: str) -> str:
    """A message from a library (`barcodes.messages.Message`: a message id and parameters) in `lang`."""
    return render(message.msgid, lang, message.params)


def _normalise(tag: str | None) -> str | None:
    """`zh`, `zh-CN`, `zh_Hans` → `zh`; `en-GB` → `en`; anything else → None."""
    if not tag:
        return None
    base = tag.strip().replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def _accepted(header: str | None) -> str | None:
    """The first language of an Accept-Language header we have, by its q weights."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:500].split(",")[:20]):
        tag, _, weight = part.strip().partition(";")
        quality = 1.0
        if weight.strip().startswith("q="):
            try:
                quality = float(weight.strip()[2:])
            except ValueError:
                quality = 0.0
        lang = _normalise(tag)
        if lang and quality > 0:
            ranked.append((-quality, position, lang))
    return min(ranked)[2] if ranked else None


def pick_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The reader's language: `?lang=`, then the `lang` cookie, then Accept-Language, then Chinese."""
    return _normalise(query) or _normalise(cookie) or _accepted(accept_language) or DEFAULT_LANGUAGE


def cli_language() -> str:
    """The command line's language: LIMS_LANG, then LANG (`en_US.UTF-8` → English), then Chinese."""
    return _normalise(os.environ.get("LIMS_LANG")) or _normalise(os.environ.get("LANG")) or DEFAULT_LANGUAGE


def localized(lang: str, zh: str | None, en: str | None) -> str:
    """A data value kept in two columns (name_zh/name_en): the reader's language, else the other one."""
    first, second = (zh, en) if lang == "zh" else (en, zh)
    return first or second or ""


def family_reasons() -> None:
    """Register the reason messages of every family's judgement module (a plug-in family brings its own)."""
    for name in family_registry.names():
        with contextlib.suppress(ImportError, AttributeError):
            reasons.register(getattr(family_registry.spec(name).load("judgement"), "REASONS", {}))


def judgement_reason(code: str, params: Mapping[str, Any] | None, lang: str) -> str:
    """A judgement's stored reason code and parameters as text in `lang`."""
    if code not in reasons.REASONS:
        family_reasons()
    return reason_text(code, params, lambda msgid: gettext(msgid, lang))
