"""Label ids made at the centre and on vehicle nodes never collide, and every one validates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lims.services.public.trace import normalised_code
from lims.services.samples.label_ids import (
    ALPHABET,
    check_char,
    label_id_problem,
    looks_like_label_id,
    make_label_id,
    most_per_day,
    node_letter,
    node_of,
)

ISSUERS = (None, "A", "B", "Z")  # the centre and three vehicles of one district


@settings(max_examples=60, deadline=None)
@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 1, 1)),
    days=st.integers(min_value=1, max_value=40),
    counts=st.tuples(*(st.integers(min_value=0, max_value=60) for _ in ISSUERS)),
    district=st.sampled_from(["XQ", "HD", "AB"]),
)
def test_centre_and_three_vehicles_never_collide(
    start: date, days: int, counts: tuple[int, ...], district: str
) -> None:
    made: dict[str, str | None] = {}
    for offset in range(days):
        day = start + timedelta(days=offset)
        for node, count in zip(ISSUERS, counts, strict=True):
            # the first and the last numbers of each day's range, and the ones in between
            for sequence in {*range(1, count + 1), most_per_day(node)} - {0}:
                label = make_label_id(district, day, sequence, node)
                assert label not in made, (label, node, made.get(label))
                made[label] = node
                assert len(label) == 12
                assert label_id_problem(label) is None
                assert looks_like_label_id(label)
                assert node_of(label) == node


@given(node=st.sampled_from(ISSUERS), sequence=st.integers(min_value=1, max_value=1295), position=st.integers(0, 11))
def test_a_single_typo_is_caught(node: str | None, sequence: int, position: int) -> None:
    sequence = min(sequence, most_per_day(node))
    label = make_label_id("XQ", date(2026, 12, 3), sequence, node)
    for char in ALPHABET:
        if char != label[position]:
            typo = label[:position] + char + label[position + 1 :]
            assert label_id_problem(typo) is not None


def test_capacity_per_day() -> None:
    assert most_per_day() == 999
    assert most_per_day("C") == 36 * 36 - 1
    with pytest.raises(ValueError):
        make_label_id("XQ", date(2026, 12, 3), most_per_day("C") + 1, "C")
    with pytest.raises(ValueError):
        make_label_id("XQ", date(2026, 12, 3), 1, "1")


def test_node_ids_are_traced_as_sample_labels() -> None:
    label = make_label_id("xq", date(2026, 12, 3), 400, "D")
    assert label.startswith("XQ261203D")
    assert check_char(label[:-1]) == label[-1]
    assert normalised_code(label.lower()) == (("sample", label), {"code": label, "lot": None})


@pytest.mark.parametrize(
    ("vehicle", "letter"),
    [("VEH-01", "A"), ("VEH-2", "B"), ("XQ-CAR-26", "Z"), ("VEH-27", None), ("VEH-00", None), ("VAN", None)],
)
def test_a_vehicles_letter_follows_its_number(vehicle: str, letter: str | None) -> None:
    assert node_letter(vehicle) == letter
