"""Every table that carries state is audited (notification marks too), each row's events go to its district's
chain, and on PostgreSQL one district's appends never wait on another's chain lock."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel, select

from lims.models import AuditEvent, District, NotificationMark, User
from lims.services.access import auth
from lims.services.core import audit
from lims.services.core.audit import SYSTEM
from lims.services.core.audit_tables import AUDITED_MODELS, NOT_AUDITED, PARENTS, SHARED, SHARED_MODELS, district_chain
from lims.services.core.upsert import upsert
from lims.services.public import trace
from tests.conftest import PASSWORD
from tests.core.helpers import published_result
from tests.security.audit_helpers import lims
from tests.web.helpers import post_form, sign_in


def test_every_table_is_audited_or_says_why_not_and_every_audited_row_has_a_chain() -> None:
    audited = {str(m.__tablename__) for m in AUDITED_MODELS}
    tables = set(SQLModel.metadata.tables)
    assert tables - audited - set(NOT_AUDITED) == set()
    assert audited & set(NOT_AUDITED) == set()
    for model in AUDITED_MODELS:
        assert model in SHARED_MODELS or "district_id" in model.model_fields or model in PARENTS, model


def test_notification_marks_are_audited(app: Any, engine: Engine) -> None:
    station = sign_in(app, "station")
    assert post_form(station, "/station", "/station/notifications/read").status_code == 303
    with Session(engine) as session:
        mark = session.exec(select(NotificationMark)).one()
        events = session.exec(
            select(AuditEvent).where(AuditEvent.entity == "notification_mark", AuditEvent.entity_id == mark.id)
        ).all()
        user = session.get(User, mark.user_id)
    assert [e.action for e in events] == ["mark_read"]
    assert user is not None and events[0].chain == district_chain(user.district_id)
    assert lims(engine, "audit", "verify").exit_code == 0
    with engine.begin() as conn:  # pretend the station saw nothing yet: old positives look unread
        conn.execute(
            text("UPDATE notification_mark SET seen_until = '2000-01-01 00:00:00' WHERE id = :i"), {"i": mark.id}
        )
    outcome = lims(engine, "audit", "verify")
    assert outcome.exit_code == 1
    assert f"notification_mark {mark.id}: row differs from its audited state (seen_until" in outcome.stderr


def _second_district(session: Session) -> District:
    district, _ = upsert(session, SYSTEM, District, {"code": "YB"}, {"name": "乙区", "name_en": "District B"})
    session.commit()
    return district


def test_rows_go_to_their_districts_chain(client: Any, headers: dict, engine: Engine) -> None:
    result = published_result(client, headers)
    with Session(engine, expire_on_commit=False) as session:
        second = _second_district(session)
        auth.add_user(session, SYSTEM, "b-tester", "tester", PASSWORD, district_code="YB")
        session.commit()
        chains = {(e.entity, e.chain) for e in session.exec(select(AuditEvent))}
        first = session.exec(select(District).where(District.code != "YB")).one()
    mine = district_chain(int(first.id or 0))
    assert {("test_result", mine), ("review", mine), ("sample_version", mine), ("sampling_point", mine)} <= chains
    assert ("app_user", district_chain(int(second.id or 0))) in chains
    assert ("district", SHARED) in chains and ("test_item", SHARED) in chains
    assert not any(entity in {"test_result", "review"} and chain == SHARED for entity, chain in chains)
    assert result["status"] == "published"


def test_the_trace_version_changes_with_every_append_to_any_chain(engine: Engine) -> None:
    def version() -> str:
        with Session(engine) as session:
            return str(session.connection().execute(trace.AUDIT_HEAD).scalar())

    seen = {version()}
    with Session(engine) as session:
        _second_district(session)
    seen.add(version())
    for name, district in (("b-one", "YB"), ("a-one", None), ("b-two", "YB")):
        with Session(engine) as session:
            auth.add_user(session, SYSTEM, name, "tester", PASSWORD, district_code=district)
            session.commit()
        seen.add(version())
    assert len(seen) == 5


def test_districts_never_wait_on_each_others_chain(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer for the whole database; chain locks are a PostgreSQL matter")
    with Session(engine) as session:
        _second_district(session)
    holder = Session(engine)
    try:
        auth.add_user(holder, SYSTEM, "a-holder", "tester", PASSWORD)  # district A's chain now locked, uncommitted
        with Session(engine) as other:
            other.connection().execute(text("SET LOCAL lock_timeout = '10s'"))
            auth.add_user(other, SYSTEM, "b-meanwhile", "tester", PASSWORD, district_code="YB")
            other.commit()  # district B committed while A's chain lock is held
        with Session(engine) as same, pytest.raises(OperationalError, match="lock timeout"):
            same.connection().execute(text("SET LOCAL lock_timeout = '200ms'"))
            auth.add_user(same, SYSTEM, "a-waits", "tester", PASSWORD)  # district A's own appends do wait
        holder.commit()
    finally:
        holder.close()
    with Session(engine) as session:
        assert audit.verify(session, AUDITED_MODELS) is None
        names = set(session.exec(select(User.username)))
    assert {"a-holder", "b-meanwhile"} <= names and "a-waits" not in names
