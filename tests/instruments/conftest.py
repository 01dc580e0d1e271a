"""Link timers at 1/50 of the standards' values, so fault tests run in seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from instrument_drivers.timers import ENV_VAR

SCALE = "0.02"


@pytest.fixture(autouse=True)
def fast_link_timers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(ENV_VAR, SCALE)
    yield
