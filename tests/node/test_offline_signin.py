"""Testers sign in on a vehicle node with the link down, from its copy of the centre's accounts, for a while."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from lims.models import NodeIdentity, User
from lims.services.access import auth
from lims.services.access.throttle import SignInThrottle
from lims.services.core.errors import TooManyRequests, Unauthorized
from lims.services.sync import guard
from tests.conftest import PASSWORD

ENROLLED = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
PULLED = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


@pytest.fixture
def node(engine: Engine, as_node: None) -> Engine:
    """The test database as an enrolled node's (its accounts are those the centre sent it)."""
    with Session(engine) as session:
        district = session.exec(select(User.district_id).where(User.username == "tester")).one()
        identity = NodeIdentity(vehicle="VEH-01", centre_url="http://127.0.0.1:9", district_id=district)
        identity.enrolled_at, identity.last_pull = ENROLLED, PULLED
        session.add(identity)
        session.commit()
    return engine


def _throttle() -> SignInThrottle:
    return SignInThrottle("3/minute", "100/minute")


def _sign_in(engine: Engine, username: str, when: datetime, password: str = PASSWORD) -> auth.SignedIn:
    with time_machine.travel(when, tick=False), Session(engine, expire_on_commit=False) as session:
        signed = auth.sign_in(session, _throttle(), username, password, "10.0.0.1")
        session.commit()
        return signed


def test_a_tester_signs_in_offline_until_the_copy_expires(node: Engine) -> None:
    assert _sign_in(node, "tester", PULLED + timedelta(days=6, hours=23)).user.username == "tester"
    with pytest.raises(Unauthorized) as refused:
        _sign_in(node, "tester", PULLED + timedelta(days=7))
    assert refused.value.code == "auth.node_copy_expired"
    assert refused.value.text("zh_CN") == "本检测车保存的登录凭据已于2026-12-10过期，请将检测车连接中心后更新"
    # the next pull renews the copy
    with Session(node) as session:
        session.execute(update(NodeIdentity).values(last_pull=PULLED + timedelta(days=8)))
        session.commit()
    assert _sign_in(node, "tester", PULLED + timedelta(days=9)).token


def test_the_days_are_a_setting(node: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from lims.settings import get_settings

    monkeypatch.setenv("LIMS_NODE_CREDENTIAL_DAYS", "1")
    get_settings.cache_clear()
    with pytest.raises(Unauthorized):
        _sign_in(node, "tester", PULLED + timedelta(days=1, seconds=1))
    monkeypatch.setenv("LIMS_NODE_CREDENTIAL_DAYS", "31")
    get_settings.cache_clear()
    with pytest.raises(Exception, match="NODE_CREDENTIAL_DAYS"):
        get_settings()


def test_an_account_disabled_at_the_centre_is_refused_with_its_reason(node: Engine) -> None:
    with Session(node) as session, guard.centre_changes(session):  # as the pull applies it
        session.execute(update(User).where(col(User.username) == "tester2").values(active=False))
        session.commit()
    with pytest.raises(Unauthorized) as refused:
        _sign_in(node, "tester2", PULLED)
    assert refused.value.code == "auth.node_account_disabled"
    assert "停用" in refused.value.text("zh_CN")
    with pytest.raises(Unauthorized) as wrong:  # a wrong password learns nothing about the account
        _sign_in(node, "tester2", PULLED, "not-the-password")
    assert wrong.value.code == "auth.bad_login"


@pytest.mark.parametrize("username", ["reviewer", "admin"])
def test_only_testers_sign_in_on_a_vehicle(node: Engine, username: str) -> None:
    with pytest.raises(Unauthorized) as refused:
        _sign_in(node, username, PULLED)
    assert refused.value.code == "auth.node_not_cached"


def test_a_node_never_enrolled_signs_nobody_in(engine: Engine, as_node: None) -> None:
    with pytest.raises(Unauthorized) as refused:
        _sign_in(engine, "tester", PULLED)
    assert refused.value.code == "auth.node_copy_expired"


def test_the_centre_is_unchanged(engine: Engine) -> None:
    assert _sign_in(engine, "reviewer", PULLED + timedelta(days=400)).user.role == "reviewer"


def test_throttling_still_applies_on_the_node(node: Engine) -> None:
    throttle = _throttle()
    with time_machine.travel(PULLED, tick=False), Session(node) as session:
        for _ in range(3):
            with pytest.raises(Unauthorized):
                auth.sign_in(session, throttle, "tester", "wrong-password-here", "10.0.0.1")
        with pytest.raises(TooManyRequests):
            auth.sign_in(session, throttle, "tester", PASSWORD, "10.0.0.1")
