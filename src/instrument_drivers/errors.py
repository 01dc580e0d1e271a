"""Exceptions raised by drivers."""

from __future__ import annotations


class DriverError(Exception):
    """Base class of every driver error."""


class LinkError(DriverError):
    """The link is down or unusable: the port cannot be opened, the peer hung up, or too many answers
    were lost in a row. The driver's `readings()` loop reconnects with backoff on its own."""


class UnknownDriverError(DriverError, LookupError):
    """No driver is registered under that name."""


class BadUrlError(DriverError, ValueError):
    """A connection URL that no transport understands."""


class UnacknowledgedReadingError(DriverError):
    """The caller asked for more readings while some it was given are still unacknowledged.

    Call `Driver.ack(reading)` after each reading is safely stored (or pass `auto_ack=True`)."""
