"""Sample label ids: district code, collection date, daily sequence and a check character (12 characters).

The three sequence characters keep the ids of different issuers apart by their shape, so ids made offline
on a vehicle node can never collide with the centre's or another vehicle's:

- the centre: three digits, `001`-`999` (999 a day per district), e.g. `XQ261129007K`;
- a vehicle node: its node letter `A`-`Z` then two base-36 characters, `01`-`ZZ` (1,295 a day per vehicle,
  26 vehicles per district), e.g. `XQ261129B0C4`. The letter follows from the number the vehicle's code ends
  in, 1-26 (`VEH-01` is `A`, `VEH-26` is `Z`), so a node knows it offline; the vehicles of one district are
  numbered apart, so they never share one.
"""

from __future__ import annotations

import re
from datetime import date

from lims.i18n import _N, Message

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
NODE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LABEL_RE = re.compile(r"^[A-Z]{2}\d{6}(?:\d{3}|[A-Z][0-9A-Z]{2})[0-9A-Z]$")
MAX_PER_DAY = 999
NODE_MAX_PER_DAY = 36 * 36 - 1


def check_char(body: str) -> str:
    """ISO 7064 MOD 37,36 check character over `body` (catches every single-character typo and swap)."""
    modulus = 36
    product = modulus
    for char in body:
        total = (product + ALPHABET.index(char)) % modulus or modulus
        product = (total * 2) % (modulus + 1)
    return ALPHABET[(modulus + 1 - product) % modulus]


def most_per_day(node: str | None = None) -> int:
    """How many label ids one issuer can make a day: the centre per district, or one vehicle node."""
    return MAX_PER_DAY if node is None else NODE_MAX_PER_DAY


def _sequence_part(sequence: int, node: str | None) -> str:
    if node is None:
        return f"{sequence:03d}"
    if len(node) != 1 or node not in NODE_LETTERS:
        raise ValueError(f"node letter must be one of A-Z, got {node!r}")
    return node + ALPHABET[sequence // 36] + ALPHABET[sequence % 36]


def make_label_id(district_code: str, day: date, sequence: int, node: str | None = None) -> str:
    """The label id of the `sequence`-th sample of `day` in a district (made on vehicle `node` when given)."""
    most = most_per_day(node)
    if not 1 <= sequence <= most:
        raise ValueError(f"daily sequence must be 1..{most}, got {sequence}")
    body = f"{district_code.upper()}{day:%y%m%d}{_sequence_part(sequence, node)}"
    return body + check_char(body)


def node_of(label_id: str) -> str | None:
    """The node letter of a label id made on a vehicle node, or None for one made at the centre."""
    letter = label_id[8:9]
    return letter if letter in NODE_LETTERS and letter else None


def node_letter(vehicle_code: str) -> str | None:
    """The node letter of a vehicle from the number its code ends in (1-26), or None when it ends in no such one."""
    digits = re.search(r"(\d+)$", vehicle_code)
    number = int(digits.group(1)) if digits and len(digits.group(1)) <= 3 else 0
    return NODE_LETTERS[number - 1] if 1 <= number <= len(NODE_LETTERS) else None


def vehicle_code_problem(vehicle_code: str, taken: list[str]) -> Message | None:
    """Why a new vehicle may not have this code, given its district's vehicles' codes: it needs a letter of its own."""
    letter = node_letter(vehicle_code)
    if letter is None:
        return Message(_N("a vehicle code must end in a number from 1 to 26 (its label ids carry it as a letter)"))
    if any(node_letter(code) == letter for code in taken):
        return Message(_N("another vehicle of the district already ends in this number"))
    return None


def looks_like_label_id(code: str) -> bool:
    """Whether `code` has the shape of a label id (two letters, a date, a sequence, a check character)."""
    return bool(LABEL_RE.match(code))


def label_id_problem(code: str) -> Message | None:
    """Why `code` is not a valid label id, or None when it is one."""
    if not looks_like_label_id(code):
        return Message(
            _N("not a sample label id (two letters, six date digits, three sequence characters and a check character)")
        )
    if check_char(code[:-1]) != code[-1]:
        return Message(
            _N("label id check character is wrong (expected {expected})"), {"expected": check_char(code[:-1])}
        )
    return None
