"""On a vehicle node every change to what the centre owns is refused by one guard, with the reason; the node's
own work (samples, results at the point) goes on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.models import PlanTask, TestItem, User
from lims.services.sync import guard
from lims.services.sync.guard import CentreOwned
from lims.settings import get_settings
from tests.security.districts_world import World, api, build, create_unpublished_work
from tests.web.helpers import post_form

ZH_REFUSAL = "在检测车节点上不能修改"
RECEIPT = {"delivery": "in_person", "recipient": "摊主", "recipient_role": "经营者"}
URGENT = {"point_code": "P01", "complaint": "投诉", "category_code": "PORK"}
NEW_USER = {"username": "newbie", "role": "tester", "password": "a-long-new-passphrase"}


@pytest.fixture
def world(app: Any, engine: Engine, tmp_path: Path) -> Any:
    """Both districts with their published and unpublished work, made at the centre; then this LIMS is a node."""
    built = build(app, engine, tmp_path)
    create_unpublished_work(built)
    yield built


def _become_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMS_NODE_CENTRE", "http://127.0.0.1:9")
    monkeypatch.setenv("LIMS_NODE_VEHICLE", "VEH-01")
    get_settings.cache_clear()


def _centre_changes(world: World) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(role, method, url, json) of changes to centre-owned things, one or more per kind the centre owns."""
    xq = world.sides["XQ"]
    return [
        ("reviewer", "POST", f"/api/v1/results/{xq.secret_result}/publish", {}),
        ("reviewer", "POST", f"/api/v1/results/{xq.published_result}/archive", {}),
        ("reviewer", "POST", "/api/v1/warnings", {"title_zh": "警示", "body_zh": "谨慎购买。", "item_code": "OPC"}),
        ("reviewer", "POST", f"/api/v1/warnings/{xq.warning}/withdraw", {"reason": "已解除"}),
        ("reviewer", "POST", f"/api/v1/cases/{xq.case}/notice-receipt", RECEIPT),
        (
            "reviewer",
            "POST",
            "/api/v1/tasks/urgent",
            {"point_code": "P01", "complaint": "投诉", "category_code": "PORK"},
        ),
        ("admin", "POST", f"/api/v1/kit-lots/{xq.free_kit_lot}/receive", {"quantity": 5}),
        (
            "admin",
            "POST",
            "/api/v1/users",
            NEW_USER,
        ),
        ("admin", "POST", f"/api/v1/users/{xq.account}/disable", {}),
        ("reviewer", "POST", f"/api/v1/samples/{xq.published_label}/corrections/2/approve", {}),
    ]


def test_centre_owned_changes_are_refused_on_the_node(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    xq = world.sides["XQ"]
    _become_node(monkeypatch)
    refused = []
    for role, method, url, body in _centre_changes(world):
        answer = api(world, xq, role, method, url, json=body)
        if answer.status_code == 409 and answer.json()["code"] == "node.centre_owned":
            refused.append(url)
        else:
            raise AssertionError(f"{url}: {answer.status_code} {answer.text}")
    assert len(refused) == len(_centre_changes(world))


def test_the_refusal_is_in_the_readers_language(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    xq = world.sides["XQ"]
    _become_node(monkeypatch)
    headers = {**world.headers(xq, "reviewer"), "Accept-Language": "zh-CN"}
    answer = world.browser(xq, "anonymous").post(
        "/api/v1/warnings", headers=headers, json={"title_zh": "警示", "body_zh": "谨慎。", "item_code": "OPC"}
    )
    assert answer.status_code == 409
    assert answer.json()["detail"] == "在检测车节点上不能修改消费警示，请在中心操作"
    # the review page shows the same refusal where the reviewer acted
    page = world.browser(xq, "reviewer")
    shown = post_form(page, "/review", f"/review/results/{xq.secret_result}/publish", {"confirm": "true"})
    assert shown.status_code == 409
    assert "a vehicle node cannot change a result&#39;s review or publication" in shown.text or ZH_REFUSAL in shown.text


def test_the_nodes_own_work_goes_on(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    xq = world.sides["XQ"]
    _become_node(monkeypatch)
    sample = api(
        world,
        xq,
        "tester",
        "POST",
        "/api/v1/samples",
        json={"point_code": "P01", "product_name": "车上青菜", "category_code": "VEG_LEAF"},
    )
    assert sample.status_code == 201, sample.text
    assert sample.json()["label_id"][8] == "A"  # VEH-01's node letter: no collision with the centre's ids
    body = {
        "sample_label_id": sample.json()["label_id"],
        "item_code": "OPC",
        "raw": {"control_dA": 0.60, "sample_dA": 0.50},
    }
    result = api(world, xq, "tester", "POST", "/api/v1/results", json=body)
    assert result.status_code == 201, result.text
    arrived = api(world, xq, "tester", "POST", f"/api/v1/tasks/{xq.task}/arrived", json={})
    assert arrived.status_code in (200, 201), arrived.text


def test_bulk_statements_and_the_sync_engine(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _become_node(monkeypatch)
    guard.install()
    with Session(engine) as session:
        with pytest.raises(CentreOwned) as refused:
            session.execute(update(TestItem).values(name_en="changed on the vehicle"))
        assert refused.value.details == {"table": "test_item"}
        session.rollback()
        with pytest.raises(CentreOwned):
            session.execute(update(PlanTask).values(complaint="changed on the vehicle"))
        session.rollback()
        # a task's arrival time is the node's to record
        session.execute(update(PlanTask).values(arrived_at=None))
        user = session.exec(select(User).where(User.username == "tester")).one()
        user.full_name = "改名"
        with pytest.raises(CentreOwned):
            session.flush()
        session.rollback()
        with guard.centre_changes(session):
            user = session.exec(select(User).where(User.username == "tester")).one()
            user.full_name = "从中心拉取"
            session.flush()
        session.commit()
    monkeypatch.delenv("LIMS_NODE_CENTRE")
    get_settings.cache_clear()
    with Session(engine) as session:  # at the centre nothing is refused
        session.execute(update(TestItem).values(name_en="changed at the centre"))
        session.commit()


def test_every_centre_table_is_named_in_the_refusal() -> None:
    from sqlmodel import SQLModel

    from lims.services.sync import ownership

    centre = {t for t in SQLModel.metadata.tables if ownership.owner_of(t) == "centre"} - guard.NODE_LOCAL
    assert "review" in centre and "app_user" in centre
    unnamed = centre - set(guard.THINGS)
    # bookkeeping of the centre alone (its vehicles, webhooks, leads, files) falls under "data kept at the centre"
    assert CentreOwned("vehicle").text("zh_CN") == "在检测车节点上不能修改由中心保管的数据，请在中心操作"
    assert unnamed.isdisjoint({"review", "positive_case", "public_warning", "kit_lot", "plan_task", "sampling_point"})
