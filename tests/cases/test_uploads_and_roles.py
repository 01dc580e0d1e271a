"""Reviewer-only verdicts, bounded uploads (report and photos) refused in the reader's language, and a race
between two reviewers recording the verdict."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from barcodes.hostile import png_bomb
from lims.models import AuditEvent, PositiveCase, User
from lims.models.cases import CaseFile, LabVerdict
from lims.services.access import auth
from lims.services.cases import files, procedure
from lims.services.core.audit import Actor
from tests.cases.helpers import PDF, PHOTO, SEAL, VERDICT, ZH, notice, post, vegetable_case, verdict
from tests.security.races import audit_intact, one_wins, race, read_together

Headers = dict[str, dict[str, str]]


def _referred(client: TestClient, h: Headers) -> int:
    case = vegetable_case(client, h, seal_number=SEAL)
    assert notice(client, h["station"], case["id"]).status_code == 200
    asked = post(client, h["station"], case["id"], "retest-request", {"lab": "省检院", "seal_number": SEAL})
    assert asked.status_code == 200
    return int(case["id"])


def _photos(client: TestClient, headers: dict[str, str], case_id: int, images: list[bytes]) -> Any:
    parts = [("photo", (f"p{i}.png", data, "image/png")) for i, data in enumerate(images)]
    return client.post(f"/api/v1/cases/{case_id}/photos", files=parts, headers=headers)


def test_a_station_user_may_not_record_the_verdict(client: TestClient, h: Headers) -> None:
    case_id = _referred(client, h)
    refused = verdict(client, h["station"], case_id)
    assert refused.status_code == 403
    assert refused.json()["code"] == "procedure.verdict_reviewers_only"
    in_chinese = verdict(client, {**h["station"], **ZH}, case_id)
    assert in_chinese.status_code == 403 and "审核员" in in_chinese.json()["detail"]
    assert client.get(f"/api/v1/cases/{case_id}", headers=h["reviewer"]).json()["referral_outcome"] is None


def test_a_cma_number_must_be_twelve_digits(client: TestClient, h: Headers) -> None:
    case_id = _referred(client, h)
    refused = verdict(client, h["reviewer"], case_id, cma="CMA-2020-1")
    assert refused.status_code == 422 and refused.json()["code"] == "procedure.cma_number_format"


def test_the_report_must_be_a_pdf_within_its_bound(client: TestClient, h: Headers) -> None:
    case_id = _referred(client, h)
    too_big = verdict(client, {**h["reviewer"], **ZH}, case_id, report=PDF + b"0" * files.MAX_REPORT_BYTES)
    assert too_big.status_code == 413 and "10 MB" in too_big.json()["detail"]
    assert "实验室报告" in too_big.json()["detail"]
    not_pdf = verdict(client, {**h["reviewer"], **ZH}, case_id, report=PHOTO)
    assert not_pdf.status_code == 422 and not_pdf.json()["code"] == "files.report_not_pdf"
    assert "不是 PDF" in not_pdf.json()["detail"]
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        assert session.exec(select(CaseFile).where(CaseFile.case_id == case_id)).all() == []


def test_photos_are_bounded_in_count_size_and_type(client: TestClient, h: Headers) -> None:
    case = vegetable_case(client, h)
    zh = {**h["station"], **ZH}
    seven = _photos(client, zh, case["id"], [PHOTO] * (files.MAX_PHOTOS + 1))
    assert seven.status_code == 413 and seven.json()["code"] == "files.too_many_photos"
    assert "最多" in seven.json()["detail"]
    not_image = _photos(client, zh, case["id"], [PHOTO, PDF])
    assert not_image.status_code == 422 and not_image.json()["code"] == "files.photo_not_image"
    huge = _photos(client, zh, case["id"], [PHOTO + b"\0" * files.MAX_PHOTO_BYTES])
    assert huge.status_code == 413 and huge.json()["code"] == "files.photo_too_large"
    bomb = _photos(client, zh, case["id"], [png_bomb()])
    assert bomb.status_code == 413 and bomb.json()["code"] == "files.photo_too_many_pixels"
    kept = _photos(client, h["station"], case["id"], [PHOTO, PHOTO])
    assert kept.status_code == 200, kept.text
    photo_ids = kept.json()["photo_ids"]
    assert len(photo_ids) == 2
    shown = client.get(f"/api/v1/cases/{case['id']}/files/{photo_ids[0]}", headers=h["reviewer"])
    assert shown.status_code == 200 and shown.content == PHOTO and shown.headers["content-type"] == "image/png"
    five_more = _photos(client, h["station"], case["id"], [PHOTO] * 5)  # 2 + 5 > 6
    assert five_more.status_code == 413
    other = client.get(f"/api/v1/cases/{case['id']}/files/{photo_ids[0]}", headers=h["station_other"])
    assert other.status_code == 404


def _actor(engine: Engine, name: str) -> Actor:
    with Session(engine) as session:
        return auth.actor_for(session.exec(select(User).where(User.username == name)).one())


def test_two_reviewers_record_the_verdict_at_once(
    client: TestClient, h: Headers, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = _referred(client, h)
    first, second = _actor(engine, "reviewer"), _actor(engine, "reviewer2")
    confirmed = LabVerdict.model_validate(VERDICT)
    cleared = LabVerdict.model_validate({**VERDICT, "outcome": "not_confirmed"})
    report = files.Upload(PDF)
    with read_together(monkeypatch, 2):
        outcomes = race(
            engine,
            [
                lambda s: procedure.record_verdict(s, first, case_id, confirmed, report),
                lambda s: procedure.record_verdict(s, second, case_id, cleared, report),
            ],
        )
    one_wins(outcomes)
    assert "changed by someone else" in next(o for o in outcomes if o != "ok")
    with Session(engine) as session:
        case = session.get(PositiveCase, case_id)
        assert case is not None and case.referral_outcome in ("confirmed", "not_confirmed")
        verdicts = session.exec(
            select(AuditEvent).where(
                AuditEvent.entity == "positive_case", AuditEvent.entity_id == case_id, AuditEvent.action == "verdict"
            )
        ).all()
        reports = session.exec(select(CaseFile).where(CaseFile.case_id == case_id).order_by(col(CaseFile.id))).all()
    assert len(verdicts) == 1
    assert [r.id for r in reports] == [case.verdict_report_id]  # the loser's report was rolled back with it
    audit_intact(engine)
