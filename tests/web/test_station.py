"""The station dashboard: filters, CSV export, hotspot charts, case follow-up and notifications."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from lims.services.cases import notifications
from lims.services.public import hotspots
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
    assert 'href="/station?judgement=negative&amp;limit=202#results"' in first.text
    assert station.get("/station?limit=5000").status_code == 422
