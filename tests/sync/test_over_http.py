"""A node and a centre over real HTTP: the centre is `lims serve` in its own process on the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.db import make_engine
from lims.models import Sample, TestResult, Vehicle
from lims.models.results import ResultSubmit
from lims.models.samples import SampleCreate
from lims.services.core import audit
from lims.services.core.audit import SYSTEM
from lims.services.core.audit_tables import AUDITED_MODELS
from lims.services.results import records
from lims.services.samples import sampling
from lims.services.sync import client, outbox, vehicles
from lims.services.sync.status import node_status
from lims.settings import get_settings
from tests.conftest import PASSWORD, TEST_AUDIT_KEY
from tests.sync.conftest import VEHICLE, actor

# Starting the centre and enrolling a node over HTTP takes a while on a loaded machine.
pytestmark = pytest.mark.timeout(300)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def centre(engine: Engine, tmp_path: Path) -> Iterator[str]:
    """`lims serve` on a free port over the test database, with the centre's own audit key."""
    port = _free_port()
    env = os.environ | {
        "LIMS_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "LIMS_VAR_DIR": str(tmp_path / "centre"),
        "LIMS_AUDIT_KEY": TEST_AUDIT_KEY,
        "LIMS_NODE_CENTRE": "",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "lims", "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                pytest.fail("the centre did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_node_enrols_works_and_syncs_with_the_centre_over_http(
    engine: Engine, centre: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(engine) as session:
        _vehicle, code = vehicles.add_vehicle(session, SYSTEM, VEHICLE, "XQ")
        session.commit()
    # The node: its own data folder, and no configured audit key (it signs with the vehicle's key from enrolment).
    monkeypatch.delenv("LIMS_AUDIT_KEY")
    monkeypatch.setenv("LIMS_VAR_DIR", str(tmp_path / "node"))
    get_settings.cache_clear()
    node = make_engine(f"sqlite:///{tmp_path / 'node' / 'lims.db'}")
    try:
        pulled = client.enrol_node(node, get_settings(), centre, VEHICLE, code)
        assert pulled > 0
        with client.CentreLink(centre, None, 5) as anonymous, pytest.raises(client.Refused):  # the code was used
            anonymous.enrol(VEHICLE, code)
        tester = actor(node, "tester")
        with Session(node) as session:
            sample = sampling.register(
                session, tester, SampleCreate(point_code="P05", product_name="油麦菜", category_code="VEG_LEAF")
            )
            label = sample.label_id
            session.commit()
            records.submit(
                session,
                tester,
                ResultSubmit(sample_label_id=label, item_code="OPC", raw={"control_dA": 0.6, "sample_dA": 0.5}),
            )
            session.commit()
        assert node_status(Session(node)).waiting >= 2
        link = client.CentreLink(centre, client.read_credential(get_settings()), 10)
        report = client.sync_round(node, link, 50)
        assert report.pushed >= 2
        assert node_status(Session(node)).waiting == 0 and node_status(Session(node)).online

        with Session(engine) as session:
            at_centre = session.exec(select(Sample).where(Sample.label_id == label)).one()
            result = session.exec(select(TestResult).where(TestResult.sample_id == at_centre.id)).one()
            assert result.status == "tested"
            vehicle = session.exec(select(Vehicle).where(Vehicle.code == VEHICLE)).one()
            assert vehicle.last_contact is not None and vehicle.refused == 0
            assert vehicle.backlog == 0  # told with the pull after the push
        # A reviewer at the centre approves it (through the centre's own API); the node learns of it.
        token = httpx.post(
            f"{centre}/api/v1/auth/token", data={"username": "reviewer", "password": PASSWORD}, timeout=30
        ).json()["access_token"]
        approved = httpx.post(
            f"{centre}/api/v1/results/{result.id}/approve",
            json={},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert approved.status_code == 200, approved.text
        client.sync_round(node, link, 50)
        link.close()
        with Session(node) as session:
            on_node = session.exec(select(Sample).where(Sample.label_id == label)).one()
            assert session.exec(select(TestResult).where(TestResult.sample_id == on_node.id)).one().status == "approved"
            assert audit.verify(session, AUDITED_MODELS) is None
    finally:
        outbox.disable(node)
        node.dispose()
