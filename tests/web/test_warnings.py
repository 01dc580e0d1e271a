"""Public warnings: the page and a valid Atom 1.0 feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from fastapi.testclient import TestClient

from tests.web.helpers import post_form, sign_in

A = "{http://www.w3.org/2005/Atom}"


def _publish(app: Any, title: str, body: str = "正文内容", **extra: str) -> None:
    reviewer = sign_in(app, "reviewer")
    form = {"title_zh": title, "body_zh": body, "confirm": "true", **extra}
    response = post_form(reviewer, "/review", "/review/warnings", form)
    assert response.status_code == 303, response.text


def test_empty_feed_is_valid_atom(client: TestClient) -> None:
    response = client.get("/warnings.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{A}feed"
    assert feed.findtext(f"{A}id") and feed.findtext(f"{A}title")
    datetime.fromisoformat(feed.findtext(f"{A}updated", "").replace("Z", "+00:00"))
    assert feed.findall(f"{A}entry") == []
    assert "目前没有生效的消费警示" in client.get("/warnings").text


def test_feed_entries(app: Any, client: TestClient) -> None:
    _publish(app, "警示一 <注意>", "第一条 & 内容", title_en="Warning one")
    _publish(app, "警示二", "第二条内容", gtin="6901234567892")
    feed = ET.fromstring(client.get("/warnings.atom").content)
    entries = feed.findall(f"{A}entry")
    assert len(entries) == 2
    ids = [e.findtext(f"{A}id") for e in entries]
    assert len(set(ids)) == 2 and all(i and i.startswith("tag:") for i in ids)
    titles = [e.findtext(f"{A}title") for e in entries]
    assert "警示二" in titles and "警示一 <注意> · Warning one" in titles
    for entry in entries:
        datetime.fromisoformat(entry.findtext(f"{A}updated", "").replace("Z", "+00:00"))
        content = entry.find(f"{A}content")
        assert content is not None and content.get("type") == "text" and content.text
    assert feed.findtext(f"{A}updated") == max(e.findtext(f"{A}updated", "") for e in entries)
    page = client.get("/warnings")
    assert "警示一 &lt;注意&gt;" in page.text and "/trace/00006901234567892" not in page.text
    assert 'href="/warnings.atom"' in page.text
    home = client.get("/")
    assert "警示二" in home.text


def test_reviewer_withdraws_a_warning_with_a_reason(app: Any, client: TestClient) -> None:
    _publish(app, "豆芽暂停食用警示")
    reviewer = sign_in(app, "reviewer")
    page = reviewer.get("/review")
    assert 'id="warnings-in-force"' in page.text and "豆芽暂停食用警示" in page.text
    action = page.text.split('action="/review/warnings/', 1)[1].split('"', 1)[0]
    url = f"/review/warnings/{action}"
    no_reason = post_form(reviewer, "/review", url, {"reason": " ", "confirm": "true"})
    assert no_reason.status_code == 422 and "撤回须填写原因" in no_reason.text  # the page is Chinese first
    unconfirmed = post_form(reviewer, "/review", url, {"reason": "复检合格"})
    assert unconfirmed.status_code == 422 and "豆芽暂停食用警示" in client.get("/warnings").text
    done = post_form(reviewer, "/review", url, {"reason": "复检合格", "confirm": "true"})
    assert done.status_code == 303 and "done=withdrawn" in done.headers["location"]
    assert "消费警示已撤回" in reviewer.get(done.headers["location"]).text
    assert "豆芽暂停食用警示" not in client.get("/warnings").text
    assert ET.fromstring(client.get("/warnings.atom").content).findall(f"{A}entry") == []
    again = post_form(reviewer, "/review", url, {"reason": "复检合格", "confirm": "true"})
    warning_id = action.split("/", 1)[0]
    assert again.status_code == 409 and f"消费警示 {warning_id} 已撤回" in again.text  # the page is Chinese first
