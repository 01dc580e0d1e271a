"""Sample label ids: district code, collection date, daily sequence and a check character (12 characters)."""

from __future__ import annotations

import re
from datetime import date

from lims.i18n import _N, Message

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LABEL_RE = re.compile(r"^[A-Z]{2}\d{9}[0-9A-Z]$")
MAX_PER_DAY = 999


def check_char(body: str) -> str:
    """ISO 7064 MOD 37,36 check character over `body` (catches every single-character typo and swap)."""
    modulus = 36
    product = modulus
    for char in body:
        total = (product + ALPHABET.index(char)) % modulus or modulus
        product = (total * 2) % (modulus + 1)
    return ALPHABET[(modulus + 1 - product) % modulus]


def make_label_id(district_code: str, day: date, sequence: int) -> str:
    """The label id of the `sequence`-th sample of `day` in a district, e.g. `XQ261129007K`."""
    if not 1 <= sequence <= MAX_PER_DAY:
        raise ValueError(f"daily sequence must be 1..{MAX_PER_DAY}, got {sequence}")
    body = f"{district_code.upper()}{day:%y%m%d}{sequence:03d}"
    return body + check_char(body)


def looks_like_label_id(code: str) -> bool:
    """Whether `code` has the shape of a label id (two letters, nine digits, a check character)."""
    return bool(LABEL_RE.match(code))


def label_id_problem(code: str) -> Message | None:
    """Why `code` is not a valid label id, or None when it is one."""
    if not looks_like_label_id(code):
        return Message(_N("not a sample label id (two letters, nine digits and a check character)"))
    if check_char(code[:-1]) != code[-1]:
        return Message(
            _N("label id check character is wrong (expected {expected})"), {"expected": check_char(code[:-1])}
        )
    return None
