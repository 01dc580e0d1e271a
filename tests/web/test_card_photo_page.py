"""A tester photographs a colloidal-gold card on the vehicle page: the judged result with the lines drawn on the
photo; a blurred photo or a file that is no photo comes back with the reason in Chinese, and nothing is stored; the
reviewer sees the same photo with its lines beside the result, another district sees nothing."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.models import TestResult
from simulators.card_photo.cards import Card, Shot, photo
from tests.web.helpers import csrf_of, sign_in

MEAT = {"point_code": "P05", "product_name": "猪肉", "category_code": "PORK"}


def _register(tester: Any) -> str:
    page = tester.get("/vehicle")
    response = tester.post("/vehicle/samples", data={"csrf": csrf_of(page.text), **MEAT}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"].split("registered=", 1)[1].split("#", 1)[0])


def _upload(tester: Any, label: str, image: bytes, **choice: str) -> Any:
    token = csrf_of(tester.get("/vehicle").text)
    return tester.post(
        "/vehicle/card-photo",
        data={"csrf": token, "label_id": label, **choice},
        files={"photo": ("card.jpg", image, "image/jpeg")},
        follow_redirects=False,
    )


def test_a_photographed_card_is_judged_and_drawn(app: Any, engine: Engine) -> None:
    tester = sign_in(app, "tester")
    label = _register(tester)
    image = photo([Card("CLB", "CLB-2611A", t=0.3, c=1.0)], Shot(width=480, height=360, seed=5))  # T/C 0.3 < 0.9
    response = _upload(tester, label, image)
    assert response.status_code == 303, response.text
    page = tester.get(response.headers["location"])
    assert page.status_code == 200
    shown = page.text.split('id="card-photo"', 1)[1].split("</section>", 1)[0]
    assert 'data-card-judgement="positive"' in shown and label in shown
    assert 'data-line="C"' in shown and 'data-line="T"' in shown
    result_id = re.search(r'href="/results/([0-9]+)/card-photo"', shown)
    assert result_id is not None
    served = tester.get(f"/results/{result_id.group(1)}/card-photo")
    assert served.status_code == 200 and served.content == image
    reviewer = sign_in(app, "reviewer")
    queue = reviewer.get("/review")
    assert f'href="/results/{result_id.group(1)}/card-photo"' in queue.text
    assert reviewer.get(f"/results/{result_id.group(1)}/card-photo").content == image
    with Session(engine) as session:
        stored = session.exec(select(TestResult)).all()
    assert len(stored) == 1 and stored[0].raw["evidence"]["size"] == len(image)


def test_a_photo_that_cannot_be_measured_says_why_and_stores_nothing(app: Any, engine: Engine) -> None:
    tester = sign_in(app, "tester")
    label = _register(tester)
    blurred = photo([Card("CLB", "CLB-2611A", t=1.0, c=1.0)], Shot(width=480, height=360, blur=4.0, seed=5))
    response = _upload(tester, label, blurred)
    assert response.status_code == 422
    assert "data-card-error" in response.text and "模糊" in response.text
    not_photo = _upload(tester, label, b"%PDF-1.4 not a photo")
    assert not_photo.status_code == 422 and "data-card-error" in not_photo.text
    unknown = _upload(tester, "ZZZZZZZZZZZZ", blurred)
    assert unknown.status_code == 404
    with Session(engine) as session:
        assert session.exec(select(TestResult)).first() is None
