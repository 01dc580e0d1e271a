"""The station dashboard: filters, CSV export, hotspot charts, case follow-up and notifications."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import time_machine
from fastapi.testclient import TestClient
from sqlmodel import Session

from lims.models.common import utcnow
from lims.services.cases import board, notifications
from lims.services.public import hotspots
from lims.web import charts, pointmap
from lims.web.station import countdown
from tests.core.helpers import NEGATIVE_OPC, POSITIVE_OPC, act, register, submit
from tests.web.helpers import actor_of, post_form, sign_in


def _result(client: TestClient, h: dict[str, dict[str, str]], raw: dict[str, float], **sample: Any) -> dict[str, Any]:
    created = register(client, h["tester"], **sample)
    result = submit(client, h["tester"], created["label_id"], raw)
    assert act(client, h["reviewer"], result["id"], "approve").status_code == 200
    assert act(client, h["reviewer"], result["id"], "publish").status_code == 200
    return result


def test_dashboard_filters_and_charts(app: Any, client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    positive = _result(client, headers, POSITIVE_OPC)
    negative = _result(client, headers, NEGATIVE_OPC, point_code="P02")
    station = sign_in(app, "station")
    page = station.get("/station")
    assert page.status_code == 200
    assert f'data-result="{positive["id"]}"' in page.text and f'data-result="{negative["id"]}"' in page.text
    assert page.text.count('<svg class="chart"') == 4
    assert "1/2 (50%)" in page.text  # hotspot header: one positive of two valid tests
    only_positive = station.get("/station?judgement=positive")
    assert f'data-result="{negative["id"]}"' not in only_positive.text
    assert f'data-result="{positive["id"]}"' in only_positive.text
    at_p02 = station.get("/station?point=P02")
    assert f'data-result="{positive["id"]}"' not in at_p02.text


def test_bad_filter_is_a_clear_message(app: Any) -> None:
    station = sign_in(app, "station")
    response = station.get("/station?date_from=yesterday")
    assert response.status_code == 422
    assert "不是日期" in response.text and "Traceback" not in response.text  # the page is Chinese first
    assert "is not a date" in station.get("/station?date_from=yesterday&lang=en").text


def test_csv_export(app: Any, client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    positive = _result(client, headers, POSITIVE_OPC, product_name="小油菜")
    _result(client, headers, NEGATIVE_OPC)
    unpublished = register(client, headers["tester"])
    submit(client, headers["tester"], unpublished["label_id"], POSITIVE_OPC)
    station = sign_in(app, "station")
    response = station.get("/station/results.csv?judgement=positive")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [int(r["result_id"]) for r in rows] == [positive["id"]]
    assert rows[0]["judgement"] == "positive" and rows[0]["item_name_zh"].startswith("有机磷")
    everything = list(csv.DictReader(io.StringIO(station.get("/station/results.csv").text.lstrip("\ufeff"))))
    assert len(everything) == 2  # station users see published results only


def test_hotspot_rates(session: Session, client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    for raw, point in ((POSITIVE_OPC, "P05"), (NEGATIVE_OPC, "P05"), (NEGATIVE_OPC, "P05"), (POSITIVE_OPC, "P02")):
        _result(client, headers, raw, point_code=point)
    station = actor_of(session, "station")
    spots = hotspots.positive_rates(session, station)
    assert (spots.tested, spots.positive) == (4, 2)
    by_point = {r.key: (r.positive, r.tested) for r in spots.by["point"]}
    assert by_point == {"P05": (1, 3), "P02": (1, 1)}
    assert spots.by["point"][0].key == "P02"  # highest rate first
    assert [r.key for r in spots.by["item"]] == ["OPC"] and spots.by["category"][0].key == "VEG_LEAF"
    assert len(spots.by["month"]) == 1 and spots.by["month"][0].rate == 0.5
    assert hotspots.positive_rates(session, station, point_code="P02").tested == 1


def test_case_follow_up_and_notifications(app: Any, client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    station = sign_in(app, "station")
    assert "新通知" not in station.get("/station").text
    created = register(client, headers["tester"], product_name="菠菜")
    result = submit(client, headers["tester"], created["label_id"], POSITIVE_OPC)
    assert act(client, headers["reviewer"], result["id"], "approve").status_code == 200
    page = station.get("/station")
    assert "新通知" in page.text and "阳性结果已审核" in page.text and "菠菜" in page.text
    assert "data-unread>新通知 1</a>" in station.get("/warnings").text  # every page shows the count
    other = sign_in(app, "station_other")
    assert "菠菜" not in other.get("/station").text  # another station's points: no case, no notice
    case_id = client.get("/api/v1/cases", headers=headers["reviewer"]).json()[0]["id"]
    assert f'data-case="{case_id}"' in page.text and "登记告知书送达" in page.text
    receipt = {"delivery": "in_person", "recipient": "王五", "recipient_role": "摊主"}
    assert post_form(station, "/station", f"/station/cases/{case_id}/notice", receipt).status_code == 303
    assert "登记复检申请" in station.get("/station").text
    refused = post_form(
        station, "/station", f"/station/cases/{case_id}/disposal", {"action": "removal", "quantity": "3"}
    )
    assert refused.status_code == 409 and "须在被检方认可" in refused.text  # the page is Chinese first
    assert post_form(station, "/station", f"/station/cases/{case_id}/accept").status_code == 303
    bad_quantity = post_form(
        station, "/station", f"/station/cases/{case_id}/disposal", {"action": "removal", "quantity": "lots"}
    )
    assert bad_quantity.status_code == 422 and "不是数字" in bad_quantity.text
    negative = post_form(
        station, "/station", f"/station/cases/{case_id}/disposal", {"action": "removal", "quantity": "-1"}
    )
    assert negative.status_code == 422 and "quantity" in negative.text
    done = post_form(
        station, "/station", f"/station/cases/{case_id}/disposal", {"action": "destruction", "quantity": "2.5"}
    )
    assert done.status_code == 303
    case = client.get(f"/api/v1/cases/{case_id}", headers=headers["reviewer"]).json()
    assert case["status"] == "closed" and case["disposal_quantity"] == 2.5 and case["disposal_action"] == "destruction"
    assert post_form(station, "/station", "/station/notifications/read").status_code == 303
    assert "新通知" not in station.get("/station").text


def test_retest_and_lab_outcome(app: Any, client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    created = register(client, headers["tester"])
    result = submit(client, headers["tester"], created["label_id"], POSITIVE_OPC)
    act(client, headers["reviewer"], result["id"], "approve")
    case_id = client.get("/api/v1/cases", headers=headers["reviewer"]).json()[0]["id"]
    station = sign_in(app, "station")
    receipt = {"delivery": "in_person", "recipient": "王五", "recipient_role": "摊主"}
    assert post_form(station, "/station", f"/station/cases/{case_id}/notice", receipt).status_code == 303
    assert post_form(station, "/station", f"/station/cases/{case_id}/seal", {"seal_number": "FT-7"}).status_code == 303
    retest = {"lab": "x市食品检验所", "seal_number": "FT-7"}
    assert post_form(station, "/station", f"/station/cases/{case_id}/retest", retest).status_code == 303
    page = station.get("/station")
    assert "已送实验室复检" in page.text and "x市食品检验所" in page.text
    assert "检验机构结论由本辖区审核员登记" in page.text  # the verdict is not the station's to record
    reviewer = sign_in(app, "reviewer")
    assert f'action="/review/cases/{case_id}/verdict"' in reviewer.get("/review").text


def test_notification_marks_never_move_back(
    session: Session, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    created = register(client, headers["tester"])
    result = submit(client, headers["tester"], created["label_id"], POSITIVE_OPC)
    act(client, headers["reviewer"], result["id"], "approve")
    station = actor_of(session, "station")
    unread = notifications.unread(session, station)
    assert len(unread) == 1 and unread[0].sample_label_id == created["label_id"]
    later = notifications.mark_read(session, station)
    assert notifications.mark_read(session, station, unread[0].opened_at) == later
    assert notifications.unread(session, station) == []


def test_results_list_is_paged(app: Any, client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    for _ in range(3):
        _result(client, headers, NEGATIVE_OPC)
    station = sign_in(app, "station")
    first = station.get("/station?limit=2&judgement=negative")
    assert first.text.count("<tr class=") == 2
    ids = [int(i) for i in re.findall(r'data-result="(\d+)"', first.text)]
    older = re.search(r'href="/station\?judgement=negative&amp;limit=2&amp;before=(\d+)#results"', first.text)
    assert older, "no link to the older results"
    second = station.get(f"/station?judgement=negative&limit=2&before={older.group(1)}")
    assert second.status_code == 200
    older_ids = [int(i) for i in re.findall(r'data-result="(\d+)"', second.text)]
    assert older_ids and max(older_ids) < int(older.group(1))
    assert not set(ids) & set(older_ids)
    assert station.get("/station?limit=5000").status_code == 422
    assert station.get("/station?before=-1").status_code == 422


def _case(client: TestClient, h: dict[str, dict[str, str]], **sample: Any) -> tuple[dict[str, Any], int]:
    """An approved positive at P05 (the signed-in station's point) and its case id."""
    created = register(client, h["tester"], **sample)
    result = submit(client, h["tester"], created["label_id"], POSITIVE_OPC)
    approved = act(client, h["reviewer"], result["id"], "approve")
    assert approved.status_code == 200, approved.text
    cases = client.get("/api/v1/cases", headers=h["reviewer"]).json()
    return created, next(c["id"] for c in cases if c["result_id"] == result["id"])


def test_case_card_names_the_product_the_seller_the_result_and_the_next_deadline(
    app: Any, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    created, case_id = _case(client, headers, product_name="油麦菜", vendor="x蔬菜经营部", stall="A-12")
    station = sign_in(app, "station")
    page = station.get("/station").text
    card = page.split(f'id="case-{case_id}"', 1)[1].split("</article>", 1)[0]
    assert "油麦菜" in card and "x蔬菜经营部" in card and "A-12" in card
    assert f'href="/trace/{created["label_id"]}"' in card and "查看结果" in card
    # the first clock: the sale is to be suspended within 30 minutes of the case opening
    assert "暂停销售期限" in card and re.search(
        r'data-deadline="[^"]+" data-now="[^"]+" role="timer">剩余 (29|30)分钟<', card
    )
    assert 'src="/static/station.js"' in page and 'data-left="剩余 {time}"' in page
    with time_machine.travel(utcnow() + timedelta(hours=2, minutes=5), tick=False):
        late = station.get("/station?lang=en").text.split(f'id="case-{case_id}"', 1)[1].split("</article>", 1)[0]
    assert "Sale to be suspended by" in late and "overdue by 1 h 35 min" in late and 'class="deadline over"' in late
    receipt = {"delivery": "in_person", "recipient": "王五", "recipient_role": "摊主"}
    assert post_form(station, "/station", f"/station/cases/{case_id}/notice", receipt).status_code == 303
    suspended = post_form(station, "/station", f"/station/cases/{case_id}/suspend", {"confirmed_by": "王五"})
    assert suspended.status_code == 303
    after = station.get("/station?lang=zh").text.split(f'id="case-{case_id}"', 1)[1].split("</article>", 1)[0]
    assert "复检申请截止" in after and re.search(r">剩余 (3小时59分|4小时0分)<", after)  # art. 88: four hours


def test_countdown_texts() -> None:
    assert countdown(0, "zh") == "剩余 0分钟"
    assert countdown(59 * 60 + 59, "en") == "59 min left"
    assert countdown(3 * 3600 + 5 * 60, "zh") == "剩余 3小时5分"
    assert countdown(-(2 * 86400 + 3 * 3600), "en") == "overdue by 2 d 3 h"


def test_closed_cases_are_kept_in_a_history_newest_first(
    app: Any, session: Session, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    station = sign_in(app, "station")
    receipt = {"delivery": "in_person", "recipient": "王五", "recipient_role": "摊主"}
    closed = []
    for product in ("菠菜", "生菜"):
        _created, case_id = _case(client, headers, product_name=product, stall="B-3")
        assert post_form(station, "/station", f"/station/cases/{case_id}/notice", receipt).status_code == 303
        assert post_form(station, "/station", f"/station/cases/{case_id}/accept").status_code == 303
        disposal = {"action": "destruction", "quantity": "2.5"}
        assert post_form(station, "/station", f"/station/cases/{case_id}/disposal", disposal).status_code == 303
        closed.append(case_id)
    still_open = _case(client, headers, product_name="韭黄")[1]
    page = station.get("/station").text
    history = page.split('id="history"', 1)[1].split("</section>", 1)[0]
    assert "已结案 (2)" in history and "销毁 2.5 kg" in history
    assert history.index(f'data-closed-case="{closed[1]}"') < history.index(f'data-closed-case="{closed[0]}"')
    assert f'data-closed-case="{still_open}"' not in history and f'data-case="{still_open}"' in page
    assert f'data-case="{closed[0]}"' not in page  # no longer among the open cases
    actor = actor_of(session, "station")
    assert [c.case.id for c in board.history(session, actor, limit=1)] == [closed[1]]
    assert board.history(session, actor_of(session, "station_other")) == []  # another station's points


def test_hotspot_bars_are_scaled_to_the_highest_rate_shown() -> None:
    small = hotspots.Rate("P01", "P01", "P01", tested=50, positive=1)  # 2 %
    larger = hotspots.Rate("P02", "P02", "P02", tested=100, positive=9)  # 9 %
    assert charts.scale_end([small, larger]) == 0.1 and charts.scale_end([]) == 0.01
    svg = str(charts.rate_chart([larger, small], "zh", "按抽样点"))
    widths = [int(w) for w in re.findall(r'<rect x="0" y="\d+" width="(\d+)" height="12" rx="2" fill="#', svg)][1::2]
    assert widths == [171, 38]  # 9 % and 2 % of a 10 % scale; on a 0–100 % scale they were 17 and 4
    assert "1/50 (2.0%)" in svg and "9/100 (9.0%)" in svg and ">10%</text>" in svg and ">5.0%</text>" in svg
    assert 'data-scale="0.1"' in svg
    everything = charts.rate_chart([hotspots.Rate("X", "X", "X", tested=2, positive=2)], "en", "by item")
    assert 'data-scale="1"' in str(everything) and ">100%</text>" in str(everything)


def test_map_of_the_districts_points_coloured_by_recent_results(
    app: Any, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    _result(client, headers, POSITIVE_OPC)  # P05
    _result(client, headers, NEGATIVE_OPC, point_code="P02")
    station = sign_in(app, "station")
    page = station.get("/station").text
    figure = page.split('id="map"', 1)[1].split("</section>", 1)[0]
    assert (
        figure.count('<svg class="point-map"') == 1
        and "<image" not in figure
        and "http" not in figure.split("xmlns")[1][40:]
    )
    assert figure.count('<g class="map-point') == 10  # every point of the district has coordinates
    assert '<g class="map-point positive" data-point="P05">' in figure
    assert '<g class="map-point negative" data-point="P02">' in figure
    assert '<g class="map-point none" data-point="P09">' in figure
    assert figure.index('data-point="P02"') < figure.index('data-point="P05"')  # the positive is drawn on top
    assert "全部阴性" in figure and "有疑似阳性" in figure and "无结果" in figure and " km</text>" in figure
    assert '<li class="positive" data-map-point="P05">' in figure and "P05</strong>" in figure


def test_map_projection_puts_north_up_and_east_right() -> None:
    def at(code: str, lat: float | None, lon: float | None) -> hotspots.PointStatus:
        return hotspots.PointStatus(code, code, code, lat, lon, 0, 0)

    placed, km = pointmap.place([at("W", 30.0, 114.0), at("E", 30.0, 114.2), at("N", 30.1, 114.1), at("X", None, 1)])
    where = {p.point.code: (p.x, p.y) for p in placed}
    assert set(where) == {"W", "E", "N"}  # a point without coordinates is listed, not drawn
    assert where["W"][0] < where["N"][0] < where["E"][0] and where["N"][1] < where["W"][1] == where["E"][1]
    assert all(pointmap.PAD - 0.01 <= x <= pointmap.WIDTH - pointmap.PAD + 0.01 for x, _ in where.values())
    assert 0.05 < km < 0.2  # about 17 km across the drawing's width of 320
    single, no_scale = pointmap.place([at("A", 30.0, 114.0)])
    assert (single[0].x, single[0].y, no_scale) == (pointmap.WIDTH / 2, pointmap.HEIGHT / 2, 0.0)
