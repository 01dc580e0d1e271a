"""Every other state change under a race: exactly one of two wins and the other gets 409; marks never clash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from instrument_drivers.base import Reading
from lims.models import NotificationMark, PublicWarning, TestResult, User
from lims.models.cases import WarningBase
from lims.models.common import utcnow
from lims.models.plans import UrgentTaskCreate
from lims.services.access import auth
from lims.services.cases import notifications, warnings
from lims.services.core.audit import Actor
from lims.services.results import holding, ingest
from lims.services.samples import plans
from tests.core.helpers import register
from tests.security.races import audit_intact, one_wins, race, read_together


def _actor(engine: Engine, name: str) -> Actor:
    with Session(engine) as session:
        return auth.actor_for(session.exec(select(User).where(User.username == name)).one())


def test_two_reviewers_withdraw_one_warning_at_the_same_moment(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    reviewer, reviewer2 = _actor(engine, "reviewer"), _actor(engine, "reviewer2")
    with Session(engine) as session:
        warning = warnings.publish(session, reviewer, WarningBase(title_zh="注意韭菜农残", body_zh="近期韭菜农残超标"))
        session.commit()
        warning_id = int(warning.id or 0)
    with read_together(monkeypatch, 2):
        outcomes = race(
            engine,
            [
                lambda s: warnings.withdraw(s, reviewer, warning_id, "复检合格"),
                lambda s: warnings.withdraw(s, reviewer2, warning_id, "商户已整改"),
            ],
        )
    one_wins(outcomes)
    with Session(engine) as session:
        row = session.get(PublicWarning, warning_id)
        assert row is not None and row.withdrawn_reason in {"复检合格", "商户已整改"}
    audit_intact(engine)


def test_two_testers_assign_one_held_reading_at_the_same_moment(
    client: TestClient, headers: dict[str, dict[str, str]], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    reading = Reading(
        instrument_serial="PR-8CH-0001",
        family="pesticide",
        sequence=77,
        item_code="OPC",
        channel=2,
        sample_label_id=None,
        raw={"control_dA": 0.6, "sample_dA": 0.18},
        value=70.0,
        judgement="positive",
    )
    with Session(engine) as session:
        held_id = ingest.store(session, reading).held_id
        session.commit()
    assert held_id is not None
    first, second = (register(client, headers["tester"])["label_id"] for _ in range(2))
    tester, tester2 = _actor(engine, "tester"), _actor(engine, "tester2")
    with read_together(monkeypatch, 2):
        outcomes = race(
            engine,
            [
                lambda s: holding.assign(s, tester, held_id, first),
                lambda s: holding.assign(s, tester2, held_id, second),
            ],
        )
    one_wins(outcomes)
    with Session(engine) as session:
        judged = session.exec(select(TestResult).where(TestResult.instrument_sequence == 77)).all()
    assert len(judged) == 1  # the loser's result was not half-written
    audit_intact(engine)


def test_two_testers_mark_one_urgent_task_reached_at_the_same_moment(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    tester, tester2 = _actor(engine, "tester"), _actor(engine, "tester2")
    with Session(engine) as session:
        task = plans.create_urgent(session, tester, UrgentTaskCreate(point_code="P05", complaint="顾客投诉青菜有异味"))
        session.commit()
        task_id = int(task.id or 0)
    with read_together(monkeypatch, 2):
        outcomes = race(engine, [lambda s, a=a: plans.mark_arrived(s, a, task_id) for a in (tester, tester2)])
    one_wins(outcomes)
    audit_intact(engine)


def test_tabs_mark_notifications_read_at_the_same_moment(engine: Engine) -> None:
    station = _actor(engine, "station")
    now = utcnow()
    marks = [now - timedelta(minutes=m) for m in range(20, 0, -1)]
    outcomes = race(engine, [lambda s, m=m: notifications.mark_read(s, station, m) for m in marks])
    assert outcomes == ["ok"] * len(marks)  # marking read is never a conflict: no tab gets an error
    with Session(engine) as session:
        rows = session.exec(select(NotificationMark).where(NotificationMark.user_id == station.user_id)).all()
        assert len(rows) == 1 and notifications.seen_until(session, station) == marks[-1]  # never moves back
