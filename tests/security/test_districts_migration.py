"""Migration 0010 gives every existing sampling point the district of its station and makes station and point
codes unique per district (on SQLite and, when configured, PostgreSQL)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from lims.services.core import schema

PG_URL = os.environ.get("LIMS_TEST_DATABASE_URL")


def _insert(engine: Engine, table: str, **values: object) -> None:
    columns = ", ".join(values)
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(':' + c for c in values)})"), values)


def test_existing_points_get_their_stations_district_and_codes_become_per_district(empty_engine: Engine) -> None:
    engine = empty_engine
    schema.upgrade(engine, "0009")
    for id_, code in ((1, "XQ"), (2, "YB")):
        _insert(engine, "district", id=id_, code=code, name=f"{code} 区", name_en="")
    station = {"name": "站", "name_en": "", "level": "city", "kind": "", "address": ""}
    _insert(engine, "station", id=1, code="ST00", district_id=1, **station)
    _insert(engine, "station", id=2, code="YS01", district_id=2, **station)
    point = {"name": "点", "name_en": "", "kind": "", "area": "urban", "address": ""}
    _insert(engine, "sampling_point", id=1, code="P01", station_id=1, **point)
    _insert(engine, "sampling_point", id=2, code="Q02", station_id=2, **point)

    schema.upgrade(engine)

    with engine.connect() as conn:
        owners = dict(conn.execute(text("SELECT code, district_id FROM sampling_point")).all())
    assert owners == {"P01": 1, "Q02": 2}
    # District YB may now use A's codes for places of its own ...
    _insert(engine, "station", id=3, code="ST00", district_id=2, **station)
    _insert(engine, "sampling_point", id=3, code="P01", station_id=3, district_id=2, **point)
    # ... but a district cannot have two points or two stations with one code.
    with pytest.raises(IntegrityError):
        _insert(engine, "sampling_point", id=4, code="P01", station_id=1, district_id=1, **point)
    with pytest.raises(IntegrityError):
        _insert(engine, "station", id=4, code="ST00", district_id=1, **station)
    with pytest.raises(IntegrityError):  # and every point has a district that exists
        _insert(engine, "sampling_point", id=5, code="P09", station_id=1, district_id=99, **point)
