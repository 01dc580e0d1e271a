"""Sign-in throttling per account and per address (429 without hashing), and a bound on concurrent hashing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from lims.services.access import passwords, throttle
from lims.services.access.throttle import SignInThrottle
from lims.settings import get_settings
from tests.conftest import PASSWORD
from tests.security.accounts_helpers import TOKEN_URL, CountingHasher
from tests.web.helpers import csrf_of

MORNING = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingHasher]:
    """A real argon2 hasher counting every verification. New hashes (and the dummy hash that unknown names
    are checked against) are made with cheap parameters to keep the test fast; stored hashes keep theirs."""
    hasher = CountingHasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(passwords, "_hasher", lambda: hasher)
    passwords._dummy_hash.cache_clear()
    passwords.verify(None, "warm-up")  # makes the dummy hash beforehand
    hasher.verifies = 0
    yield hasher
    passwords._dummy_hash.cache_clear()


def _settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"LIMS_{name.upper()}", value)
    get_settings.cache_clear()


def _token(client: TestClient, username: str, password: str, **headers: str) -> Any:
    """Ask for a token, reading refusals in English."""
    return client.post(
        TOKEN_URL, data={"username": username, "password": password}, headers={"Accept-Language": "en", **headers}
    )


def test_sixty_wrong_passwords_end_in_429_and_no_hash_after_the_lock(
    client: TestClient, counted: CountingHasher
) -> None:
    with time_machine.travel(MORNING, tick=False) as clock:
        answers = [_token(client, "reviewer", f"wrong-password-{n}") for n in range(60)]
        assert [a.status_code for a in answers[:5]] == [401] * 5
        assert {a.status_code for a in answers[5:]} == {429}
        assert counted.verifies == 5
        locked = answers[-1]
        assert 1 <= int(locked.headers["Retry-After"]) <= 60
        assert "too many failed sign-ins for this account" in locked.json()["detail"]
        assert locked.json()["locked"] == "account"

        # Locked means locked: the right password is not even checked.
        assert _token(client, "reviewer", PASSWORD).status_code == 429
        assert counted.verifies == 5
        # Another account from the same address is not affected.
        assert _token(client, "tester", PASSWORD).status_code == 200

        clock.shift(61)
        assert _token(client, "reviewer", PASSWORD).status_code == 200
        # Success resets the account: five more wrong passwords before the next lock.
        again = [_token(client, "reviewer", "wrong-password").status_code for _ in range(6)]
        assert again == [401] * 5 + [429]


def test_the_lock_grows_with_repeated_failures(client: TestClient, counted: CountingHasher) -> None:
    with time_machine.travel(MORNING, tick=False) as clock:
        assert [_token(client, "reviewer", "wrong-password").status_code for _ in range(5)] == [401] * 5
        first = int(_token(client, "reviewer", "wrong-password").headers["Retry-After"])
        assert first <= 60
        clock.shift(first + 1)
        assert [_token(client, "reviewer", "wrong-password").status_code for _ in range(5)] == [401] * 5
        # Ten failures within 15 minutes: the next tier holds the account for the rest of that window.
        longer = _token(client, "reviewer", PASSWORD)
        assert longer.status_code == 429 and 60 < int(longer.headers["Retry-After"]) <= 15 * 60
        clock.shift(int(longer.headers["Retry-After"]) + 1)
        assert _token(client, "reviewer", PASSWORD).status_code == 200
        assert counted.verifies == 11


def test_wrong_passwords_from_one_address_lock_that_address(app: Any, counted: CountingHasher) -> None:
    sprayer = TestClient(app, client=("203.0.113.5", 40000))
    colleague = TestClient(app, client=("198.51.100.7", 40000))
    with time_machine.travel(MORNING, tick=False):
        # One guess per account, so that only the address's count can stop it.
        names = ["tester", "reviewer", "station", "admin", "tester2"] + [f"nobody{n}" for n in range(20)]
        statuses = [_token(sprayer, name, "spring-2026-password").status_code for name in names]
        assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
        assert counted.verifies == 20
        refused = _token(sprayer, "reviewer2", PASSWORD)
        assert refused.status_code == 429 and "from this address" in refused.json()["detail"]
        # X-Forwarded-For from a peer that is not a trusted proxy changes nothing.
        assert _token(sprayer, "reviewer2", PASSWORD, **{"X-Forwarded-For": "192.0.2.1"}).status_code == 429
        assert counted.verifies == 20
        # Another address signs in, even to an account the sprayer tried.
        assert _token(colleague, "reviewer", PASSWORD).status_code == 200


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(app: Any, counted: CountingHasher) -> None:
    app.state.trusted_proxies = throttle.trusted_networks("203.0.113.0/24")
    proxy = TestClient(app, client=("203.0.113.5", 40000))
    with time_machine.travel(MORNING, tick=False):
        for n in range(20):
            _token(proxy, f"nobody{n}", "spring-2026-password", **{"X-Forwarded-For": "192.0.2.1"})
        assert _token(proxy, "nobody2", "x", **{"X-Forwarded-For": "192.0.2.1"}).json()["locked"] == "address"
        # A forged hop left of the client is ignored; another client behind the proxy is not locked.
        other = _token(proxy, "reviewer", PASSWORD, **{"X-Forwarded-For": "192.0.2.1, 192.0.2.99"})
        assert other.status_code == 200
    assert throttle.client_address("203.0.113.5", "192.0.2.1, 203.0.113.9", app.state.trusted_proxies) == "192.0.2.1"
    assert throttle.client_address("192.0.2.50", "10.9.9.9", app.state.trusted_proxies) == "192.0.2.50"
    assert throttle.address_key("2001:db8::1") == throttle.address_key("2001:db8::ffff") == "2001:db8::/64"


def test_the_sign_in_page_says_when_the_account_is_locked(app: Any, counted: CountingHasher) -> None:
    browser = TestClient(app)
    with time_machine.travel(MORNING, tick=False):
        token = csrf_of(browser.get("/login?lang=en").text)
        form = {"username": "station", "password": "wrong-password", "csrf": token}
        assert [browser.post("/login", data=form).status_code for _ in range(5)] == [401] * 5
        locked = browser.post("/login", data=form)
        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) <= 60
        assert "Too many failed sign-ins; try again in 1 minute" in locked.text
        assert browser.post("/login", data={**form, "password": PASSWORD}).status_code == 429
        assert counted.verifies == 5
        # The API and the page share the count.
        assert _token(TestClient(app), "station", PASSWORD).status_code == 429


# FastAPI builds a type adapter for the sign-in form's fields on each request; pydantic building several at
# once in threads sometimes warns about the fields' aliases. The warning is theirs and harmless to the answer.
@pytest.mark.filterwarnings("ignore::pydantic.warnings.UnsupportedFieldAttributeWarning")
def test_at_most_the_configured_number_of_hashes_run_at_once(
    app: Any, monkeypatch: pytest.MonkeyPatch, counted: CountingHasher
) -> None:
    _settings(monkeypatch, hash_concurrency="2", hash_wait_seconds="30")
    app.state.signin_throttle = SignInThrottle("1000/minute", "1000/minute")
    counted.delay = 0.05
    start = threading.Barrier(32)

    def wrong_login(n: int) -> int:
        caller = TestClient(app, client=(f"10.0.0.{n + 1}", 40000))
        start.wait()
        return int(_token(caller, f"user{n}", f"wrong-password-{n}").status_code)

    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(wrong_login, range(32)))
    assert statuses == [401] * 32
    assert counted.verifies == 32
    assert 1 <= counted.max_in_flight <= 2


def test_no_free_hashing_slot_is_a_fast_503(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(monkeypatch, hash_concurrency="2", hash_wait_seconds="0")
    busy, release = threading.Barrier(3), threading.Event()

    def occupy() -> None:
        with passwords.slot():
            busy.wait()
            release.wait()

    holders = [threading.Thread(target=occupy) for _ in range(2)]
    for holder in holders:
        holder.start()
    busy.wait()
    try:
        refused = _token(client, "reviewer", PASSWORD)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert "try again" in refused.json()["detail"]
    finally:
        release.set()
        for holder in holders:
            holder.join()
    assert _token(client, "reviewer", PASSWORD).status_code == 200
