"""A card photo is evidence: kept once by its SHA-256 with the judged result (named in its audit event), kept for a
held reading until it is assigned, and a photo that cannot be measured is refused with its reason, storing nothing."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from instrument_drivers.card_photo import codec
from instrument_drivers.card_photo.driver import readings_from_photo
from lims.models import AuditEvent, FileContent, HeldReading, TestResult, User
from lims.services.access import auth
from lims.services.core.errors import Invalid, NotFound
from lims.services.results import card_photos, evidence, holding, ingest
from simulators.card_photo.cards import Card, Shot, photo
from tests.core.helpers import register

SERIAL = "CPH-VEH-0001"


def _photo(t: float = 1.1, c: float = 1.0, *, blur: float = 0.0, item: str = "CLB", lot: str = "CLB-2611A") -> bytes:
    return photo([Card(item, lot, t=t, c=c)], Shot(width=480, height=360, blur=blur, seed=3))


def _tester(session: Session) -> auth.Actor:
    user = session.exec(select(User).where(User.username == "tester")).one()
    return auth.actor_for(user)


def test_result_keeps_the_photo_and_its_profile_with_the_hash_in_its_audit_event(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    label = register(client, headers["tester"], product_name="猪肉", category_code="PORK")["label_id"]
    image = _photo(t=1.1, c=1.0)
    (reading,) = readings_from_photo(codec.Photo(SERIAL, 12, label, image))
    with Session(engine) as session:
        stored = ingest.store(session, reading)
        session.commit()
    digest = hashlib.sha256(image).hexdigest()
    with Session(engine) as session:
        result = session.get(TestResult, stored.result_id)
        assert result is not None and result.judgement == "negative"
        ref = evidence.reference(result.raw)
        assert ref is not None and ref["sha256"] == digest and ref["size"] == len(image)
        assert len(result.raw["instrument"]["profile"]) > 50  # the measured profile across the window
        kept = session.exec(select(FileContent).where(FileContent.sha256 == digest)).one()
        assert kept.data == image
        event = session.exec(
            select(AuditEvent).where(AuditEvent.entity == "test_result", AuditEvent.entity_id == result.id)
        ).first()
        assert event is not None and digest in str(event.after)
        content_type, data = evidence.photo(session, _tester(session), int(result.id or 0))
    assert content_type == "image/jpeg" and data == image
    mark = evidence.mark(result)
    assert mark is not None and mark.c_line[1] < mark.t_line[1]  # C above T, where the card prints them


def test_a_held_reading_keeps_its_photo_until_it_is_assigned(client: TestClient, headers: dict, engine: Engine) -> None:
    image = _photo(t=0.3, c=1.0)  # T/C 0.3: positive against the lot's 0.9
    (reading,) = readings_from_photo(codec.Photo(SERIAL, 13, "", image))
    with Session(engine) as session:
        held = ingest.store(session, reading)
        session.commit()
    assert held.held_id is not None
    with Session(engine) as session:
        row = session.get(HeldReading, held.held_id)
        assert row is not None and row.reading["evidence"] is None  # the bytes are in the file store, not the row
        assert row.reading["evidence_sha256"] == hashlib.sha256(image).hexdigest()
    label = register(client, headers["tester"], product_name="猪肉", category_code="PORK")["label_id"]
    with Session(engine) as session:
        result = holding.assign(session, _tester(session), held.held_id, label)
        session.commit()
        ref = evidence.reference(result.raw)
        assert ref is not None and ref["sha256"] == hashlib.sha256(image).hexdigest()
        assert result.judgement == "positive"


def test_a_blurred_photo_is_refused_with_its_reason_and_nothing_is_stored(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    label = register(client, headers["tester"], product_name="猪肉", category_code="PORK")["label_id"]
    with Session(engine) as session:
        actor = _tester(session)
        with pytest.raises(card_photos.PhotoRefusedError) as refused:
            card_photos.readings(session, actor, _photo(blur=4.0), card_photos.Choice(label))
        assert refused.value.code == "card_photo.blurred"
        assert refused.value.text("zh") != refused.value.text("en")  # translated
        with pytest.raises(Invalid):
            card_photos.readings(session, actor, b"GIF89a not a photo", card_photos.Choice(label))
        with pytest.raises(NotFound):
            card_photos.readings(session, actor, _photo(), card_photos.Choice("ZZZZZZZZZZZZ"))
        assert session.exec(select(TestResult)).first() is None
        assert session.exec(select(FileContent)).first() is None


def test_an_uploaded_photo_is_stored_once_under_the_tester(client: TestClient, headers: dict, engine: Engine) -> None:
    label = register(client, headers["tester"], product_name="猪肉", category_code="PORK")["label_id"]
    image = _photo(t=1.2, c=1.0)
    with Session(engine) as session:
        actor = _tester(session)
        first = card_photos.store(
            session, actor, card_photos.readings(session, actor, image, card_photos.Choice(label))
        )
        session.commit()
    with Session(engine) as session:
        actor = _tester(session)
        again = card_photos.store(
            session, actor, card_photos.readings(session, actor, image, card_photos.Choice(label))
        )
        session.commit()
        results = session.exec(select(TestResult)).all()
    assert [s.duplicate for s in first + again] == [False, True]
    assert len(results) == 1 and results[0].tester_id == actor.user_id
