"""Two reviewers approve the same result at the same moment: exactly one succeeds."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.models import Review, User
from lims.services.access import auth
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, ServiceError
from lims.services.results import reviewing
from tests.core.helpers import register, submit


def test_two_reviewers_race_to_approve(client: TestClient, headers: dict, engine: Engine) -> None:
    sample = register(client, headers["tester"])
    result = submit(client, headers["tester"], sample["label_id"])
    with Session(engine) as session:
        reviewers = [auth.actor_for(u) for u in session.exec(select(User).where(User.role == "reviewer"))]
    assert len(reviewers) == 2
    barrier = threading.Barrier(len(reviewers))
    outcomes: list[str] = []

    def approve(actor: Actor) -> None:
        with Session(engine, expire_on_commit=False) as session:
            try:
                barrier.wait(timeout=10)
                reviewing.act(session, actor, result["id"], "approve")
                session.commit()
                outcomes.append("ok")
            except Conflict:
                session.rollback()
                outcomes.append("conflict")
            except ServiceError as exc:
                outcomes.append(f"other: {exc.reason}")
            except Exception as exc:  # a database-level refusal is also a lost race
                session.rollback()
                outcomes.append(f"db: {type(exc).__name__}")

    threads = [threading.Thread(target=approve, args=(actor,)) for actor in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert outcomes.count("ok") == 1, outcomes
    with Session(engine) as session:
        reviews = session.exec(select(Review).where(Review.result_id == result["id"])).all()
    assert [r.action for r in reviews] == ["approve"]
