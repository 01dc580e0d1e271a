"""Reference data of several districts on one database: codes are per district, loading one district never
touches another, and the public sees point names and districts, not addresses, coordinates or stations."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.models import District, Instrument, SamplingPoint, Station, User
from lims.services.access import auth
from lims.services.core.audit import SYSTEM
from lims.services.core.errors import Invalid, NotFound
from lims.services.reference import reference_data
from lims.services.samples import plans
from tests.conftest import PASSWORD
from tests.security.districts_world import DISTRICT_B, load_district_b

SECOND = """
district: {code: ZC, name: z县市场监督管理局, name_en: z County}
stations:
  - {code: ST00, level: provincial, name: z县 12315 服务站}
points:
  - {code: P01, station: ST00, name: z县城关市场, address: z县城关镇1号, latitude: 29.1, longitude: 113.2}
"""


def _rows(engine: Engine, model: Any) -> list[dict[str, Any]]:
    with Session(engine) as session:
        return [r.model_dump() for r in session.exec(select(model).order_by(model.id))]


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "reference"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def test_a_second_district_reuses_codes_without_touching_the_first(engine: Engine, tmp_path: Path) -> None:
    stations, points = _rows(engine, Station), _rows(engine, SamplingPoint)
    load_district_b(engine, tmp_path / "b")
    assert _rows(engine, Station)[: len(stations)] == stations  # A's ST00 is still A's, unchanged
    assert _rows(engine, SamplingPoint)[: len(points)] == points  # so is A's P01
    with Session(engine) as session:
        districts = {d.id: d.code for d in session.exec(select(District))}
        owners = {(districts[p.district_id], p.code) for p in session.exec(select(SamplingPoint))}
        for station in session.exec(select(Station)):
            for point in session.exec(select(SamplingPoint).where(SamplingPoint.station_id == station.id)):
                assert point.district_id == station.district_id
    assert {("XQ", "P01"), ("YB", "P01"), ("YB", "Q02")} <= owners


def test_a_folder_holds_several_districts_and_loads_idempotently(engine: Engine, tmp_path: Path) -> None:
    shipped = reference_data.shipped_reference_dir()
    folder = _folder(tmp_path, {"districts/yb.yaml": DISTRICT_B, "districts/zc.yaml": SECOND})
    shutil.copy(shipped / "items.yaml", folder / "items.yaml")
    shutil.copy(shipped / "district.yaml", folder / "district.yaml")
    with Session(engine) as session:
        first = reference_data.load_reference(session, SYSTEM, folder)
        session.commit()
        again = reference_data.load_reference(session, SYSTEM, folder)
        session.commit()
        codes = {d.code for d in session.exec(select(District))}
        p01 = session.exec(select(SamplingPoint).where(SamplingPoint.code == "P01")).all()
    assert codes == {"XQ", "YB", "ZC"}
    assert first.created == {"district": 2, "station": 3, "sampling_point": 3, "instrument": 1}
    assert again.created == {} and again.changed == {}
    assert len({p.district_id for p in p01}) == 3


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"districts/a.yaml": SECOND, "districts/b.yaml": SECOND}, "district ZC is also in"),
        ({"district.yaml": SECOND.replace("station: ST00", "station: ST04")}, "not a station of district ZC"),
        ({"district.yaml": SECOND.replace("code: ZC", "code: zc1")}, "district code 'zc1'"),
        ({"district.yaml": SECOND.replace("code: P01", "code: 'P 01; DROP'")}, "sampling point code"),
        (
            {
                "district.yaml": SECOND + "instruments:\n  - {serial: PR-8CH-0001, family: pesticide, calibration_due: "
                "2027-06-30}\n"
            },
            "instrument PR-8CH-0001 belongs to district XQ",
        ),
        ({"district.yaml": SECOND.replace("stations:", "stationz:")}, "missing field"),
        ({"district.yaml": SECOND + "instruments:\n  - {serial: " + "X" * 41 + ", family: gold}\n"}, "serial"),
        ({"districts/x.yaml": "district: [1, 2"}, "x.yaml: not valid YAML"),
        ({"notes.txt": "nothing here"}, "no reference files"),
    ],
)
def test_bad_district_files_are_refused_with_the_reason_and_change_nothing(
    engine: Engine, tmp_path: Path, files: dict[str, str], reason: str
) -> None:
    folder = _folder(tmp_path, files)
    before = {m.__name__: _rows(engine, m) for m in (District, Station, SamplingPoint, Instrument)}
    with Session(engine) as session, pytest.raises(Invalid, match=reason):
        reference_data.load_reference(session, SYSTEM, folder)
    after = {m.__name__: _rows(engine, m) for m in (District, Station, SamplingPoint, Instrument)}
    assert after == before


def test_a_user_gets_a_station_of_their_own_district_only(engine: Engine, tmp_path: Path) -> None:
    load_district_b(engine, tmp_path / "b")
    with Session(engine) as session:
        with pytest.raises(NotFound, match="unknown station 'ST04' in your district"):
            auth.add_user(session, SYSTEM, "yb_intruder", "station", PASSWORD, district_code="YB", station_code="ST04")
        own = auth.add_user(session, SYSTEM, "yb_st00", "station", PASSWORD, district_code="YB", station_code="ST00")
        station = session.get(Station, own.station_id)
        assert station is not None and station.district_id == own.district_id
        assert session.exec(select(User).where(User.username == "yb_intruder")).first() is None


def test_a_districts_plan_names_its_own_points_only(engine: Engine, tmp_path: Path) -> None:
    load_district_b(engine, tmp_path / "b")
    with Session(engine) as session:
        district_b = session.exec(select(District).where(District.code == "YB")).one()
        admin_b = auth.actor_for(session.exec(select(User).where(User.username == "yb_admin")).one())
        assert admin_b.district_id == district_b.id
        with pytest.raises(Invalid, match="not in the reference data: P02, P03"):
            plans.generate(session, admin_b, plans.load(), "2026-12")  # the shipped plan is district A's


def test_public_points_show_names_and_districts_staff_see_their_own_details(
    client: TestClient, headers: dict[str, dict[str, str]], engine: Engine, tmp_path: Path
) -> None:
    load_district_b(engine, tmp_path / "b")
    public = client.get("/api/v1/reference/points")
    assert public.status_code == 200
    rows = public.json()
    assert {(p["district_code"], p["code"]) for p in rows} >= {("XQ", "P01"), ("YB", "P01"), ("YB", "Q02")}
    assert all(p["address"] is None and p["latitude"] is None and p["station_code"] is None for p in rows)
    assert "x区中心大道1号" not in public.text and "31.2041" not in public.text and "station_id" not in public.text
    b_only = client.get("/api/v1/reference/points?district=yb").json()
    assert [p["code"] for p in b_only] == ["P01", "Q02"] and b_only[1]["name"] == "y区东湖集贸市场"
    staff = client.get("/api/v1/reference/points", headers=headers["station"]).json()
    own = [p for p in staff if p["district_code"] == "XQ"]
    theirs = [p for p in staff if p["district_code"] == "YB"]
    assert all(p["address"] and p["latitude"] and p["station_code"] for p in own)
    assert all(p["address"] is None and p["station_code"] is None for p in theirs)
    assert client.get("/api/v1/reference/points?district=ZZ").status_code == 404
    assert client.get("/api/v1/reference/points?district=XQ1").status_code == 422
    assert client.get("/api/v1/reference/points", headers={"Authorization": "Bearer forged"}).status_code == 401


def test_reference_load_command_takes_a_folder_of_districts(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"districts/zc.yaml": SECOND})
    env = {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)

    def lims(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lims", *args], env=env, capture_output=True, text=True, timeout=100, check=False
        )

    loaded = lims("reference", "load", "--folder", str(folder))
    assert loaded.returncode == 0, loaded.stderr
    assert '"district": 1' in loaded.stdout
    refused = lims("plan", "generate", "--month", "2026-12", "--district", "ZC")
    assert refused.returncode == 1 and "not in the reference data: P02" in refused.stderr
    unknown = lims("plan", "generate", "--month", "2026-12", "--district", "QQ")
    assert unknown.returncode == 1 and "unknown district 'QQ'" in unknown.stderr
    missing = lims("reference", "load", "--folder", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "reference folder not found" in missing.stderr
