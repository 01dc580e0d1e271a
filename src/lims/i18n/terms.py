"""Names of result states, review actions and public case states, for messages and pages that show them.

A message such as "cannot {action} a result that is {status}" is translated with its parameters: the
service passes `status(...)`/`action(...)` (a `Term`), and the reader sees both in their language. The API's
`params` keep the plain value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lims.i18n import _N, _NC, gettext

RESULT_STATUSES: dict[str, str] = {
    "tested": _N("Awaiting review"),
    "approved": _N("Approved"),
    "rejected": _N("Rejected"),
    "published": _N("Published"),
    "archived": _N("Archived"),
    "superseded": _N("Superseded"),
}
REVIEW_ACTIONS: dict[str, str] = {
    "approve": _NC("action", "approve"),
    "reject": _NC("action", "reject"),
    "publish": _NC("action", "publish"),
    "archive": _NC("action", "archive"),
    "supersede": _NC("action", "supersede"),
}
# What the public is told of a screening positive as its legal procedure runs (lims.models.common.CaseState,
# Food Safety Law art. 88: retest on request within four hours; art. 87/112: inspection by a qualified lab).
CASE_STATES: dict[str, str] = {
    "screening_positive": _N("Screening positive"),
    "retest_in_progress": _N("Retest in progress"),
    "confirmed": _N("Confirmed non-compliant"),
    "cleared": _N("Cleared by retest"),
    "no_retest": _N("No retest requested"),
}
CASE_STATE_MEANINGS: dict[str, str] = {
    "screening_positive": _N(
        "The quick test found a possible problem. It is not final: the seller may ask for a retest by a "
        "qualified laboratory."
    ),
    "retest_in_progress": _N(
        "A qualified laboratory is retesting or inspecting the food; the quick-test result is not final yet."
    ),
    "confirmed": _N("A qualified laboratory confirmed the problem: the food does not comply."),
    "cleared": _N(
        "A qualified laboratory's retest did not confirm the quick test: the laboratory cleared this result."
    ),
    "no_retest": _N(
        "No retest was asked for within the time allowed; the screening result stands and the goods are dealt "
        "with as the law requires."
    ),
}
_SEPARATOR = {"zh": "、", "en": ", "}


@dataclass(frozen=True)
class Term:
    """One or more named values (`values`) with the message ids of their names (`msgids`)."""

    values: tuple[str, ...]
    msgids: tuple[str, ...]

    def shown(self, lang: str) -> str:
        """The names in `lang`, joined as a list."""
        return _SEPARATOR.get(lang, ", ").join(gettext(msgid, lang) for msgid in self.msgids)

    def __str__(self) -> str:
        return ", ".join(self.values)


def _term(values: Iterable[str], names: dict[str, str]) -> Term:
    plain = tuple(str(v) for v in values)
    return Term(plain, tuple(names.get(v, v) for v in plain))


def status(*values: str) -> Term:
    """Result states (`tested`, `published`, …) as a message parameter."""
    return _term(values, RESULT_STATUSES)


def action(value: str) -> Term:
    """A review action (`approve`, `publish`, …) as a message parameter."""
    return _term([value], REVIEW_ACTIONS)


def case_state(value: str) -> Term:
    """A public case state (`screening_positive`, `cleared`, …) as a message parameter."""
    return _term([value], CASE_STATES)


def case_state_name(value: str, lang: str) -> str:
    """The public name of a case state in `lang`."""
    return gettext(CASE_STATES.get(value, value), lang)


def case_state_meaning(value: str, lang: str) -> str:
    """What a case state means for the public, in `lang`."""
    msgid = CASE_STATE_MEANINGS.get(value)
    return gettext(msgid, lang) if msgid else ""
