"""The sync API's refusals (credential, bounds, tampering) and the vehicle and node commands."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.models import Vehicle
from lims.models.sync import EnrolGrant
from lims.services.sync import credentials
from tests.sync.conftest import VEHICLE, next_push
from tests.sync.test_engine import register

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `lims …` in-process against the test database; returns (exit code, stdout, stderr)."""
    from typer.testing import CliRunner

    from lims.cli.main import app as lims
    from lims.settings import get_settings

    monkeypatch.setenv("LIMS_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(lims, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return run


def test_vehicle_add_prints_a_code_that_enrols_once(cli: Any, client: TestClient, engine: Engine) -> None:
    code, out, _err = cli("vehicle", "add", "VEH-07", "--district", "XQ")
    assert code == 0, out
    found = re.search(r"([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})", out)
    assert found is not None
    enrol = {"vehicle": "VEH-07", "code": found.group(1)}
    first = client.post("/api/v1/sync/enroll", json=enrol)
    assert first.status_code == 200, first.text
    assert client.post("/api/v1/sync/enroll", json=enrol).status_code == 401
    with Session(engine) as session:
        vehicle = session.exec(select(Vehicle).where(Vehicle.code == "VEH-07")).one()
        assert vehicle.credential_hash == credentials.digest(first.json()["credential"])
    code, _out, err = cli("vehicle", "add", "VEH-07", "--district", "XQ")
    assert code == 1 and "exists already" in err
    code, _out, err = cli("vehicle", "add", "VEH-08", "--district", "ZZ")
    assert code == 1 and "no district" in err
    code, out, _err = cli("vehicle", "list", "--district", "XQ")
    assert code == 0 and '"vehicle": "VEH-07"' in out


def test_lims_node_refuses_to_run_before_enrolment(cli: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMS_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    monkeypatch.setenv("LIMS_NODE_CENTRE", "")  # the command sets both for its process: restored afterwards
    monkeypatch.setenv("LIMS_NODE_VEHICLE", "")
    from lims.settings import get_settings

    get_settings.cache_clear()
    code, _out, err = cli("node", "--centre", "http://127.0.0.1:9", "--vehicle", VEHICLE)
    assert code == 1 and "not enrolled" in err


def test_the_sync_api_refuses_users_bad_bodies_and_tampered_pushes(
    client: TestClient, headers: dict[str, dict[str, str]], engine: Engine, grant: EnrolGrant, node: Engine
) -> None:
    vehicle = {
        "Authorization": f"Bearer {grant.credential}",
        "Accept-Language": "zh-CN",
        "Content-Type": "application/json",
    }
    for who in (headers["admin"], {}):  # a user's token is no vehicle credential
        assert client.get("/api/v1/sync/pull", headers=who).status_code == 401
        assert client.post("/api/v1/sync/push", json={}, headers=who).status_code == 401
    assert client.get("/api/v1/sync/pull?cursor=1;2", headers=vehicle).status_code == 422
    too_many = {"records": [], "events": [], "backlog": -1}
    assert client.post("/api/v1/sync/push", json=too_many, headers=vehicle).status_code == 422
    assert client.post("/api/v1/sync/push", content=b"{not json", headers=vehicle).status_code == 422
    pulled = client.get("/api/v1/sync/pull?cursor=0.0", headers=vehicle)
    assert pulled.status_code == 200 and pulled.json()["changes"]

    register(node, "pakchoi")
    with node.begin() as connection:
        connection.execute(text("UPDATE sample SET product_name = 'forged'"))
    body = next_push(node)
    assert body is not None
    refused = client.post("/api/v1/sync/push", content=body.model_dump_json(), headers=vehicle)
    assert refused.status_code == 409, refused.text[:500]
    # This node signed its trail with the test key, not the vehicle's derived key: refused before the row is read,
    # in the reader's language (the changed row itself is refused in test_engine, with the key the node used).
    assert "没有用本车的密钥签署" in refused.json()["detail"]
    with Session(engine) as session:
        row = session.exec(select(Vehicle).where(Vehicle.code == VEHICLE)).one()
        assert row.refused == 1 and row.last_error
