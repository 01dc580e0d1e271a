"""The market's public board: only published results of this point in the last local days, disposals, warnings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select

from lims.models import District, PublicWarning, SamplingPoint, Station, User
from lims.models.cases import WarningState
from lims.services.public import market_board
from tests.cases.helpers import dispose, notice, post
from tests.core.helpers import NEGATIVE_OPC, POSITIVE_OPC, act, register, submit
from tests.web.helpers import sign_in

# 20:00 in Shanghai on 2026-12-03; the board's three local days are 12-01, 12-02 and 12-03.
START = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
Headers = dict[str, dict[str, str]]


@pytest.fixture
def traveller() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as t:
        yield t


@pytest.fixture
def h(traveller: time_machine.Coordinates, headers: Headers) -> Headers:
    return headers


def _result(
    client: TestClient, h: Headers, at: datetime, *, publish: bool = True, raw: Any = None, **sample: Any
) -> dict[str, Any]:
    """A sample collected and tested at `at` (P05 unless told), approved and, unless told otherwise, published."""
    created = register(client, h["tester"], collected_at=(at - timedelta(minutes=10)).isoformat(), **sample)
    result = submit(client, h["tester"], created["label_id"], raw or NEGATIVE_OPC, tested_at=at.isoformat())
    approved = act(client, h["reviewer"], result["id"], "approve")
    assert approved.status_code == 200, approved.text
    if publish:
        assert act(client, h["reviewer"], result["id"], "publish").status_code == 200
    return {**result, "label_id": created["label_id"]}


def _case_id(client: TestClient, h: Headers, result_id: int) -> int:
    found = [c for c in client.get("/api/v1/cases", headers=h["reviewer"]).json() if c["result_id"] == result_id]
    return int(found[0]["id"])


WARNING = {"title_zh": "叶菜农药残留消费提示", "body_zh": "请充分浸泡清洗后食用。", "item_code": "OPC"}


@pytest.fixture
def world(client: TestClient, h: Headers, session: Session) -> dict[str, Any]:
    """P05 with results inside and outside the days, unpublished work, a disposed positive, warnings; P04 and a
    second district's P05 beside it."""
    w: dict[str, Any] = {}
    w["today"] = _result(client, h, START - timedelta(hours=1), product_name="小白菜", vendor="张记蔬菜", stall="A12")
    # 00:30 on 12-03 in Shanghai is 16:30 UTC on 12-02: it is today's, not yesterday's.
    w["after_midnight"] = _result(client, h, datetime(2026, 12, 2, 16, 30, tzinfo=UTC), product_name="菠菜")
    w["late_yesterday"] = _result(client, h, datetime(2026, 12, 2, 15, 30, tzinfo=UTC), product_name="生菜")
    # 23:00 on 11-30 in Shanghai: the day before the first of three days.
    w["too_old"] = _result(client, h, datetime(2026, 11, 30, 15, 0, tzinfo=UTC), product_name="油麦菜")
    w["unpublished"] = _result(client, h, START - timedelta(hours=2), publish=False, product_name="上海青")
    w["other_point"] = _result(client, h, START - timedelta(hours=3), point_code="P04", product_name="空心菜")
    # A positive, published, taken to its disposal: notice, the party accepts, 12.5 kg destroyed.
    w["positive"] = _result(
        client, h, START - timedelta(hours=4), raw=POSITIVE_OPC, product_name="豇豆", vendor="李记", stall="B3"
    )
    case = _case_id(client, h, w["positive"]["id"])
    assert notice(client, h["station"], case).status_code == 200
    assert post(client, h["station"], case, "acceptance").status_code == 200
    assert dispose(client, h["station"], case).status_code == 200
    # A positive approved (its case is open) but not published: neither its result nor its case is public.
    w["hidden_positive"] = _result(
        client, h, START - timedelta(hours=5), raw=POSITIVE_OPC, publish=False, product_name="茄子"
    )
    assert client.post("/api/v1/warnings", json=WARNING, headers=h["reviewer"]).status_code == 201
    gone = client.post("/api/v1/warnings", json={**WARNING, "title_zh": "已撤回的提示"}, headers=h["reviewer"])
    withdrawn = {"reason": "误发"}
    assert client.post(
        f"/api/v1/warnings/{gone.json()['id']}/withdraw", json=withdrawn, headers=h["reviewer"]
    ).is_success
    # A second district with its own P05 and a warning of its own.
    other = District(code="YB", name="乙区", name_en="District B")
    session.add(other)
    session.flush()
    station = Station(code="YB01", name="乙区站", level="city", district_id=int(other.id or 0))
    session.add(station)
    session.flush()
    session.add(
        SamplingPoint(code="P05", name="乙区市场", district_id=int(other.id or 0), station_id=int(station.id or 0))
    )
    author = session.exec(select(User).where(User.username == "reviewer")).one()
    session.add(
        PublicWarning(
            title_zh="乙区警示",
            body_zh="乙区的提示",
            district_id=int(other.id or 0),
            state=WarningState.PUBLISHED,
            published_at=datetime.now(UTC),
            published_by_id=int(author.id or 0),
        )
    )
    session.commit()
    return w


