"""Fixtures of the sync tests: the centre is the shared test database, a node is a fresh SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.db import make_engine
from lims.models import User, Vehicle
from lims.models.sync import EnrolGrant, PushAck, PushBody
from lims.services.access import auth
from lims.services.core import schema
from lims.services.core.audit import SYSTEM, Actor
from lims.services.sync import apply, outbox, pull, push, vehicles
from tests.conftest import TEST_AUDIT_KEY

VEHICLE = "VEH-01"
DISTRICT = "XQ"
# In-process tests run the node with the test audit key (the settings are the process's); the centre checks
# the node's events with the key the node wrote them with, as it does with a vehicle's derived key.
NODE_KEY = TEST_AUDIT_KEY.encode()


@pytest.fixture
def grant(engine: Engine) -> EnrolGrant:
    """VEH-01 added to district XQ at the centre and enrolled."""
    with Session(engine) as session:
        _vehicle, code = vehicles.add_vehicle(session, SYSTEM, VEHICLE, DISTRICT)
        session.commit()
        found = vehicles.enrol(session, VEHICLE, code)
        session.commit()
    return found


@pytest.fixture
def node(tmp_path: Path, engine: Engine, grant: EnrolGrant) -> Iterator[Engine]:
    """An enrolled node: a new SQLite database holding what the centre's pull gave it."""
    node_engine = make_engine(f"sqlite:///{tmp_path / 'node.db'}")
    schema.upgrade(node_engine)
    outbox.enable(node_engine)
    pull_all(engine, node_engine)
    with Session(node_engine) as session:
        from lims.models import NodeIdentity

        session.add(NodeIdentity(vehicle=VEHICLE, centre_url="http://centre.invalid", district_id=grant.district_id))
        session.commit()
    yield node_engine
    outbox.disable(node_engine)
    node_engine.dispose()


def vehicle_row(centre: Engine) -> Vehicle:
    """The centre's row of VEH-01."""
    with Session(centre, expire_on_commit=False) as session:
        return session.exec(select(Vehicle).where(Vehicle.code == VEHICLE)).one()


def pull_all(centre: Engine, node: Engine) -> int:
    """Pull every page the centre has for VEH-01 into the node; returns the rows changed."""
    changed = 0
    district = vehicle_row(centre).district_id
    while True:
        with Session(node) as node_session:
            cursor = pull.node_cursor(node_session, district)
        with Session(centre) as centre_session:
            page = pull.pull_page(centre_session, vehicle_row(centre), cursor, limit=500)
        with Session(node) as node_session:
            changed += pull.apply_page(node_session, page.model_validate_json(page.model_dump_json()), district)
        if not page.more:
            return changed


def next_push(node: Engine) -> PushBody | None:
    """The node's next push, as it would arrive over the wire (through JSON)."""
    with Session(node) as session:
        body = push.build_push(session, batch_size=50)
    return None if body is None else PushBody.model_validate_json(body.model_dump_json())


def deliver(centre: Engine, body: PushBody) -> PushAck:
    """Apply a push at the centre as the route does (a refusal is recorded, then raised)."""
    with Session(centre) as session:
        vehicle = vehicle_row(centre)
        try:
            return apply.apply_push(session, vehicle, body, NODE_KEY)
        except Exception as exc:
            from lims.services.core.errors import ServiceError

            if isinstance(exc, ServiceError):
                apply.record_refusal(session, vehicle, exc, body.backlog)
            raise


def push_all(centre: Engine, node: Engine) -> int:
    """Push until the outbox is empty; returns how many records were acknowledged."""
    marked = 0
    while (body := next_push(node)) is not None:
        ack = deliver(centre, body)
        with Session(node) as session:
            marked += push.mark_acked(session, ack)
    return marked


def actor(engine: Engine, username: str) -> Actor:
    """A test user as an audit actor, read from `engine`'s database."""
    with Session(engine) as session:
        return auth.actor_for(session.exec(select(User).where(User.username == username)).one())
