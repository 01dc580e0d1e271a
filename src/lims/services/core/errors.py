"""Errors that services raise; the API and CLI turn them into 4xx answers and clear messages."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A request that cannot be carried out, with the reason."""

    status_code = 400

    def __init__(self, reason: str, *, details: dict[str, Any] | None = None, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details or {}
        self.retry_after = retry_after  # seconds, sent as Retry-After


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