def _independent_count(session: Session, point: str, district: str, since: datetime) -> int:
    """The board's rule in plain SQL: published or archived, valid, not a repeat run, at the point, since `since`."""
    return int(
        session.execute(
            text(
                "SELECT COUNT(*) FROM test_result r JOIN sample s ON s.id = r.sample_id "
                "JOIN sampling_point p ON p.id = s.point_id JOIN district d ON d.id = p.district_id "
                "WHERE p.code = :point AND d.code = :district AND r.status IN ('published', 'archived') "
                "AND r.repeat_of_id IS NULL AND r.judgement IN ('negative', 'positive') AND r.tested_at >= :since"
            ),
            {"point": point, "district": district, "since": since.replace(tzinfo=None)},
        ).scalar()
    )


def test_the_board_lists_only_this_points_published_results_of_the_local_days(
    world: dict[str, Any], session: Session
) -> None:
    found = market_board.board(session, "P05", "XQ")
    labels = [r.sample_label_id for r in found.results]
    # Newest first; the positive is there with its case state; nothing unpublished, old or of another point.
    expected = ["today", "positive", "after_midnight", "late_yesterday"]
    assert labels == [world[k]["label_id"] for k in expected]
    # 12-01 00:00 in Shanghai is 11-30 16:00 UTC (worked by hand, not with the clock module).
    assert len(labels) == _independent_count(session, "P05", "XQ", datetime(2026, 11, 30, 16, 0))
    assert (found.first_day.isoformat(), found.today.isoformat(), found.days) == ("2026-12-01", "2026-12-03", 3)
    by_label = {r.sample_label_id: r for r in found.results}
    assert by_label[world["after_midnight"]["label_id"]].local_day.isoformat() == "2026-12-03"
    assert by_label[world["late_yesterday"]["label_id"]].local_day.isoformat() == "2026-12-02"
    today = by_label[world["today"]["label_id"]]
    assert (today.product_name, today.vendor, today.stall, today.judgement) == ("小白菜", "张记蔬菜", "A12", "negative")
    assert by_label[world["positive"]["label_id"]].case_state == "no_retest"
    # Four days reach back to 11-30, and the result at 23:00 that day.
    wider = market_board.board(session, "P05", "XQ", days=4)
    assert world["too_old"]["label_id"] in [r.sample_label_id for r in wider.results]
    assert len(wider.results) == _independent_count(session, "P05", "XQ", datetime(2026, 11, 29, 16, 0))
    one = market_board.board(session, "P05", "XQ", days=1)  # only 12-03 local: the 00:30 result counts
    assert [r.sample_label_id for r in one.results] == [
        world[k]["label_id"] for k in ("today", "positive", "after_midnight")
    ]


def test_the_board_shows_the_disposal_of_public_positives_and_the_districts_warnings(
    world: dict[str, Any], session: Session
) -> None:
    found = market_board.board(session, "P05", "XQ")
    assert [d.sample_label_id for d in found.disposals] == [world["positive"]["label_id"]]
    disposal = found.disposals[0]
    assert (disposal.disposal_action, disposal.disposal_quantity, disposal.disposal_unit) == ("destruction", 12.5, "kg")
    assert (disposal.case_state, disposal.closed, disposal.stall, disposal.vendor) == ("no_retest", True, "B3", "李记")
    assert [w.title_zh for w in found.warnings] == [WARNING["title_zh"]]  # not the withdrawn one, not district YB's
    other = market_board.board(session, "P05", "YB")
    assert other.results == [] and other.disposals == [] and [w.title_zh for w in other.warnings] == ["乙区警示"]


