"""Consumers report a product or complain to 12315 from its page; the report reaches the district's station."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from barcodes.hostile import small_png
from lims.models import ConsumerLead, District
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, NotFound
from lims.services.public import leads
from tests.core.helpers import register
from tests.web.helpers import csrf_of, sign_in

GTIN13 = "6901234567892"


def _send(client: TestClient, page: str, photo: Any = None, **fields: str) -> Any:
    token = csrf_of(client.get(page).text)
    data = {"csrf": token, "code": GTIN13, "what_happened": "面条里有异物，味道发苦", "where_bought": "x市场 3号摊位"}
    files = {"photo": photo} if photo is not None else None
    return client.post("/trace/lead", data={**data, **fields}, files=files, follow_redirects=False)


def _leads(engine: Engine) -> list[ConsumerLead]:
    with Session(engine) as session:
        return list(session.exec(select(ConsumerLead).order_by(ConsumerLead.id)).all())  # type: ignore[arg-type]


def test_a_report_with_a_photo_reaches_the_districts_station(app: Any, engine: Engine) -> None:
    consumer = TestClient(app)
    sent = _send(consumer, f"/trace/{GTIN13}", ("p.png", small_png(), "image/png"), contact="13800000000")
    assert sent.status_code == 303 and sent.headers["location"] == f"/trace/{GTIN13}?sent=1#report"
    assert "您的反映已送达12315服务站" in consumer.get(sent.headers["location"]).text
    [lead] = _leads(engine)
    assert lead.gtin == "0" + GTIN13 and lead.status == "open" and lead.photo_type == "image/png"
    with Session(engine) as session:
        assert session.get(District, lead.district_id).code == "XQ"  # type: ignore[union-attr]
    station = sign_in(app, "station")
    assert 'href="/station/leads"' in station.get("/station").text  # the station's menu leads to its reports
    page = station.get("/station/leads")
    assert page.status_code == 200 and "面条里有异物" in page.text and "x市场 3号摊位" in page.text
    assert "13800000000" in page.text
    photo = station.get(f"/station/leads/{lead.id}/photo")
    assert photo.status_code == 200 and photo.content == small_png() and photo.headers["content-type"] == "image/png"
    assert TestClient(app).get(f"/station/leads/{lead.id}/photo", follow_redirects=False).status_code == 303


def test_a_report_about_a_sample_goes_to_the_samples_district(
    app: Any, client: TestClient, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    sample = register(client, headers["tester"])
    sent = _send(TestClient(app), f"/trace/{sample['label_id']}", code=sample["label_id"], kind="complaint")
    assert sent.status_code == 303, sent.text
    [lead] = _leads(engine)
    assert lead.sample_label_id == sample["label_id"] and lead.kind == "complaint" and lead.gtin is None


def test_the_product_page_offers_the_report_form_and_the_12315_line(app: Any) -> None:
    page = TestClient(app).get(f"/trace/{GTIN13}").text
    assert 'action="/trace/lead"' in page and 'href="tel:12315"' in page and "https://www.12315.cn/" in page
    assert 'name="photo"' in page and 'name="where_bought"' in page and 'name="contact"' in page


def test_bad_reports_are_refused_with_the_reason_and_what_was_typed_kept(app: Any, engine: Engine) -> None:
    consumer = TestClient(app)
    empty = _send(consumer, f"/trace/{GTIN13}", what_happened="   ")
    assert empty.status_code == 422 and "请说明发生了什么" in empty.text and "x市场 3号摊位" in empty.text
    long = _send(consumer, f"/trace/{GTIN13}", where_bought="摊" * 201)
    assert long.status_code == 422 and "购买地点超过200个字符" in long.text and "面条里有异物" in long.text
    not_image = _send(consumer, f"/trace/{GTIN13}", ("x.png", b"not an image", "image/png"))
    assert not_image.status_code == 422 and "JPEG" in not_image.text
    bad_code = _send(consumer, f"/trace/{GTIN13}", code="hello")
    assert bad_code.status_code == 422 and "举报需要指明商品条码或样品标签号" in bad_code.text
    no_token = consumer.post("/trace/lead", data={"code": GTIN13, "what_happened": "x"}, follow_redirects=False)
    assert no_token.status_code == 403
    for response in (empty, long, not_image, bad_code, no_token):
        assert "Traceback" not in response.text
    assert _leads(engine) == []


def test_reports_are_rate_limited_per_address(app: Any, engine: Engine) -> None:
    consumer = TestClient(app)
    for _ in range(3):
        assert _send(consumer, f"/trace/{GTIN13}").status_code == 303
    refused = _send(consumer, f"/trace/{GTIN13}")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "提交次数过多" in refused.text and "面条里有异物" in refused.text
    assert len(_leads(engine)) == 3
    limiter = leads.LeadLimiter(address_limits="1/minute", total_limits="2/hour")
    limiter.take("10.0.0.1")
    limiter.take("10.0.0.2")
    try:
        limiter.take("10.0.0.3")  # a fresh address, but the total for everyone is used up
    except Exception as exc:
        assert getattr(exc, "status_code", 0) == 429
    else:
        raise AssertionError("the total limit did not hold")


def test_the_station_marks_a_report_handled_once(app: Any, engine: Engine) -> None:
    assert _send(TestClient(app), f"/trace/{GTIN13}").status_code == 303
    [lead] = _leads(engine)
    station = sign_in(app, "station")
    token = csrf_of(station.get("/station/leads").text)
    url = f"/station/leads/{lead.id}/handled"
    first = station.post(url, data={"csrf": token, "note": "已到摊位核实，商品下架"}, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/station/leads?done=1"
    second = station.post(url, data={"csrf": token, "note": "再处理一次"}, follow_redirects=False)
    assert second.status_code == 409 and f"反映{lead.id}已经处理过了" in second.text
    [handled] = _leads(engine)
    assert handled.status == "handled" and handled.handled_note == "已到摊位核实，商品下架"
    page = station.get("/station/leads").text
    assert "没有待处理的反映" in page and "已到摊位核实" in page


def test_two_people_marking_one_report_at_once_one_wins(app: Any, engine: Engine) -> None:
    from tests.web.helpers import actor_of

    assert _send(TestClient(app), f"/trace/{GTIN13}").status_code == 303
    [lead] = _leads(engine)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def handle() -> None:
        with Session(engine) as session:
            actor = actor_of(session, "station")
            barrier.wait()
            try:
                leads.mark_handled(session, actor, int(lead.id or 0), "done")
                session.commit()
                outcomes.append("won")
            except Conflict:
                session.rollback()
                outcomes.append("409")
            except Exception as exc:  # SQLite: the second writer may find the database locked meanwhile
                session.rollback()
                outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=handle) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("won") == 1, outcomes
    assert [x.status for x in _leads(engine)] == ["handled"]


def test_another_districts_station_neither_sees_nor_handles_a_report(app: Any, engine: Engine) -> None:
    assert _send(TestClient(app), f"/trace/{GTIN13}").status_code == 303
    [lead] = _leads(engine)
    other = Actor(name="elsewhere", role="station", user_id=None, district_id=int(lead.district_id) + 1000)
    with Session(engine) as session:
        assert leads.queue(session, other) == []
        for attempt in (
            lambda: leads.mark_handled(session, other, int(lead.id or 0)),
            lambda: leads.photo(session, other, int(lead.id or 0)),
        ):
            try:
                attempt()
            except NotFound:
                pass
            else:
                raise AssertionError("another district's station reached the report")
    assert _leads(engine)[0].status == "open"


def test_reports_and_their_handling_are_in_the_districts_audit_trail(app: Any, engine: Engine) -> None:
    from sqlalchemy import update

    from lims.services.core import audit
    from lims.services.core.audit_tables import AUDITED_MODELS

    assert _send(TestClient(app), f"/trace/{GTIN13}").status_code == 303
    [lead] = _leads(engine)
    station = sign_in(app, "station")
    token = csrf_of(station.get("/station/leads").text)
    assert station.post(f"/station/leads/{lead.id}/handled", data={"csrf": token}).status_code == 200
    with Session(engine) as session:
        assert audit.verify(session, AUDITED_MODELS) is None
        session.execute(update(ConsumerLead).values(what_happened="改过的内容"))
        session.commit()
        assert audit.verify(session, AUDITED_MODELS) is not None  # a rewritten report is a break
