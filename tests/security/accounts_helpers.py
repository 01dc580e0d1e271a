"""Helpers for the account tests: tokens, a second district, and a password hasher that counts its work."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from lims.models import District, Station
from lims.services.access import auth
from lims.services.core.audit import SYSTEM
from tests.conftest import PASSWORD

TOKEN_URL = "/api/v1/auth/token"


def token_for(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """A bearer token from the API's sign-in."""
    response = client.post(TOKEN_URL, data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}


def second_district(session: Session) -> None:
    """District YB with station YB01, its administrator `admin_b` and tester `tester_b`."""
    district = District(code="YB", name="乙区", name_en="District B")
    session.add(district)
    session.flush()
    session.add(Station(code="YB01", name="乙区站", level="city", district_id=int(district.id or 0)))
    session.flush()
    for name, role in (("admin_b", "admin"), ("tester_b", "tester")):
        auth.add_user(session, SYSTEM, name, role, PASSWORD, district_code="YB")
    session.commit()


class CountingHasher:
    """The real argon2 hasher, counting verifications and the most that ran at once."""

    def __init__(self, real: Any, delay: float = 0.0) -> None:
        self.real = real
        self.delay = delay  # widens each verification so that overlaps, if allowed, would happen
        self.verifies = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def verify(self, password_hash: str, password: str) -> Any:
        """Count, then verify with the real hasher."""
        with self._lock:
            self.verifies += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self.real.verify(password_hash, password)
        finally:
            with self._lock:
                self.in_flight -= 1

    def hash(self, password: str) -> str:
        """Hash with the real hasher."""
        return str(self.real.hash(password))
