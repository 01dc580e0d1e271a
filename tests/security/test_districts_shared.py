"""What districts share and what they keep: stations see every district's published results (检测结果共享) and
tell two districts' P01 apart; an instrument's readings are filed in the instrument's own district."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from instrument_drivers.reading import Reading
from lims.models import District, TestResult, User
from lims.services.public import hotspots
from lims.services.results import ingest
from tests.core.helpers import NEGATIVE_OPC, POSITIVE_OPC
from tests.security.districts_world import load_district_b, new_token
from tests.web.helpers import actor_of


def _bearer(engine: Engine, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_token(engine, username)}"}


def _published(client: TestClient, tester: dict[str, str], reviewer: dict[str, str], raw: dict[str, float]) -> str:
    body = {"point_code": "P01", "product_name": "小白菜", "category_code": "VEG_LEAF"}
    sample = client.post("/api/v1/samples", json=body, headers=tester)
    assert sample.status_code == 201, sample.text
    label = sample.json()["label_id"]
    result = client.post(
        "/api/v1/results", json={"sample_label_id": label, "item_code": "OPC", "raw": raw}, headers=tester
    ).json()
    while result["repeat_state"] == "pending":  # the method repeats a positive before it stands
        result = client.post(
            "/api/v1/results", json={"sample_label_id": label, "item_code": "OPC", "raw": raw}, headers=tester
        ).json()
    for action in ("approve", "publish"):
        assert client.post(f"/api/v1/results/{result['id']}/{action}", headers=reviewer).status_code == 200
    return str(label)


def test_stations_share_published_results_and_tell_two_districts_p01_apart(
    client: TestClient, headers: dict[str, dict[str, str]], engine: Engine, session: Session, tmp_path: Path
) -> None:
    load_district_b(engine, tmp_path / "b")
    ours = _published(client, headers["tester"], headers["reviewer"], POSITIVE_OPC)
    theirs = _published(client, _bearer(engine, "yb_tester"), _bearer(engine, "yb_reviewer"), NEGATIVE_OPC)
    shared = client.get("/api/v1/results", headers=headers["station"]).json()
    assert {r["sample_label_id"] for r in shared} == {ours, theirs}
    at_our_p01 = client.get("/api/v1/results?point=P01", headers=headers["station"]).json()
    assert [r["sample_label_id"] for r in at_our_p01] == [ours]
    spots = hotspots.positive_rates(session, actor_of(session, "station"))
    assert {r.key: (r.positive, r.tested) for r in spots.by["point"]} == {"P01": (1, 1), "YB P01": (0, 1)}
    their_spots = hotspots.positive_rates(session, actor_of(session, "yb_station"))
    assert {r.key: (r.positive, r.tested) for r in their_spots.by["point"]} == {"XQ P01": (1, 1), "P01": (0, 1)}


def _reading(serial: str, sequence: int, label: str) -> Reading:
    raw = {"control_dA": 0.6, "sample_dA": 0.5}
    return Reading(serial, "pesticide", sequence, "OPC", sample_label_id=label, raw=raw)


def test_an_instruments_readings_are_filed_in_its_own_district(
    client: TestClient, headers: dict[str, dict[str, str]], engine: Engine, tmp_path: Path
) -> None:
    load_district_b(engine, tmp_path / "b")
    body: dict[str, Any] = {"point_code": "P01", "product_name": "小白菜", "category_code": "VEG_LEAF"}
    ours = client.post("/api/v1/samples", json=body, headers=headers["tester"]).json()["label_id"]
    theirs = client.post("/api/v1/samples", json=body, headers=_bearer(engine, "yb_tester")).json()["label_id"]
    with Session(engine) as session:
        first = ingest.store(session, _reading("PR-8CH-0001", 1, ours))
        second = ingest.store(session, _reading("YB-PR-0001", 1, theirs))
        crossed = ingest.store(session, _reading("YB-PR-0001", 2, ours))  # B's instrument, A's sample
        session.commit()
        districts = {d.code: d.id for d in session.exec(select(District))}
        filed = {r.id: r for r in session.exec(select(TestResult))}
        assert first.result_id and filed[first.result_id].district_id == districts["XQ"]
        assert second.result_id, second.hold_reason
        result = filed[second.result_id]
        gateway = session.get(User, result.tester_id)
        assert result.district_id == districts["YB"] and gateway and gateway.district_id == districts["YB"]
        assert gateway.active is False
        assert crossed.result_id is None and crossed.held_id and "in your district" in crossed.hold_reason
        assert sum(1 for r in filed.values() if r.district_id == districts["XQ"]) == 1
