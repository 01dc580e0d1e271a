"""The public trace cache is bounded by entries and bytes, keyed by the normalised code, and a flood of
random codes or of spellings of one code neither grows it nor evicts what is in use."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from barcodes.gs1 import check_digit
from lims.services.core.bounded import SegmentedCache
from lims.services.public import trace
from tests.core.helpers import published_result


@pytest.fixture
def small_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[SegmentedCache]:
    cache: SegmentedCache = SegmentedCache(50, 200_000, size_of=lambda answer: len(answer.body))
    monkeypatch.setattr(trace, "_cache", cache)
    monkeypatch.setattr(trace, "_memo", trace.HeadMemo(32))
    monkeypatch.setattr(trace, "_identities", SegmentedCache(64, 100_000))
    yield cache


def random_gtin(rng: random.Random) -> str:
    body = "69" + "".join(rng.choice("0123456789") for _ in range(10))
    return body + str(check_digit(body))


def test_every_spelling_of_a_code_shares_one_entry(client: TestClient, small_cache: SegmentedCache) -> None:
    rng = random.Random(1)
    gtin14 = "06901234567892"
    spellings = [f"https://{rng.randrange(10**9)}.example/01/{gtin14}?q={rng.randrange(10**9)}" for _ in range(200)]
    for url in spellings:
        response = client.get(f"/api/v1/trace/{url}")
        assert response.status_code in (200, 404)
        if response.status_code == 200:
            assert response.json()["code"] == url  # each answer still names the code as it was sent
    assert len(small_cache) == 1
    for spelling in ("6901234567892", "06901234567892", " 6901234567892"):
        client.get(f"/api/v1/trace/{spelling}")
    assert len(small_cache) == 2  # plain GTINs, however written, are one more entry


def test_label_ids_are_keyed_upper_cased(client: TestClient, headers: dict, small_cache: SegmentedCache) -> None:
    label = published_result(client, headers)["sample_label_id"]
    upper, lower = client.get(f"/api/v1/trace/{label}"), client.get(f"/api/v1/trace/{label.lower()}")
    assert upper.status_code == lower.status_code == 200
    assert upper.json() == lower.json()
    assert len(small_cache) == 1


def test_a_flood_of_random_codes_neither_grows_the_cache_nor_evicts_what_is_in_use(
    client: TestClient, headers: dict, session: Session, small_cache: SegmentedCache
) -> None:
    label = published_result(client, headers)["sample_label_id"]
    for _ in range(2):  # asked for twice: in use
        assert client.get(f"/api/v1/trace/{label}").status_code == 200
    rng = random.Random(2)
    for _ in range(300):
        trace.trace_json(session, random_gtin(rng))
        trace.trace_json(session, f"https://x.example/01/0{random_gtin(rng)}/10/{rng.randrange(10**6)}")
    assert len(small_cache) <= small_cache.max_entries
    assert small_cache.bytes <= small_cache.max_bytes
    assert len(trace._memo.values) <= 32
    assert len(trace._identities) <= 64  # the spellings remembered, to skip parsing them again
    assert small_cache.get(("sample", label)) is not None  # still cached after 600 one-off codes


def test_the_cache_is_bounded_by_bytes() -> None:
    cache: SegmentedCache[int, bytes] = SegmentedCache(1000, 64_000, size_of=len)
    for i in range(100):
        cache.put(i, b"x" * 3000)
    assert cache.bytes <= 64_000 and len(cache) < 100
    cache.put(-1, b"x" * 10_000)  # over 1/16 of the bound: not kept
    assert cache.get(-1) is None
