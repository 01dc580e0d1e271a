"""Names of result states and review actions, for messages that carry them as parameters.

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
