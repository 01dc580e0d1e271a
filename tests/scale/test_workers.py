"""`lims serve --workers N` on PostgreSQL with Redis behaves as one process: sign-in throttling counts every
worker's attempts, a change made through one worker is seen through the other at once (trace cache), and a
live stream on one worker receives a result stored through another.

Each worker is reached on a connection of its own: a connection found (by /healthz's `worker`) to be served by
a worker stays with it, so every request below knows which process answered it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
import redis

from lims.db import make_engine
from lims.services.core import schema
from tests.conftest import PASSWORD, PG_URL, TEST_AUDIT_KEY, _base_state, _fresh_postgres
from tests.core.helpers import NEGATIVE_OPC
from tests.security.hostile_server import free_port
from tests.web.helpers import csrf_of

REDIS_URL = "redis://127.0.0.1:6379/1"
ACCOUNT_PER_MINUTE = 5  # the first tier of LIMS_SIGNIN_ACCOUNT_LIMITS' default


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="several workers need PostgreSQL (LIMS_TEST_DATABASE_URL)"),
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A PostgreSQL database of its own with the reference data and the test users."""
    assert PG_URL
    url = _fresh_postgres(PG_URL, "workers")
    engine = make_engine(url)
    schema.upgrade(engine)
    _base_state(engine)
    engine.dispose()
    yield url


@contextmanager
def _served(folder: Path, database_url: str, workers: int) -> Iterator[str]:
    """`lims serve --workers N` on the database, sharing Redis under a prefix of this run; yields its address."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
    env.update(
        LIMS_DATABASE_URL=database_url,
        LIMS_VAR_DIR=str(folder),
        LIMS_SECRET_KEY="workers-test-secret-key-0123456789abcdef",
        LIMS_AUDIT_KEY=TEST_AUDIT_KEY,
        LIMS_AUDIT_CHECKPOINT_SECONDS="0",
        LIMS_WEBHOOK_DELIVER_SECONDS="0",
        LIMS_REDIS_URL=REDIS_URL,
        LIMS_REDIS_PREFIX=f"test-{uuid.uuid4().hex[:12]}",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "lims", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # each worker imports the app: seconds on an idle machine, more on a busy one
        while True:
            assert process.poll() is None, "lims serve stopped"
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "lims serve did not answer"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _pinned(stack: ExitStack, base: str, workers: int) -> dict[int, httpx.Client]:
    """One client per worker process, each on one kept-alive connection that worker serves."""
    found: dict[int, httpx.Client] = {}
    for _ in range(200):
        client = httpx.Client(base_url=base, timeout=30, limits=httpx.Limits(max_connections=1, keepalive_expiry=120))
        pid = int(client.get("/healthz").json()["worker"])
        if pid in found:
            client.close()
        else:
            found[pid] = client
            stack.callback(client.close)
            if len(found) == workers:
                return found
    raise AssertionError(f"only {len(found)} of {workers} workers answered 200 new connections")


def _token(client: httpx.Client, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Accept-Language": "en"}


def _check_throttling(clients: dict[int, httpx.Client]) -> None:
    """The account's failed sign-ins are counted together: exactly the tier's number are checked, then every
    worker refuses with 429 whatever it saw itself."""
    answers: list[tuple[int, int]] = []
    pids = sorted(clients)
    for attempt in range(ACCOUNT_PER_MINUTE + 3 * len(pids)):
        pid = pids[attempt % len(pids)]
        response = clients[pid].post("/api/v1/auth/token", data={"username": "reviewer2", "password": "wrong-pass"})
        answers.append((pid, response.status_code))
    statuses = [status for _pid, status in answers]
    assert statuses[:ACCOUNT_PER_MINUTE] == [401] * ACCOUNT_PER_MINUTE, answers
    assert set(statuses[ACCOUNT_PER_MINUTE:]) == {429}, answers
    assert {pid for pid, status in answers if status == 429} == set(pids), answers


def _unknown_gtin() -> str:
    """A valid GTIN-13 nobody registered (a fresh one per run: warnings stay on record)."""
    body = "69" + str(uuid.uuid4().int)[:10]
    odd_even = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - odd_even % 10) % 10)


def _check_cache(clients: dict[int, httpx.Client]) -> None:
    """A warning published through one worker is in the trace answer of every worker at once, though each had
    just cached the answer without it."""
    pids = sorted(clients)
    gtin = _unknown_gtin()
    before = {pid: clients[pid].get(f"/api/v1/trace/{gtin}") for pid in pids}
    assert {r.status_code for r in before.values()} == {404}, before
    writer = clients[pids[0]]
    title = f"警示 {uuid.uuid4().hex[:8]}"
    body = {"title_zh": title, "body_zh": "请勿食用该批次产品。", "gtin": gtin}
    published = writer.post("/api/v1/warnings", json=body, headers=_token(writer, "reviewer"))
    assert published.status_code == 201, published.text
    for pid in reversed(pids):  # the other worker first
        after = clients[pid].get(f"/api/v1/trace/{gtin}")
        assert after.status_code == 200, (pid, after.text)
        assert title in [w["title_zh"] for w in after.json()["warnings"]], (pid, after.text)


def _check_live_readings(clients: dict[int, httpx.Client], spare: httpx.Client) -> None:
    """A tester's live stream on the first worker receives a result stored through the last one (through
    `spare`, another connection, when there is one worker)."""
    pids = sorted(clients)
    watcher, writer = clients[pids[0]], (clients[pids[-1]] if len(pids) > 1 else spare)
    page = watcher.get("/login")
    signed = watcher.post(
        "/login",
        data={"username": "tester", "password": PASSWORD, "csrf": csrf_of(page.text), "next": ""},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    headers = _token(writer, "tester2")
    stored: dict[str, str] = {}

    def store() -> None:
        sample = writer.post(
            "/api/v1/samples",
            json={"point_code": "P05", "product_name": "小白菜", "category_code": "VEG_LEAF"},
            headers=headers,
        )
        assert sample.status_code == 201, sample.text
        label = stored["label"] = sample.json()["label_id"]  # before the result: its event may beat the answer
        result = writer.post(
            "/api/v1/results",
            json={"sample_label_id": label, "item_code": "OPC", "raw": NEGATIVE_OPC},
            headers=headers,
        )
        assert result.status_code == 201, result.text

    failed: list[BaseException] = []

    def store_or_say_why() -> None:
        try:
            store()
        except BaseException as exc:  # reported below: a thread's failure would otherwise only stall the stream
            failed.append(exc)

    thread = threading.Thread(target=store_or_say_why)
    seen: list[str] = []
    started = False
    with watcher.stream("GET", "/vehicle/events?seconds=40") as response:
        assert response.status_code == 200
        event = "message"
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                if event == "held" and not started:
                    started = True
                    thread.start()  # the stream has read the database once: what follows must reach it
                elif event == "result":
                    seen.append(json.loads(line[6:])["label"])
                    if stored.get("label") in seen:
                        break
                event = "message"
                if failed:
                    break
    thread.join(timeout=30)
    assert not failed, failed
    assert stored and stored["label"] in seen, (stored, seen)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("workers", [1, 2])
def test_workers_share_throttling_caches_and_live_readings(database_url: str, tmp_path: Path, workers: int) -> None:
    if not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379 (.ci/run starts it)")
    with _served(tmp_path, database_url, workers) as base, ExitStack() as stack:
        clients = _pinned(stack, base, workers)
        assert len(clients) == workers
        _check_throttling(clients)
        _check_cache(clients)
        _check_live_readings(clients, stack.enter_context(httpx.Client(base_url=base, timeout=30)))
