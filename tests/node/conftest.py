"""Fixtures for a vehicle node: the same LIMS with a centre URL set, so the node's rules apply."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lims.settings import get_settings


@pytest.fixture
def as_node(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process runs as the node of vehicle VEH-01 (its centre need not answer)."""
    monkeypatch.setenv("LIMS_NODE_CENTRE", "http://127.0.0.1:9")
    monkeypatch.setenv("LIMS_NODE_VEHICLE", "VEH-01")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
