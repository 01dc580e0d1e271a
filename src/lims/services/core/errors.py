"""Errors that services raise, each with a code, a message id and parameters; shown in the reader's language.

Raise sites stay readable::

    raise Conflict("result.state", _N("cannot {action} a result that is {status}"), action=action, status=status)

The message is an English message id in the catalogues (`lims.i18n`); `{name}` placeholders are
filled from the parameters after translation.  The API answers ``{"detail", "code", "params"}``, pages
and the command line show `text(lang)`.  `reason` is the English text, for logs and for callers that
keep a reason as data.
"""

from __future__ import annotations

from typing import Any

from lims import i18n

GENERIC = "error"  # the code of an error raised with a bare text (its text is its only parameter)


class ServiceError(Exception):
    """A request that cannot be carried out: a code, the message id of the reason and its parameters."""

    status_code = 400

    def __init__(
        self,
        code: str,
        message: str | None = None,
        /,
        *,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
        **params: Any,
    ) -> None:
        if message is None:  # a bare text: keep it as it is, under the generic code
            code, message, params = GENERIC, "{text}", {"text": code}
        self.code = code
        self.message = message
        self.params = params
        self.details = details or {}
        self.retry_after = retry_after  # seconds, sent as Retry-After
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        """The reason in English."""
        return self.text("en")

    def text(self, lang: str) -> str:
        """The reason in `lang`."""
        return i18n.render(self.message, lang, self.params)

    def json_params(self) -> dict[str, Any]:
        """The parameters as JSON can carry them (anything else as its text)."""
        return {key: _json_value(value) for key, value in self.params.items()}


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    return str(value)


class NotFound(ServiceError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    status_code = 404


class Forbidden(ServiceError):
    """The caller's role may not do this."""

    status_code = 403


class Conflict(ServiceError):
    """The request is not allowed in the current state (illegal transition, duplicate)."""

    status_code = 409


class Invalid(ServiceError):
    """The request is well-formed but its content is unacceptable."""

    status_code = 422


class Unauthorized(ServiceError):
    """No valid credentials."""

    status_code = 401


class TooManyRequests(ServiceError):
    """Too many attempts from this caller or at this account; try again after `retry_after` seconds."""

    status_code = 429


class Busy(ServiceError):
    """The server cannot take this request right now; try again shortly."""

    status_code = 503


class TooLarge(ServiceError):
    """The request (a body, a form, a photo) is bigger than we accept."""

    status_code = 413
