"""Two people acting on one positive case at the same moment: exactly one wins, the other gets 409, audit intact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from barcodes.hostile import small_png
from lims.models import AuditEvent, PositiveCase, User
from lims.models.cases import Disposal, FilePurpose, LabVerdict, NoticeReceipt, RetestRequest, SaleSuspension
from lims.services.access import auth
from lims.services.cases import files, procedure
from lims.services.core.audit import Actor
from tests.cases.helpers import VERDICT
from tests.core.helpers import POSITIVE_OPC, act, register, submit
from tests.security.races import audit_intact, one_wins, race, read_together

CaseCall = Callable[[Session, Actor, int], Any]
SEAL = "FT-1"
REPORT = files.Upload(b"%PDF-1.4\n%%EOF\n")
NOTICE: CaseCall = lambda s, a, c: procedure.deliver_notice(  # noqa: E731
    s, a, c, NoticeReceipt(delivery="in_person", recipient="王五", recipient_role="摊主")
)
SUSPEND: CaseCall = lambda s, a, c: procedure.suspend_sale(s, a, c, SaleSuspension(confirmed_by="王五"))  # noqa: E731
RETEST: CaseCall = lambda s, a, c: procedure.request_retest(  # noqa: E731
    s, a, c, RetestRequest(lab="省食品检验研究院", seal_number=SEAL)
)
ACCEPT: CaseCall = lambda s, a, c: procedure.accept(s, a, c)  # noqa: E731
CONFIRMED: CaseCall = lambda s, a, c: procedure.record_verdict(  # noqa: E731
    s, a, c, LabVerdict.model_validate({**VERDICT, "outcome": "confirmed"}), REPORT
)
CLEARED: CaseCall = lambda s, a, c: procedure.record_verdict(  # noqa: E731
    s, a, c, LabVerdict.model_validate({**VERDICT, "outcome": "not_confirmed"}), REPORT
)
PHOTOS: CaseCall = lambda s, a, c: procedure.attach_photos(  # noqa: E731
    s, a, c, [files.Upload(small_png(), f"{n}.png") for n in range(4)]
)
DISPOSAL: CaseCall = lambda s, a, c: procedure.record_disposal(  # noqa: E731
    s, a, c, Disposal(action="removal", quantity=2.5, unit="kg")
)


def _actor(engine: Engine, name: str) -> Actor:
    with Session(engine) as session:
        return auth.actor_for(session.exec(select(User).where(User.username == name)).one())


def open_case(client: TestClient, h: dict[str, dict[str, str]]) -> int:
    """A case opened by approving a positive result at P05 (station ST04's point)."""
    sample = register(client, h["tester"], seal_number=SEAL)
    result = submit(client, h["tester"], sample["label_id"], POSITIVE_OPC)
    assert act(client, h["reviewer"], result["id"], "approve").status_code == 200
    found = [c for c in client.get("/api/v1/cases", headers=h["reviewer"]).json() if c["result_id"] == result["id"]]
    return int(found[0]["id"])


# (steps before, first, second, whether the second acts as the station user or a second reviewer)
RACES = {
    "two notice receipts": ([], NOTICE, NOTICE, "station"),
    "two sale suspensions": ([], SUSPEND, SUSPEND, "station"),
    "acceptance vs retest request": ([NOTICE], ACCEPT, RETEST, "station"),
    "two retest requests": ([NOTICE], RETEST, RETEST, "station"),
    "lab confirms vs lab clears": ([NOTICE, RETEST], CONFIRMED, CLEARED, "reviewer2"),
    "two disposals": ([NOTICE, ACCEPT], DISPOSAL, DISPOSAL, "station"),
    "two uploads of four photos (six at most)": ([], PHOTOS, PHOTOS, "station"),
}


@pytest.mark.parametrize("name", list(RACES))
def test_two_people_act_on_one_case_at_the_same_moment(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    before, first, second, other = RACES[name]
    case_id = open_case(client, headers)
    reviewer, station = _actor(engine, "reviewer"), _actor(engine, other)
    for step in before:
        with Session(engine, expire_on_commit=False) as session:
            step(session, reviewer, case_id)
            session.commit()
    with Session(engine) as session:
        events_before = len(session.exec(select(AuditEvent.id).where(AuditEvent.entity == "positive_case")).all())
    with read_together(monkeypatch, 2):
        outcomes = race(
            engine,
            [lambda s: first(s, reviewer, case_id), lambda s: second(s, station, case_id)],
        )
    one_wins(outcomes)
    assert "changed by someone else" in next(o for o in outcomes if o != "ok")
    with Session(engine) as session:
        case = session.get(PositiveCase, case_id)
        assert case is not None
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.entity == "positive_case", AuditEvent.entity_id == case_id)
            .order_by(col(AuditEvent.id))
        ).all()
    assert len(events) == events_before + 1  # one transition, recorded once
    # Nothing of the loser was written: the case is in exactly one of the two states.
    assert not (case.party_accepted_at and case.retest_requested_at)
    with Session(engine) as session:  # photos: the winner's four are stored and counted, the loser's none
        stored = files.of_case(session, case, FilePurpose.DISPOSAL_PHOTO)
        assert case.photo_count == len(stored) and len(stored) in (0, 4)
    audit_intact(engine)