def test_a_point_code_is_bounded_and_an_ambiguous_one_asks_for_the_district(
    world: dict[str, Any], session: Session
) -> None:
    for code, district in (
        ("P99", None),
        ("P05", "ZZ"),
        ("P05", "XQQ"),
        ("P 05", None),
        ("x" * 17, None),
        ("../P05", None),
    ):
        with pytest.raises(market_board.NotFound) as refused:
            market_board.board(session, code, district)
        assert refused.value.code == "board.no_board"
    with pytest.raises(market_board.NotFound) as ambiguous:
        market_board.board(session, "P05")
    assert ambiguous.value.code == "board.ambiguous_point"
    assert market_board.board(session, "P04").point_code == "P04"  # only one district has a P04
    assert market_board.board(session, "P05", "xq").district_code == "XQ"
    assert market_board.board(session, "P05", "XQ", days=500).days == market_board.MAX_DAYS


def test_the_page_panel_and_json_are_public_cacheable_and_cookie_free(
    world: dict[str, Any], client: TestClient
) -> None:
    page = client.get("/board/P05?district=XQ")
    assert page.status_code == 200 and "set-cookie" not in page.headers
    assert page.headers["cache-control"] == "public, max-age=30"
    html = page.text
    assert '<html lang="zh-CN">' in html and "快检公示屏" in html and "x仓储购物广场" in html
    assert "张记蔬菜" in html and "阴性" in html and "未申请复检" in html  # the consumer page's words
    assert "销毁" in html and "12.5 kg" in html and WARNING["title_zh"] in html
    assert "上海青" not in html and "空心菜" not in html and "茄子" not in html and "油麦菜" not in html
    assert 'data-offline-text="网络中断，显示的是 {time} 的数据"' in html
    assert '<noscript><meta http-equiv="refresh"' in html and '<script src="/static/board.js"></script>' in html
    assert "今天" in html and "19:00" in html  # 11:00 UTC shown as Shanghai's wall clock
    fast = client.get("/board/P05?district=XQ&refresh=4&rotate=3")
    assert fast.headers["cache-control"] == "public, max-age=2" and 'data-refresh="4"' in fast.text
    panel = client.get("/board/P05/panel?district=XQ")
    assert panel.status_code == 200 and panel.text.lstrip().startswith('<div class="panel"')
    assert "set-cookie" not in panel.headers and "张记蔬菜" in panel.text
    data = client.get("/board/P05.json?district=XQ")
    assert data.status_code == 200 and "set-cookie" not in data.headers
    body = data.json()
    assert [r["product_name"] for r in body["results"]] == ["小白菜", "豇豆", "菠菜", "生菜"]
    assert body["results"][1]["result_zh"] == "未申请复检" and body["results"][0]["result_zh"] == "阴性"
    assert body["results"][0]["result_en"] == "Negative" and body["disposals"][0]["disposal_action"] == "destruction"
    english = client.get("/board/P05?district=XQ&lang=en")
    assert '<html lang="en">' in english.text and "Network down: showing the data of {time}" in english.text
    worker = client.get("/board/sw.js")
    assert worker.status_code == 200 and worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "address",
    ["/board/P99", "/board/P05?district=ZZ", "/board/P05", "/board/P%2005", "/board/" + "x" * 200, "/board/P99/panel"],
)
def test_an_address_without_a_board_gets_a_neutral_chinese_404(
    world: dict[str, Any], client: TestClient, address: str
) -> None:
    answer = client.get(address, headers={"Accept-Language": "en"})  # a display set to English still reads Chinese
    assert answer.status_code == 404 and "set-cookie" not in answer.headers
    assert "此地址没有公示屏" in answer.text


@pytest.mark.parametrize("query", ["days=0", "days=15", "refresh=1", "rotate=9999", "page=0", "lang=fr", "days=x"])
def test_bad_board_parameters_are_refused_with_a_4xx(world: dict[str, Any], client: TestClient, query: str) -> None:
    assert client.get(f"/board/P05?district=XQ&{query}").status_code == 422


def test_staff_pages_link_to_the_board(world: dict[str, Any], app: Any) -> None:
    for user, page in (("admin", "/admin/points/P05"), ("station", "/station")):
        with sign_in(app, user) as browser:
            shown = browser.get(page)
            assert shown.status_code == 200, shown.text[:300]
            assert 'href="/board/P05?district=XQ"' in shown.text
