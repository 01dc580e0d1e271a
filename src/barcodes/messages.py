"""What the library reports to people: an English message id with parameters, translated by the caller.

The library has no catalogues.  A problem or a finding is a `Message` (a message id marked with `_N`,
written ``{name}`` for its parameters) whose `english()` is the text for callers without catalogues; an
application with catalogues translates the id and fills in the parameters itself.  A parameter may be
another `Message` (a problem inside a problem, a term such as a code's kind) or `Names`, a value that
the reference data holds in two languages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONTEXT_SEPARATOR", "N_", "_N", "_NC", "Message", "Names", "bare"]

CONTEXT_SEPARATOR = "\x04"  # gettext's own way of writing a message id with its context


def _N(msgid: str) -> str:
    """Mark `msgid` for extraction into an application's catalogues; it is translated when shown."""
    return msgid


N_ = _N


def _NC(context: str, msgid: str) -> str:
    """Mark `msgid` whose English means different things in different places; `context` tells them apart."""
    return f"{context}{CONTEXT_SEPARATOR}{msgid}"


def bare(msgid: str) -> str:
    """The English of a message id, without its context."""
    return msgid.rpartition(CONTEXT_SEPARATOR)[2]


@dataclass(frozen=True)
class Names:
    """A value the reference data keeps in Chinese and in English (an organisation's name)."""

    zh: str
    en: str

    def __str__(self) -> str:
        return self.en or self.zh


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Message:
    """A message id and its parameters."""

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def english(self) -> str:
        """The message in English, its parameters filled in."""
        return bare(self.msgid).format_map(_Params({key: str(value) for key, value in self.params.items()}))

    def __str__(self) -> str:
        return self.english()
