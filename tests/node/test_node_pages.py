"""The node's banner on every page, and the centre's page of detection vehicles (zh and en, roles, one-time codes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.models import NodeIdentity, SyncOutbox, User, Vehicle
from lims.services.core.audit import SYSTEM
from lims.services.sync import vehicles
from tests.security.districts_world import load_district_b
from tests.web.helpers import csrf_of, post_form, sign_in

NOW = datetime(2026, 12, 3, 6, 30, tzinfo=UTC)  # 14:30 in the district


def _identity(engine: Engine, offline_since: datetime | None, waiting: int) -> None:
    with Session(engine) as session:
        district = session.exec(select(User.district_id).where(User.username == "tester")).one()
        identity = NodeIdentity(vehicle="VEH-01", centre_url="http://127.0.0.1:9", district_id=district)
        identity.enrolled_at, identity.last_push, identity.offline_since = NOW, NOW, offline_since
        identity.last_pull = NOW
        session.add(identity)
        for number in range(waiting):
            key = f"node-record-{number:04d}"
            session.add(
                SyncOutbox(table_name="sample", row_key=number + 1, operation="insert", payload={}, idempotency_key=key)
            )
        session.commit()


@pytest.mark.parametrize(
    ("offline_since", "zh", "en"),
    [
        (
            NOW - timedelta(minutes=20),
            "离线自 14:10（3 条记录待同步）",
            "Offline since 14:10 (3 record(s) waiting to sync)",
        ),
        (NOW - timedelta(days=1), "离线自 2026-12-02 14:30（3 条记录待同步）", "Offline since 2026-12-02 14:30"),
        (None, "在线，3 条记录待同步", "Online, 3 record(s) waiting to sync"),
    ],
)
def test_every_node_page_shows_the_link(
    app: Any, engine: Engine, as_node: None, offline_since: datetime | None, zh: str, en: str
) -> None:
    _identity(engine, offline_since, 3)
    with time_machine.travel(NOW, tick=False):
        tester = sign_in(app, "tester")
        for path in ("/vehicle", "/warnings", "/trace"):
            assert zh in tester.get(path + "?lang=zh").text, path
            assert en in tester.get(path + "?lang=en").text, path
        assert zh in tester.get("/login?lang=zh").text  # signed out too


def test_the_centre_shows_no_banner(client: Any) -> None:
    assert "data-node-link" not in client.get("/warnings").text


def test_the_administrator_adds_a_vehicle_and_sees_its_one_time_code(app: Any, engine: Engine) -> None:
    admin = sign_in(app, "admin")
    page = admin.get("/admin/vehicles?lang=zh")
    assert page.status_code == 200 and "快速检测车" in page.text and "尚未添加检测车" in page.text
    added = post_form(admin, "/admin/vehicles", "/admin/vehicles", {"code": "veh-01"})
    assert added.status_code == 201, added.text
    code = added.text.split("data-enrolment-code>")[1].split("<")[0]
    assert len(code) >= 16
    assert code not in admin.get("/admin/vehicles").text  # shown once
    with Session(engine) as session:
        assert vehicles.enrol(session, "VEH-01", code).vehicle == "VEH-01"
        session.commit()
    renewed = post_form(admin, "/admin/vehicles", "/admin/vehicles/VEH-01/code")
    assert renewed.status_code == 200 and "data-enrolment-code" in renewed.text
    english = admin.get("/admin/vehicles?lang=en").text
    assert "Detection vehicles" in english and 'data-vehicle="VEH-01"' in english and "never" in english


@pytest.mark.parametrize(
    ("code", "reason"),
    [("VEH-27", "1至26"), ("VAN", "1至26"), ("TRUCK-1", "已有检测车以此数字结尾"), ("bad code!", "")],
)
def test_a_vehicle_needs_a_number_of_its_own(app: Any, engine: Engine, code: str, reason: str) -> None:
    admin = sign_in(app, "admin")
    assert post_form(admin, "/admin/vehicles?lang=zh", "/admin/vehicles", {"code": "VEH-01"}).status_code == 201
    refused = post_form(admin, "/admin/vehicles?lang=zh", "/admin/vehicles", {"code": code})
    assert refused.status_code == 422, refused.text
    assert reason in refused.text
    with Session(engine) as session:
        assert session.exec(select(Vehicle.code)).all() == ["VEH-01"]


def test_the_page_is_the_administrators(app: Any) -> None:
    for role in ("tester", "reviewer", "station"):
        client = sign_in(app, role)
        assert client.get("/admin/vehicles", follow_redirects=False).status_code == 403
        token = csrf_of(client.get("/warnings").text)
        assert client.post("/admin/vehicles", data={"csrf": token, "code": "VEH-05"}).status_code == 403
    admin = sign_in(app, "admin")
    assert admin.post("/admin/vehicles", data={"code": "VEH-05"}, follow_redirects=False).status_code == 403


def test_another_districts_vehicle_is_not_there(app: Any, engine: Engine, tmp_path: Path) -> None:
    load_district_b(engine, tmp_path / "b")
    with Session(engine) as session:
        vehicles.add_vehicle(session, SYSTEM, "VEH-02", "YB")
        session.commit()
    admin = sign_in(app, "admin")
    theirs = post_form(admin, "/admin/vehicles", "/admin/vehicles/VEH-02/code")
    missing = post_form(admin, "/admin/vehicles", "/admin/vehicles/VEH-03/code")
    assert theirs.status_code == missing.status_code == 404
    assert "VEH-02" not in admin.get("/admin/vehicles").text
