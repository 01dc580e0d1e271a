"""Corrections of published samples under races: one decision per correction, one pending correction per sample."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from lims.models import AuditEvent, Sample, SampleVersion, User
from lims.models.samples import SampleCorrection
from lims.services.access import auth
from lims.services.core.audit import Actor
from lims.services.results import reviewing
from lims.services.samples import sampling
from tests.core.helpers import act, register, submit
from tests.security.races import audit_intact, one_wins, race, read_together
from tests.security.test_corrections_published import MOVE, published_positive


def _actor(engine: Engine, name: str) -> Actor:
    with Session(engine) as session:
        return auth.actor_for(session.exec(select(User).where(User.username == name)).one())


def _pending(client: TestClient, headers: dict[str, dict[str, str]]) -> str:
    label = str(published_positive(client, headers)["label_id"])
    asked = client.post(f"/api/v1/samples/{label}/corrections", json=MOVE, headers=headers["tester"])
    assert asked.status_code == 202, asked.text
    return label


@pytest.mark.parametrize("second", ["approve", "reject"])
def test_two_reviewers_decide_one_correction_at_the_same_moment(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    second: str,
) -> None:
    label = _pending(client, headers)
    reviewer, reviewer2 = _actor(engine, "reviewer"), _actor(engine, "reviewer2")
    with read_together(monkeypatch, 2):
        outcomes = race(
            engine,
            [
                lambda s: sampling.review_correction(s, reviewer, label, 2, "approve"),
                lambda s: sampling.review_correction(s, reviewer2, label, 2, second, reason="条码与照片不符"),
            ],
        )
    one_wins(outcomes)
    with Session(engine) as session:
        sample = session.exec(select(Sample).where(Sample.label_id == label)).one()
        version = session.exec(
            select(SampleVersion).where(SampleVersion.sample_id == sample.id, SampleVersion.version == 2)
        ).one()
    assert sample.pending_version is None
    # The sample follows exactly the decision that won.
    assert (version.state, sample.version, sample.gtin) in (
        ("approved", 2, MOVE["gtin"].rjust(14, "0")),
        ("rejected", 1, "0" + "6901234567892"),
    )
    audit_intact(engine)


def test_two_testers_ask_to_correct_one_published_sample_at_the_same_moment(
    client: TestClient, headers: dict[str, dict[str, str]], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    label = published_positive(client, headers)["label_id"]
    tester, tester2 = _actor(engine, "tester"), _actor(engine, "tester2")
    with read_together(monkeypatch, 2, sampling, "_locked"):
        outcomes = race(
            engine,
            [
                lambda s: sampling.correct(s, tester, label, SampleCorrection(**MOVE)),
                lambda s: sampling.correct(s, tester2, label, SampleCorrection(**{**MOVE, "brand": "金锣"})),
            ],
        )
    one_wins(outcomes)
    with Session(engine) as session:
        sample = session.exec(select(Sample).where(Sample.label_id == label)).one()
        versions = session.exec(select(SampleVersion).where(SampleVersion.sample_id == sample.id)).all()
    assert sample.pending_version == 2 and sorted(v.state for v in versions) == ["pending", "recorded"]
    audit_intact(engine)


def test_a_correction_and_the_publication_of_the_samples_result_at_the_same_moment(
    client: TestClient, headers: dict[str, dict[str, str]], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = register(client, headers["tester"], gtin="6901234567892")
    result = submit(client, headers["tester"], sample["label_id"])
    assert act(client, headers["reviewer"], result["id"], "approve").status_code == 200
    tester, reviewer = _actor(engine, "tester"), _actor(engine, "reviewer")
    correction = SampleCorrection(**{**MOVE, "category_code": "VEG_LEAF", "product_name": "上海青"})
    with read_together(monkeypatch, 2):
        outcomes = race(
            engine,
            [
                lambda s: sampling.correct(s, tester, sample["label_id"], correction),
                lambda s: reviewing.act(s, reviewer, result["id"], "publish"),
            ],
        )
    assert all(o == "ok" or o.startswith("conflict: ") for o in outcomes), outcomes
    assert outcomes[1] == "ok"  # the publication always goes through
    with Session(engine) as session:
        row = session.exec(select(Sample).where(Sample.label_id == sample["label_id"])).one()
        events = session.exec(
            select(AuditEvent.entity, AuditEvent.action)
            .where(col(AuditEvent.action).in_(["correct", "correction_requested", "publish"]))
            .order_by(col(AuditEvent.id))
        ).all()
    # The data the public sees only ever changed before publication, or waits for a reviewer.
    if row.version == 2:
        assert [a for _, a in events] == ["correct", "publish"]
    else:
        assert row.version == 1 and ("sample", "correct") not in events
    audit_intact(engine)
