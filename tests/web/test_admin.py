"""The administrator's pages: every change through the services, audited and shown in its record's history; refused
forms keep what was typed and say why next to the field; stale edits are refused; other roles are refused."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from lims.models import Instrument, KitLot, SamplingPoint, TestResult, User
from lims.services.core import clock
from tests.core.helpers import register
from tests.lab.files import pesticide_csv, pesticide_row
from tests.web.helpers import actor_of, csrf_of, post_form, sign_in

PAGES = [
    "/admin",
    "/admin/points",
    "/admin/reference",
    "/admin/kits",
    "/admin/instruments",
    "/admin/users",
    "/admin/plans",
    "/admin/points/P05",
    "/admin/instruments/PR-8CH-0001",
    "/admin/users/tester",
]
POINT = {
    "code": "P90",
    "station_code": "ST04",
    "name": "x新建菜场",
    "name_en": "x New market",
    "kind": "market",
    "area": "rural",
    "address": "x区新路9号",
    "latitude": "30.6",
    "longitude": "114.3",
}
A_PDF = ("cert.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")


@pytest.fixture
def admin(app: Any) -> TestClient:
    return sign_in(app, "admin")


def _today(session: Session) -> Any:
    return clock.today_of(session, actor_of(session, "admin").district_id)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_admin_page_opens_in_both_languages(admin: TestClient, lang: str) -> None:
    for url in PAGES:
        page = admin.get(f"{url}?lang={lang}")
        assert page.status_code == 200, (url, page.text[:300])
        assert 'href="/static/admin.css"' in page.text
    assert "采样点" in admin.get("/admin/points?lang=zh").text


def test_other_roles_are_refused_and_visitors_sent_to_sign_in(app: Any, client: TestClient) -> None:
    for role in ("tester", "reviewer", "station"):
        assert sign_in(app, role).get("/admin/points").status_code == 403
    assert client.get("/admin", follow_redirects=False).headers["location"].startswith("/login")


def test_an_administrator_signs_in_to_the_admin_pages(app: Any) -> None:
    client = TestClient(app)
    page = client.get("/login")
    from tests.conftest import PASSWORD

    done = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf": csrf_of(page.text), "next": ""},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/admin"


def test_a_point_is_added_edited_and_its_history_shown(admin: TestClient, session: Session) -> None:
    done = post_form(admin, "/admin/points", "/admin/points", POINT)
    assert done.status_code == 303 and done.headers["location"] == "/admin/points/P90?done=created"
    row = session.exec(select(SamplingPoint).where(SamplingPoint.code == "P90")).one()
    assert (row.area, row.latitude) == ("rural", 30.6)
    page = admin.get("/admin/points/P90")
    seen = re.search(r'name="seen" value="([^"]+)"', page.text)
    assert seen
    edited = post_form(
        admin, "/admin/points/P90", "/admin/points/P90", {**POINT, "seen": seen.group(1), "address": "x区新路10号"}
    )
    assert edited.status_code == 303
    history = admin.get("/admin/points/P90").text
    assert "x区新路9号" in history and "x区新路10号" in history  # before → after
    # an edit from a form shown before that change is refused, with the typed values kept
    stale = post_form(
        admin, "/admin/points/P90", "/admin/points/P90", {**POINT, "seen": seen.group(1), "address": "x区旧路1号"}
    )
    assert stale.status_code == 409
    assert 'value="x区旧路1号"' in stale.text
    session.expire_all()
    assert session.exec(select(SamplingPoint).where(SamplingPoint.code == "P90")).one().address == "x区新路10号"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "P 1"}, "code"),
        ({"code": "P05"}, "code"),
        ({"station_code": "NOPE"}, "station_code"),
        ({"latitude": "91"}, "latitude"),
        ({"longitude": "east"}, "longitude"),
        ({"name": ""}, "name"),
    ],
)
def test_a_refused_point_says_why_next_to_the_field_and_keeps_the_values(
    admin: TestClient, change: dict[str, str], field: str
) -> None:
    refused = post_form(admin, "/admin/points?lang=en", "/admin/points", {**POINT, **change})
    assert 400 <= refused.status_code < 500
    assert (
        f'id="e-{field}"' in refused.text
        or f'f-{field}" name="{field}" required aria-invalid' in refused.text
        or "error-text" in refused.text
    )
    assert 'value="x区新路9号"' in refused.text  # what was typed is kept


def test_an_instrument_is_registered_calibrated_with_a_certificate_and_its_history_shown(
    admin: TestClient, session: Session
) -> None:
    today = _today(session)
    form = {
        "serial": "GR-NEW-01",
        "family": "gold",
        "model": "colloidal gold card reader",
        "location": "检测车",
        "connection_url": "",
        "calibration_due": (today - timedelta(days=3)).isoformat(),
    }
    created = post_form(admin, "/admin/instruments", "/admin/instruments", form)
    assert created.headers["location"] == "/admin/instruments/GR-NEW-01?done=created"
    page = admin.get("/admin/instruments/GR-NEW-01?lang=en").text
    assert "overdue: results are invalid" in page
    token = csrf_of(page)
    body = {
        "csrf": token,
        "calibrated_on": today.isoformat(),
        "performed_by": "x市计量所",
        "certificate_number": "JD-0001",
        "next_due": (today + timedelta(days=365)).isoformat(),
    }
    done = admin.post(
        "/admin/instruments/GR-NEW-01/calibrations", data=body, files={"certificate": A_PDF}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    session.expire_all()
    row = session.exec(select(Instrument).where(Instrument.serial == "GR-NEW-01")).one()
    assert row.calibration_due == today + timedelta(days=365)
    page = admin.get("/admin/instruments/GR-NEW-01?lang=en").text
    assert "overdue" not in page and "calibration recorded" in page
    link = re.search(r'href="(/admin/instruments/GR-NEW-01/certificates/\d+)"', page)
    assert link and admin.get(link.group(1)).content == A_PDF[1]
    bad = admin.post(
        "/admin/instruments/GR-NEW-01/calibrations",
        data={**body, "next_due": today.isoformat()},
        follow_redirects=False,
    )
    assert bad.status_code == 422 and 'id="e-next_due"' in bad.text and 'value="JD-0001"' in bad.text
    not_a_pdf = admin.post(
        "/admin/instruments/GR-NEW-01/calibrations",
        data=body,
        files={"certificate": ("x.pdf", b"hello", "application/pdf")},
        follow_redirects=False,
    )
    assert not_a_pdf.status_code == 422 and 'id="e-certificate"' in not_a_pdf.text
    duplicate = post_form(admin, "/admin/instruments", "/admin/instruments", form)
    assert duplicate.status_code == 409 and 'value="检测车"' in duplicate.text


def test_an_export_file_is_previewed_then_imported_once(
    admin: TestClient, client: TestClient, headers: dict[str, dict[str, str]], session: Session
) -> None:
    label = register(client, headers["tester"])["label_id"]
    zone = clock.zone_of(session, actor_of(session, "admin").district_id)
    when = clock.local_time(clock.now(), zone).strftime("%Y-%m-%d %H:%M:%S")
    data = pesticide_csv([pesticide_row(1, label, when), pesticide_row(2, label, "bad time")])
    token = csrf_of(admin.get("/admin/instruments/PR-8CH-0001").text)
    preview = admin.post(
        "/admin/instruments/PR-8CH-0001/import?lang=en",
        data={"csrf": token, "step": "preview"},
        files={"file": ("导出.csv", data, "text/csv")},
    )
    assert preview.status_code == 200, preview.text[:500]
    assert 'data-state="new"' in preview.text and "is not a test time" in preview.text
    assert session.exec(select(TestResult)).first() is None
    digest = re.search(r'name="sha256" value="([0-9a-f]{64})"', preview.text)
    assert digest
    form = {
        "csrf": token,
        "step": "import",
        "sha256": digest.group(1),
        "mapping": "pesticide-analyser-csv",
        "file_name": "导出.csv",
    }
    imported = admin.post("/admin/instruments/PR-8CH-0001/import?lang=en", data=form)
    assert 'data-state="stored"' in imported.text and 'data-state="rejected"' in imported.text
    again = admin.post("/admin/instruments/PR-8CH-0001/import?lang=en", data=form)
    assert 'data-state="stored"' not in again.text and 'data-state="duplicate"' in again.text
    assert len(session.exec(select(TestResult)).all()) == 1
    assert "Results per day" in admin.get("/admin/instruments/PR-8CH-0001?lang=en").text


def test_users_are_added_disabled_and_their_history_shown(admin: TestClient, session: Session) -> None:
    form = {
        "username": "new_tester",
        "full_name": "新检测员",
        "role": "tester",
        "station_code": "",
        "password": "Zebra-Lantern-Quartz-2026",
    }
    assert post_form(admin, "/admin/users", "/admin/users", form).status_code == 303
    weak = post_form(admin, "/admin/users", "/admin/users", {**form, "username": "weak_one", "password": "123"})
    assert weak.status_code == 422 and 'value="weak_one"' in weak.text and 'value="123"' not in weak.text
    assert post_form(admin, "/admin/users/new_tester", "/admin/users/new_tester/disable").status_code == 303
    session.expire_all()
    assert session.exec(select(User).where(User.username == "new_tester")).one().active is False
    page = admin.get("/admin/users/new_tester?lang=en").text
    assert "disabled" in page and 'data-action="disable"' in page and 'data-action="create"' in page
    assert "hmac-sha256" not in page  # a password's fingerprint is not shown, only that it changed
    again = post_form(admin, "/admin/users/new_tester", "/admin/users/new_tester/disable")
    assert again.status_code == 409 and "already disabled" in again.text
    own = post_form(admin, "/admin/users/admin", "/admin/users/admin/disable")
    assert own.status_code == 409
    role = post_form(
        admin, "/admin/users/new_tester", "/admin/users/new_tester/role", {"role": "station", "station_code": "ST04"}
    )
    assert role.status_code == 303
    assert admin.get("/admin/users/nobody").status_code == 404


def test_a_kit_lot_is_added_with_its_leaflet_figures(admin: TestClient, session: Session) -> None:
    expiry = (_today(session) + timedelta(days=200)).isoformat()
    form = {
        "item_code": "CLB",
        "lot": "CLB-2701A",
        "manufacturer": "x生物",
        "expires_on": expiry,
        "cutoff_tc": "0.9",
        "min_c_intensity": "0.2",
        "detection_limit": "0.5",
        "detection_limit_unit": "µg/kg",
        "matrices": "PORK",
    }
    done = post_form(admin, "/admin/kits", "/admin/kits", form)
    assert done.status_code == 303, done.text[:500]
    row = session.exec(select(KitLot).where(KitLot.lot == "CLB-2701A")).one()
    assert row.matrices == {"PORK": {}} and row.cutoff_tc == 0.9
    assert 'data-action="create"' in admin.get(done.headers["location"]).text
    no_cutoff = post_form(admin, "/admin/kits", "/admin/kits", {**form, "lot": "CLB-2701B", "cutoff_tc": ""})
    assert no_cutoff.status_code == 422 and 'value="CLB-2701B"' in no_cutoff.text
    past = post_form(admin, "/admin/kits", "/admin/kits", {**form, "lot": "CLB-2701C", "expires_on": "2020-01-01"})
    assert past.status_code == 422 and 'id="e-expires_on"' in past.text


def test_an_instrument_moves_to_the_vehicle_and_a_stale_form_is_refused(admin: TestClient, session: Session) -> None:
    page = admin.get("/admin/instruments/PR-8CH-0001").text
    seen = re.search(r'name="seen" value="([^"]+)"', page)
    assert seen
    form = {
        "seen": seen.group(1),
        "model": "8-channel enzyme-inhibition analyzer",
        "location": "快检车",
        "connection_url": "socket://127.0.0.1:7001",
    }
    assert post_form(admin, "/admin/instruments/PR-8CH-0001", "/admin/instruments/PR-8CH-0001", form).status_code == 303
    session.expire_all()
    assert session.exec(select(Instrument).where(Instrument.serial == "PR-8CH-0001")).one().location == "快检车"
    stale = post_form(
        admin, "/admin/instruments/PR-8CH-0001", "/admin/instruments/PR-8CH-0001", {**form, "location": "实验室"}
    )
    assert stale.status_code == 409 and 'value="实验室"' in stale.text
