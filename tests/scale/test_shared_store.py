"""The shared store's settings: LIMS_REDIS_URL moves the throttles' counters to Redis under the deployment's
prefix (two throttles on it count together, as two workers would), and an explicit throttle storage still wins."""

from __future__ import annotations

import uuid

import pytest
import redis

from lims.services.access.throttle import SignInThrottle
from lims.services.core.errors import Busy
from lims.settings import SettingsError, get_settings

REDIS_URL = "redis://127.0.0.1:6379/1"


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def test_without_redis_the_counters_stay_in_the_process() -> None:
    assert get_settings().resolved_throttle_storage_url() == "memory://"
    one, other = (SignInThrottle.from_settings(get_settings()) for _ in range(2))
    for _ in range(5):
        one.failed("alice", "192.0.2.1")
    assert one.lock("alice", "192.0.2.1") is not None
    assert other.lock("alice", "192.0.2.1") is None  # another process would not know


def test_an_explicit_throttle_storage_wins_over_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMS_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("LIMS_THROTTLE_STORAGE_URL", "memory://?shared=no")
    get_settings.cache_clear()
    assert get_settings().resolved_throttle_storage_url() == "memory://?shared=no"


def test_with_redis_every_throttle_counts_the_same_attempts_under_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    if not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("LIMS_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("LIMS_REDIS_PREFIX", prefix)
    get_settings.cache_clear()
    assert get_settings().resolved_throttle_storage_url() == REDIS_URL
    one, other = (SignInThrottle.from_settings(get_settings()) for _ in range(2))
    for throttle in (one, other, one, other, one):
        throttle.failed("alice", "192.0.2.1")
    assert other.lock("alice", "192.0.2.1") is not None
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:limits*"))
    assert keys, "no counter under the deployment's prefix"
    client.delete(*keys)
    client.close()


def test_a_prefix_that_is_not_a_plain_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMS_REDIS_PREFIX", "two words")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="LIMS_REDIS_PREFIX"):
        get_settings()


def test_sign_in_is_refused_with_503_while_the_shared_store_is_away(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMS_REDIS_URL", "redis://127.0.0.1:1/1")  # nothing listens on port 1
    get_settings.cache_clear()
    throttle = SignInThrottle.from_settings(get_settings())
    with pytest.raises(Busy) as refused:
        throttle.lock("alice", "192.0.2.1")
    assert refused.value.status_code == 503 and refused.value.retry_after == 5
    with pytest.raises(Busy):
        throttle.failed("alice", "192.0.2.1")
