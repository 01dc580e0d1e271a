"""GTIN validation and normalisation to GTIN-14 for storage."""

from __future__ import annotations

from lims.services.errors import Invalid

GTIN_LENGTHS = (8, 12, 13, 14)


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for the digits of `body` (all but the check digit)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def problem(code: str) -> str | None:
    """Why `code` is not a valid GTIN, or None."""
    if not code.isdigit() or not code.isascii():
        return "a GTIN has only digits"
    if len(code) not in GTIN_LENGTHS:
        return f"a GTIN has 8, 12, 13 or 14 digits, not {len(code)}"
    expected = check_digit(code[:-1])
    if int(code[-1]) != expected:
        return f"GTIN check digit is wrong: expected {expected}, found {code[-1]}"
    return None


def normalise(code: str) -> str:
    """The GTIN-14 form of a valid GTIN-8/12/13/14, or Invalid with the reason."""
    code = code.strip()
    reason = problem(code)
    if reason:
        raise Invalid(reason)
    return code.zfill(14)
