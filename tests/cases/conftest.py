"""Case tests run on a stopped clock (tests.cases.helpers.START), so the four-hour and local-day rules are exact."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import time_machine

from tests.cases.helpers import START


@pytest.fixture
def traveller() -> Iterator[time_machine.Coordinates]:
    """The stopped clock, to be moved on with `.shift(...)`."""
    with time_machine.travel(START, tick=False) as t:
        yield t


@pytest.fixture
def h(traveller: time_machine.Coordinates, headers: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The API headers per test user, issued on the stopped clock."""
    return headers
