"""Every input is bounded: dates, times, row ids, quantities, raw figures and strings get a 422 with a reason."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from lims.models import PublicWarning, Sample, User
from tests.core.helpers import NEGATIVE_OPC, act, register, submit
from tests.web.helpers import sign_in

HUGE_ID = "12345678901234567890"  # beyond 64 bits
# One body that satisfies every id route's schema, so that only the id can be refused.
PLAUSIBLE_BODY = {
    "reason": "a plausible reason",
    "lab": "某市食品检验所",
    "outcome": "confirmed",
    "action": "removal",
    "quantity": 1,
    "raw": {"control_dA": 0.6, "sample_dA": 0.5},
}


@pytest.fixture
def loose(app: Any) -> TestClient:
    """A client that reports server errors as 500 answers instead of raising them."""
    return TestClient(app, raise_server_exceptions=False)


def _detail(response: Any) -> str:
    body = response.json()
    return str(body.get("detail"))


@pytest.mark.parametrize(
    "query",
    [
        "date_to=9999-12-31",
        "date_from=0001-01-01",
        "date_to=1999-12-31",
        "date_from=2026-02-30",
        "date_to=" + "9" * 10,
    ],
)
def test_result_search_dates_outside_the_range(loose: TestClient, headers: dict, query: str) -> None:
    for who in ("reviewer", "station"):
        response = loose.get(f"/api/v1/results?{query}", headers=headers[who])
        assert response.status_code == 422, response.text
        assert "date" in _detail(response)


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2026-13-01"])
def test_sample_list_day_outside_the_range(loose: TestClient, headers: dict, day: str) -> None:
    response = loose.get(f"/api/v1/samples?day={day}", headers=headers["tester"])
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("collected_at", "0001-01-01T00:00:00+14:00"),
        ("collected_at", "9999-12-31T23:59:59-12:00"),
        ("collected_at", "1900-01-01T08:00:00+08:00"),
        ("production_date", "9999-12-31"),
        ("production_date", "0001-01-01"),
        ("quantity", 1e308),
        ("quantity", -1),
        ("point_code", "P" * 100_000),
        ("task_ref", "T" * 1000),
        ("product_name", "菜" * 10_000),
    ],
)
def test_sample_registration_bounds(loose: TestClient, headers: dict, field: str, value: object) -> None:
    body = {"point_code": "P05", "product_name": "小白菜", "category_code": "VEG_LEAF", field: value}
    response = loose.post("/api/v1/samples", json=body, headers=headers["tester"])
    assert response.status_code == 422, response.text


def test_nothing_is_stored_for_a_refused_sample(loose: TestClient, headers: dict, session: Session) -> None:
    before = len(session.exec(select(Sample)).all())
    body = {
        "point_code": "P05",
        "product_name": "x",
        "category_code": "VEG_LEAF",
        "collected_at": "0001-01-01T00:00+14:00",
    }
    assert loose.post("/api/v1/samples", json=body, headers=headers["tester"]).status_code == 422
    assert len(session.exec(select(Sample)).all()) == before


@pytest.mark.parametrize(
    "change",
    [
        {"tested_at": "0001-01-01T00:00:00+14:00"},
        {"raw": {f"f{n}": 0.5 for n in range(1000)}},
        {"raw": {"x" * 500: 0.5}},
        {"instrument_serial": "S" * 10_000},
        {"kit_lot": "L" * 10_000},
    ],
)
def test_result_submission_bounds(loose: TestClient, headers: dict, change: dict) -> None:
    sample = register(loose, headers["tester"])
    body = {"sample_label_id": sample["label_id"], "item_code": "OPC", "raw": NEGATIVE_OPC, **change}
    response = loose.post("/api/v1/results", json=body, headers=headers["tester"])
    assert response.status_code == 422, response.text


def test_raw_figures_must_be_finite(loose: TestClient, headers: dict) -> None:
    sample = register(loose, headers["tester"])
    for bad in ("NaN", "Infinity", "-Infinity"):
        raw = f'{{"control_dA": {bad}, "sample_dA": 0.3}}'
        text = f'{{"sample_label_id": "{sample["label_id"]}", "item_code": "OPC", "raw": {raw}}}'
        response = loose.post(
            "/api/v1/results", content=text, headers={**headers["tester"], "Content-Type": "application/json"}
        )
        assert response.status_code == 422, (bad, response.text)


def test_far_future_warning_is_refused(loose: TestClient, headers: dict) -> None:
    body = {"title_zh": "警示标题", "body_zh": "警示内容", "expires_at": "9999-12-31T23:59:59+00:00"}
    response = loose.post("/api/v1/warnings", json=body, headers=headers["reviewer"])
    assert response.status_code == 422, response.text
    body["expires_at"] = "2099-12-31T00:00:00+08:00"  # inside the calendar range, beyond the warning horizon
    response = loose.post("/api/v1/warnings", json=body, headers=headers["reviewer"])
    assert response.status_code == 422 and "ahead" in _detail(response)
    assert loose.get("/api/v1/warnings").status_code == 200


def test_a_stored_edge_of_calendar_warning_breaks_no_page(app: Any, session: Session) -> None:
    """A row written before inputs were bounded (or by hand) still renders everywhere."""
    reviewer_id = session.exec(select(User.id).where(User.username == "reviewer")).one()
    session.add(
        PublicWarning(
            title_zh="旧警示",
            body_zh="旧内容",
            district_id=1,
            published_by_id=int(reviewer_id or 0),
            expires_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        )
    )
    session.commit()
    anonymous = TestClient(app, raise_server_exceptions=False)
    for path in ("/warnings", "/", "/warnings.atom", "/api/v1/warnings"):
        assert anonymous.get(path).status_code == 200, path
    reviewer = sign_in(app, "reviewer")
    assert reviewer.get("/review").status_code == 200


def _routes(app: Any) -> list[Any]:
    """Every path operation of the app, included routers flattened."""
    found: list[Any] = []
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):
            found += list(route.effective_route_contexts())
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def _id_routes(app: Any) -> list[tuple[str, str]]:
    """Every route with an integer id in its path, as (method, path with the id replaced)."""
    found = []
    for route in _routes(app):
        for param in route.dependant.path_params:
            if param.field_info.annotation is int:
                path = re.sub(r"\{" + param.name + r"\}", HUGE_ID, route.path)
                path = re.sub(r"\{action\}", "approve", path)
                path = re.sub(r"\{step\}", "acceptance", path)
                for method in route.methods:
                    found.append((method, path))
    return found


def test_ids_beyond_64_bits_are_refused_on_every_route(app: Any, loose: TestClient, headers: dict) -> None:
    routes = _id_routes(app)
    assert len(routes) >= 12, routes
    for who in ("anonymous", "tester", "reviewer", "station"):
        auth = {} if who == "anonymous" else headers[who]
        for method, path in routes:
            response = loose.request(method, path, headers=auth, json=PLAUSIBLE_BODY)
            assert response.status_code < 500, (who, method, path, response.status_code)
            if path.startswith("/api/") and who != "anonymous":
                assert response.status_code == 422, (who, method, path, response.text)


def test_epcis_keeps_answering_when_a_batch_is_not_a_gs1_lot(
    loose: TestClient, headers: dict, session: Session
) -> None:
    gtin = "6901234567892"
    published = []
    for batch in ("批号 1", "L2026-11"):
        sample = register(loose, headers["tester"], gtin=gtin, batch=batch)
        result = submit(loose, headers["tester"], sample["label_id"])
        assert act(loose, headers["reviewer"], result["id"], "approve").status_code == 200
        assert act(loose, headers["reviewer"], result["id"], "publish").status_code == 200
        published.append(batch)
    response = loose.get(f"/api/v1/epcis/{gtin}")
    assert response.status_code == 200, response.text
    events = response.json()["epcisBody"]["eventList"]
    assert len(events) == 2
    printed = [e for e in events if e.get("ext:batchAsPrinted")]
    assert [e["ext:batchAsPrinted"] for e in printed] == ["批号 1"]
    assert printed[0]["quantityList"][0]["epcClass"] == "https://id.gs1.org/01/06901234567892"
    lots = [e["quantityList"][0]["epcClass"] for e in events if not e.get("ext:batchAsPrinted")]
    assert lots == ["https://id.gs1.org/01/06901234567892/10/L2026-11"]
