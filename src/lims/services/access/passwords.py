"""Passwords: the policy for new ones, and argon2id hashing with a bound on how many hashes run at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lims.i18n import _N, Message
from lims.services.core.errors import Busy, Invalid
from lims.settings import get_settings

MAX_LENGTH = 256  # NIST SP 800-63B asks verifiers to accept at least 64 characters
_DUMMY_PASSWORD = "dummy-password-for-timing"
_held = threading.local()
_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (and the demo's published ones), lower case."""
    text = resources.files("lims.services.access").joinpath("data/common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def problem(password: str, *, published_ok: bool = False) -> Message | None:
    """Why `password` may not be set, or None; `published_ok` lets only the demo use its published ones."""
    least = get_settings().password_min_length
    if len(password) < least:
        return Message(_N("password must have at least {least} characters"), {"least": least})
    if len(password) > MAX_LENGTH:
        return Message(_N("password must have at most {most} characters"), {"most": MAX_LENGTH})
    if not published_ok and password.casefold() in common_passwords():
        return Message(_N("password is on the list of common or published passwords; choose another"))
    return None


def check(password: str, *, published_ok: bool = False) -> None:
    """Invalid unless `password` meets the policy."""
    reason = problem(password, published_ok=published_ok)
    if reason:
        raise Invalid("passwords.policy", _N("{problem}"), problem=reason)


@lru_cache(maxsize=4)
def _argon2(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def _hasher() -> PasswordHasher:
    """The hasher with the configured cost for new hashes (verifying reads the cost from the hash)."""
    settings = get_settings()
    return _argon2(settings.hash_time_cost, settings.hash_memory_kib, settings.hash_parallelism)


def _semaphore() -> threading.BoundedSemaphore:
    size = get_settings().hash_concurrency
    with _slots_lock:
        return _slots.setdefault(size, threading.BoundedSemaphore(size))


@contextmanager
def slot() -> Iterator[None]:
    """Hold one of the process's few hashing slots (re-entrant in a thread); Busy when none frees up in time.

    Argon2 takes 64 MiB per hash: without the bound, memory grows with the number of sign-ins at once.
    """
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    semaphore = _semaphore()
    if not semaphore.acquire(timeout=get_settings().hash_wait_seconds):
        raise Busy("passwords.too_many_sign_ins", _N("too many sign-ins at once; try again in a moment"), retry_after=1)
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        semaphore.release()


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    with slot():
        return _hasher().hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches the hash; with None, spend the time of a real check and say no."""
    with slot():
        try:
            return bool(_hasher().verify(password_hash or _dummy_hash(), password)) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(_DUMMY_PASSWORD)
