"""The reviewer queue: raw evidence and flags beside each result, approve / reject / publish, warnings."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.models import TestItem
from tests.core.helpers import POSITIVE_OPC, register, submit
from tests.web.helpers import post_form, sign_in


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
    assert post_form(reviewer, "/review", f"/review/results/{second['id']}/publish").status_code == 303
    again = post_form(reviewer, "/review", f"/review/results/{second['id']}/publish")
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
    response = post_form(reviewer, "/review", "/review/warnings", form)
    assert response.status_code == 303, response.text
    page = client.get("/warnings")
    assert "近期叶菜农残风险提示" in page.text and VALID_UNTIL in page.text
    assert "Pesticide residues on leafy vegetables" in client.get("/warnings?lang=en").text


def test_bad_warning_keeps_the_form_and_says_why(app: Any) -> None:
    reviewer = sign_in(app, "reviewer")
    short = post_form(reviewer, "/review", "/review/warnings", {"title_zh": "x", "body_zh": "内容足够长"})
    assert short.status_code == 422 and "title_zh" in short.text and "内容足够长" in short.text
    past = post_form(
        reviewer, "/review", "/review/warnings", {"title_zh": "标题", "body_zh": "内容", "valid_until": "2001-01-01"}
    )
    assert past.status_code == 422 and "有效期已过" in past.text
    bad_gtin = post_form(
        reviewer, "/review", "/review/warnings", {"title_zh": "标题", "body_zh": "内容", "gtin": "123"}
    )
    assert bad_gtin.status_code == 422 and "商品条码应为8、12、13或14位" in bad_gtin.text  # the page is Chinese first
