"""The reviewer queue: raw evidence and flags beside each result, approve / reject / publish, warnings."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.models import TestItem
from lims.services.core import atomic
from lims.services.results import reviewing
from tests.core.helpers import NEGATIVE_OPC, POSITIVE_OPC, act, register, submit
from tests.web.helpers import csrf_of, post_form, sign_in


def _flagged(client: TestClient, headers: dict[str, dict[str, str]], engine: Engine) -> dict[str, Any]:
    """A result on a vegetable whose own substances affect the enzyme, measured on the pesticide analyzer."""
    with Session(engine) as session:  # the method's interfering vegetables (reference data)
        opc = session.exec(select(TestItem).where(TestItem.code == "OPC")).one()
        opc.method = {**opc.method, "interfering_species": ["葱", "蒜", "韭菜"]}
        session.add(opc)
        session.commit()
    sample = register(client, headers["tester"], product_name="韭菜", category_code="VEG")
    body = {
        "sample_label_id": sample["label_id"],
        "item_code": "OPC",
        "raw": {"control_dA": 0.6, "sample_dA": 0.48},
        "instrument_serial": "PR-8CH-0001",
    }
    response = client.post("/api/v1/results", json=body, headers=headers["tester"])
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_queue_shows_raw_data_flags_and_both_judgements(
    app: Any, client: TestClient, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    result = _flagged(client, headers, engine)
    reviewer = sign_in(app, "reviewer")
    page = reviewer.get("/review")
    assert page.status_code == 200
    assert f'id="result-{result["id"]}"' in page.text
    assert "整株（体）蔬菜浸提" in page.text  # results.FLAG_TEXT
    assert "PR-8CH-0001" in page.text and "韭菜" in page.text
    assert "原始数据" in page.text and "<dt>control_dA</dt>" in page.text
    assert "系统判定" in page.text and "仪器判定" in page.text
    assert 'name="acknowledge_flags"' in page.text
    english = reviewer.get("/review?lang=en")
    assert "surface method" in english.text


def test_flagged_result_needs_acknowledgement(
    app: Any, client: TestClient, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    result = _flagged(client, headers, engine)
    reviewer = sign_in(app, "reviewer")
    refused = post_form(reviewer, "/review", f"/review/results/{result['id']}/approve")
    assert refused.status_code == 409
    assert "acknowledge" in refused.text and 'role="alert"' in refused.text
    done = post_form(reviewer, "/review", f"/review/results/{result['id']}/approve", {"acknowledge_flags": "true"})
    assert done.status_code == 303 and done.headers["location"].startswith("/review?done=approve")
    assert client.get(f"/api/v1/results/{result['id']}", headers=headers["reviewer"]).json()["status"] == "approved"


def test_reject_needs_a_reason_then_publish_flow(
    app: Any, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    sample = register(client, headers["tester"])
    first = submit(client, headers["tester"], sample["label_id"], POSITIVE_OPC)
    reviewer = sign_in(app, "reviewer")
    no_reason = post_form(reviewer, "/review", f"/review/results/{first['id']}/reject", {"reason": " "})
    assert no_reason.status_code == 422 and "退回须填写原因" in no_reason.text  # the page is Chinese first
    rejected = post_form(reviewer, "/review", f"/review/results/{first['id']}/reject", {"reason": "control too weak"})
    assert rejected.status_code == 303
    second = submit(client, headers["tester"], sample["label_id"], POSITIVE_OPC)
    assert post_form(reviewer, "/review", f"/review/results/{second['id']}/approve").status_code == 303
    page = reviewer.get("/review")
    assert f"/review/results/{second['id']}/publish" in page.text
    unconfirmed = post_form(reviewer, "/review", f"/review/results/{second['id']}/publish")
    assert unconfirmed.status_code == 422 and "请先勾选" in unconfirmed.text  # publishing is public and final
    assert client.get(f"/api/v1/results/{second['id']}", headers=headers["reviewer"]).json()["status"] == "approved"
    confirmed = {"confirm": "true"}
    assert post_form(reviewer, "/review", f"/review/results/{second['id']}/publish", confirmed).status_code == 303
    again = post_form(reviewer, "/review", f"/review/results/{second['id']}/publish", confirmed)
    # the page is Chinese first, the state and the action named in Chinese too
    assert again.status_code == 409 and "「已发布」的结果不能发布；只能从以下状态发布：已审核" in again.text
    trace = client.get(f"/trace/{sample['label_id']}")
    assert "疑似阳性" in trace.text


def test_unknown_result_and_action(app: Any) -> None:
    reviewer = sign_in(app, "reviewer")
    assert post_form(reviewer, "/review", "/review/results/999999/approve").status_code == 404
    bad_action = post_form(reviewer, "/review", "/review/results/1/delete")
    assert bad_action.status_code == 422 and "Traceback" not in bad_action.text


# Half a year ahead whatever the date (a warning may be set to expire at most three years ahead).
VALID_UNTIL = (date.today() + timedelta(days=180)).isoformat()


def test_publish_warning_from_the_queue(app: Any, client: TestClient) -> None:
    reviewer = sign_in(app, "reviewer")
    form = {
        "title_zh": "近期叶菜农残风险提示",
        "title_en": "Pesticide residues on leafy vegetables",
        "body_zh": "请消费者购买叶菜后充分浸泡清洗。",
        "body_en": "Soak and wash leafy vegetables well.",
        "item_code": "OPC",
        "category_code": "VEG_LEAF",
        "gtin": "",
        "valid_until": VALID_UNTIL,
    }
    unconfirmed = post_form(reviewer, "/review", "/review/warnings", form)
    assert unconfirmed.status_code == 422 and "近期叶菜农残风险提示" not in client.get("/warnings").text
    response = post_form(reviewer, "/review", "/review/warnings", {**form, "confirm": "true"})
    assert response.status_code == 303, response.text
    page = client.get("/warnings")
    assert "近期叶菜农残风险提示" in page.text and VALID_UNTIL in page.text
    assert "Pesticide residues on leafy vegetables" in client.get("/warnings?lang=en").text


def test_bad_warning_keeps_the_form_and_says_why(app: Any) -> None:
    reviewer = sign_in(app, "reviewer")
    short = post_form(
        reviewer, "/review", "/review/warnings", {"title_zh": "x", "body_zh": "内容足够长", "confirm": "true"}
    )
    assert short.status_code == 422 and "title_zh" in short.text and "内容足够长" in short.text
    past = post_form(
        reviewer,
        "/review",
        "/review/warnings",
        {"title_zh": "标题", "body_zh": "内容", "valid_until": "2001-01-01", "confirm": "true"},
    )
    assert past.status_code == 422 and "有效期已过" in past.text
    bad_gtin = post_form(
        reviewer,
        "/review",
        "/review/warnings",
        {"title_zh": "标题", "body_zh": "内容", "gtin": "123", "confirm": "true"},
    )
    assert bad_gtin.status_code == 422 and "商品条码应为8、12、13或14位" in bad_gtin.text  # the page is Chinese first


def _pending(client: TestClient, headers: dict[str, dict[str, str]], n: int, **sample: Any) -> list[int]:
    """`n` negative results awaiting review, oldest first."""
    ids = []
    for _ in range(n):
        created = register(client, headers["tester"], **sample)
        ids.append(submit(client, headers["tester"], created["label_id"], NEGATIVE_OPC)["id"])
    return ids


def _status(client: TestClient, headers: dict[str, dict[str, str]], result_id: int) -> str:
    return str(client.get(f"/api/v1/results/{result_id}", headers=headers["reviewer"]).json()["status"])


def test_batch_approve_skips_an_unacknowledged_flag_and_reports_a_conflict(
    app: Any, client: TestClient, headers: dict[str, dict[str, str]], engine: Engine, monkeypatch: Any
) -> None:
    clean = _pending(client, headers, 3)
    flagged = _flagged(client, headers, engine)["id"]
    acknowledged = _flagged(client, headers, engine)["id"]
    taken = clean.pop()  # someone else approves it after the page was shown
    reviewer = sign_in(app, "reviewer")
    page = reviewer.get("/review")
    assert 'form="batch-approve"' in page.text and 'action="/review/batch/approve"' in page.text
    assert f'name="ack" value="{flagged}"' in page.text
    assert act(client, headers["reviewer"], taken, "approve").status_code == 200
    raced = clean.pop()  # and this one is changed between our read and our conditional update
    real = atomic.update_where

    def lose_the_race(session: Any, row: Any, *args: Any) -> bool:
        return False if getattr(row, "id", None) == raced else real(session, row, *args)

    monkeypatch.setattr(atomic, "update_where", lose_the_race)
    selected = [*clean, flagged, acknowledged, taken, raced]
    token = csrf_of(page.text)
    body = {"csrf": token, "ids": selected, "ack": [acknowledged]}
    response = reviewer.post("/review/batch/approve?judgement=negative", data=body, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/review?judgement=negative&done=batch_approve&n=2&")
    assert f"{flagged}.flags" in location and f"{taken}.conflict" in location and f"{raced}.conflict" in location
    assert location.endswith("#queue")
    assert [_status(client, headers, i) for i in (*clean, acknowledged)] == ["approved", "approved"]
    assert _status(client, headers, flagged) == "tested" and _status(client, headers, raced) == "tested"
    summary = reviewer.get(location).text
    assert "已审核 2 条，跳过 3 条" in summary and "未确认该结果的提示" in summary
    assert "已被他人先行处理" in summary and f'href="#result-{flagged}"' in summary
    english = reviewer.get(location.replace("#queue", "&lang=en#queue")).text
    assert "Approved 2, skipped 3" in english and "its flags were not acknowledged" in english


def test_batch_is_bounded_and_needs_a_selection(app: Any) -> None:
    reviewer = sign_in(app, "reviewer")
    token = csrf_of(reviewer.get("/review").text)
    empty = reviewer.post("/review/batch/approve", data={"csrf": token}, follow_redirects=False)
    assert empty.status_code == 422 and "请至少选择一条结果" in empty.text
    many = {"csrf": token, "ids": list(range(1, reviewing.MAX_BATCH + 2))}
    assert reviewer.post("/review/batch/approve", data=many, follow_redirects=False).status_code == 422
    bad = reviewer.post("/review/batch/approve", data={"csrf": token, "ids": ["x"]}, follow_redirects=False)
    assert bad.status_code == 422 and "Traceback" not in bad.text
    assert reviewer.post("/review/batch/reject", data={"csrf": token, "ids": [1]}).status_code == 422


def test_batch_publish_needs_the_confirmation(app: Any, client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    ids = _pending(client, headers, 2)
    for i in ids:
        assert act(client, headers["reviewer"], i, "approve").status_code == 200
    reviewer = sign_in(app, "reviewer")
    page = reviewer.get("/review")
    assert 'action="/review/batch/publish"' in page.text and 'name="confirm" value="true" required' in page.text
    token = csrf_of(page.text)
    unconfirmed = reviewer.post("/review/batch/publish", data={"csrf": token, "ids": ids}, follow_redirects=False)
    assert unconfirmed.status_code == 422 and "请先勾选" in unconfirmed.text
    assert [_status(client, headers, i) for i in ids] == ["approved", "approved"]  # nothing was published
    body = {"csrf": token, "ids": ids, "confirm": "true"}
    done = reviewer.post("/review/batch/publish?item=OPC", data=body, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/review?item=OPC&done=batch_publish&n=2#approved"
    assert [_status(client, headers, i) for i in ids] == ["published", "published"]
    assert "已发布 2 条，跳过 0 条" in reviewer.get(done.headers["location"]).text


def test_filters_narrow_the_queue_and_stay_across_actions(
    app: Any, client: TestClient, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    at_p05 = _pending(client, headers, 3)
    at_p02 = _pending(client, headers, 1, point_code="P02")[0]
    flagged = _flagged(client, headers, engine)["id"]
    reviewer = sign_in(app, "reviewer")
    page = reviewer.get("/review?point=P05&flags=clean").text
    assert all(f'id="result-{i}"' in page for i in at_p05)
    assert f'id="result-{at_p02}"' not in page and f'id="result-{flagged}"' not in page
    assert '<option value="P05" selected>' in page and '<option value="clean" selected>' in page
    only_flagged = reviewer.get("/review?flags=flagged").text
    assert f'id="result-{flagged}"' in only_flagged and f'id="result-{at_p05[0]}"' not in only_flagged
    one_flag = reviewer.get("/review?flags=interfering_species").text
    assert f'id="result-{flagged}"' in one_flag
    assert f'id="result-{flagged}"' not in reviewer.get("/review?flags=kit_lot_expired").text
    assert f'id="result-{flagged}"' not in reviewer.get("/review?judgement=positive").text
    # every form on the filtered page posts back with the filters
    assert f'action="/review/results/{at_p05[0]}/approve?point=P05&amp;flags=clean"' in page
    # the reviewer stays in place: back to the filtered queue at the next row
    first = post_form(
        reviewer,
        "/review?point=P05&flags=clean",
        f"/review/results/{at_p05[0]}/approve?point=P05&flags=clean",
        {"at": f"result-{at_p05[1]}"},
    )
    assert first.status_code == 303
    assert first.headers["location"] == f"/review?point=P05&flags=clean&done=approve#result-{at_p05[1]}"
    forged = post_form(reviewer, "/review", f"/review/results/{at_p05[1]}/approve", {"at": 'x" onload="'})
    assert forged.headers["location"] == "/review?done=approve#queue"
    unknown = reviewer.get("/review?item=NOPE")
    assert unknown.status_code == 422 and "NOPE" in unknown.text and "Traceback" not in unknown.text
    assert reviewer.get("/review?flags=nonsense").status_code == 422
    assert reviewer.get("/review?point=" + "P" * 40).status_code == 422


def test_the_queue_is_paged(app: Any, client: TestClient, headers: dict[str, dict[str, str]], monkeypatch: Any) -> None:
    monkeypatch.setattr(reviewing, "QUEUE_PAGE", 2)
    ids = _pending(client, headers, 5)
    reviewer = sign_in(app, "reviewer")
    first = reviewer.get("/review").text
    assert first.count('class="card result-card') == 2 and "待审核结果 (5)" in first
    assert 'href="/review?page=2#queue"' in first and "第 1 / 3 页" in first
    last = reviewer.get("/review?page=3").text
    assert last.count('class="card result-card') == 1 and f'id="result-{ids[-1]}"' in last
    assert reviewer.get("/review?page=0").status_code == 422
    # once the last page's results are approved the reviewer sees the new last page, not an empty one
    assert act(client, headers["reviewer"], ids[-1], "approve").status_code == 200
    after = reviewer.get("/review?page=3").text
    assert after.count('class="card result-card') == 2 and "第 2 / 2 页" in after


def test_a_full_page_of_both_lists_stays_light(
    app: Any, client: TestClient, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    page_size = reviewing.QUEUE_PAGE
    ids = _pending(client, headers, 2 * page_size - 2)
    ids += [_flagged(client, headers, engine)["id"] for _ in range(2)]
    for result_id in ids[:page_size]:
        assert act(client, headers["reviewer"], result_id, "approve").status_code == 200
    reviewer = sign_in(app, "reviewer")
    for lang in ("zh", "en"):
        page = reviewer.get(f"/review?lang={lang}")
        assert (
            page.text.count('class="card result-card') == page_size
            and page.text.count('class="card row-card') == page_size
        )
        assert len(page.content) < 40 * 1024, len(page.content)  # every page under 40 KB
