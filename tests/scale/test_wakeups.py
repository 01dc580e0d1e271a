"""Live wake-ups: a stored result wakes the streams of its district on every bus (in the process, PostgreSQL
LISTEN/NOTIFY, Redis pub/sub), a rolled-back transaction wakes nobody, and another district's stream sleeps on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.models import District
from lims.services.core import shared
from lims.settings import get_settings
from tests.core.helpers import register, submit

REDIS_URL = "redis://127.0.0.1:6379/1"


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["database", "redis"])
def bus_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Wake-ups through the database's own way (PostgreSQL, or the process on SQLite), or through Redis."""
    if request.param == "redis":
        if not _redis_up():
            pytest.skip("Redis is not running on 127.0.0.1:6379")
        monkeypatch.setenv("LIMS_REDIS_URL", REDIS_URL)
        monkeypatch.setenv("LIMS_REDIS_PREFIX", f"test-{uuid.uuid4().hex[:12]}")
        get_settings.cache_clear()
    yield request.param
    shared.close_all()


def _district_ids(engine: Engine) -> list[int]:
    with Session(engine) as session:
        return [int(d.id or 0) for d in session.exec(select(District).order_by(District.id))]


async def _listening(engine: Engine) -> shared.Bus:
    bus = shared.bus_for(engine)
    if isinstance(bus, shared._Listening):
        bus._listening()
        assert await asyncio.to_thread(bus.ready.wait, 30), "the listener did not start"
    return bus


def test_a_stored_result_wakes_its_district_and_only_it(
    engine: Engine, client: TestClient, headers: dict[str, dict[str, str]], bus_kind: str
) -> None:
    home = register(client, headers["tester"])  # the tester's district (the base state's first)
    own, *others = _district_ids(engine)

    async def scenario() -> tuple[bool, bool, bool, bool]:
        await _listening(engine)
        with shared.subscribe(engine, own) as mine, shared.subscribe(engine, others[0] if others else -1) as theirs:
            idle = await mine.wait(0.3)  # nothing stored: no wake-up
            mine.clear()
            await asyncio.to_thread(submit, client, headers["tester"], home["label_id"])
            woken = await mine.wait(30)
            other_woken = await theirs.wait(0.3)
            mine.clear()
            return idle, woken, other_woken, mine._waiter.event.is_set()

    idle, woken, other_woken, still_set = asyncio.run(scenario())
    assert not idle
    assert woken, f"a stored result did not wake its district's stream ({bus_kind})"
    assert not other_woken, "another district's stream was woken"
    assert not still_set


def test_news_goes_out_with_the_commit_and_never_with_a_rollback(engine: Engine, bus_kind: str) -> None:
    own = _district_ids(engine)[0]

    def write(commit: bool) -> None:
        with Session(engine) as session:
            shared.announce(session, {own})
            if commit:
                session.commit()
            else:
                session.rollback()

    async def scenario() -> tuple[bool, bool]:
        await _listening(engine)
        with shared.subscribe(engine, own) as news:
            await asyncio.to_thread(write, False)
            rolled_back = await news.wait(0.5)
            await asyncio.to_thread(write, True)
            committed = await news.wait(30)
            return rolled_back, committed

    rolled_back, committed = asyncio.run(scenario())
    assert not rolled_back
    assert committed
