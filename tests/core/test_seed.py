"""The province seed is faithful: its audit trail verifies, and the pages and APIs work on what it wrote."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from lims.api.deps import get_session
from lims.app import create_app
from lims.cli.main import app as cli
from lims.models import ControlRun, PositiveCase, Review, Sample, StockMovement, TestItem, TestResult, User
from lims.models.common import ResultStatus
from lims.services.access import auth
from lims.services.core import audit, clock, schema
from lims.services.core.audit_tables import AUDITED_MODELS
from lims.services.core.errors import Invalid
from lims.services.demo import builder, province
from lims.services.reports import month

# A fixed afternoon in the district (15:00 local): the last seeded day has a full morning of work.
NOW = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock stands at NOW for the services and the seed."""
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def seeded(empty_engine: Engine, frozen: None) -> Iterator[tuple[Engine, province.SeedSummary]]:
    """Two districts with ten days of history on each backend."""
    schema.upgrade(empty_engine)
    summary = province.seed_province(empty_engine, districts=2, days=10, samples_per_day=12, seed=7)
    yield empty_engine, summary


def _count(session: Session, model: type, *where: object) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())  # type: ignore[arg-type]


def test_seed_verifies_and_holds_what_the_services_write(seeded: tuple[Engine, province.SeedSummary]) -> None:
    engine, summary = seeded
    with Session(engine) as session:
        report = audit.check(session, AUDITED_MODELS)
        assert report.intact, [str(b) for b in report.breaks]
        assert _count(session, Sample) == summary.samples > 0
        published = _count(session, TestResult, TestResult.status == ResultStatus.PUBLISHED)
        assert published == summary.results > summary.samples
        # every published result carries the reviewer's two signatures, and every positive a case
        assert _count(session, Review) == 2 * summary.results
        assert _count(session, PositiveCase) == summary.cases == summary.positives
        assert _count(session, ControlRun) == summary.controls > 0
        assert _count(session, StockMovement, col(StockMovement.result_id).is_not(None)) > 0
        districts = set(session.exec(select(Sample.district_id).distinct()))
        assert len(districts) == 2
        # the events the services write for one published result, in their order
        result = session.exec(select(TestResult).order_by(col(TestResult.id))).first()
        assert result is not None
        actions = session.exec(
            select(audit.AuditEvent.action)
            .where(audit.AuditEvent.entity == "test_result", audit.AuditEvent.entity_id == result.id)
            .order_by(col(audit.AuditEvent.seq))
        ).all()
        assert list(actions) == ["submit", "approve", "publish"]
        assert result.raw and result.judgement in {"negative", "positive"}


def _signed_in(app: object, username: str, password: str) -> TestClient:
    client = TestClient(app)  # type: ignore[arg-type]
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    reply = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": token.group(1), "next": ""},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    return client


def test_pages_and_apis_work_on_the_seed(seeded: tuple[Engine, province.SeedSummary]) -> None:
    engine, summary = seeded
    app = create_app(engine)

    def override() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as s:
            yield s

    app.dependency_overrides[get_session] = override
    code = summary.trace_codes[0]
    with TestClient(app) as client:
        trace = client.get(f"/api/v1/trace/{code}")
        assert trace.status_code == 200, trace.text
        assert code in trace.text
        assert client.get(f"/trace/{code}").status_code == 200
    station = _signed_in(app, "station", builder.DEMO_USERS["station"][1])
    page = station.get("/station")
    assert page.status_code == 200
    with Session(engine) as session:
        newest = session.exec(
            select(Sample.label_id)
            .join(TestResult, col(TestResult.sample_id) == col(Sample.id))
            .order_by(col(TestResult.id).desc())
        ).first()
        assert newest is not None and newest in page.text  # the newest published results of every district first
        reviewer = session.exec(select(User).where(User.username == "reviewer")).one()
        report = month.monthly_report(session, auth.actor_for(reviewer), NOW.strftime("%Y-%m"))
        seeded_tests = _count(session, TestResult, TestResult.district_id == reviewer.district_id)
    assert report.tally.tests == seeded_tests > 0


def test_same_seed_same_rows(empty_engine: Engine, frozen: None) -> None:
    schema.upgrade(empty_engine)
    province.seed_province(empty_engine, districts=1, days=2, samples_per_day=6, seed=3)
    with Session(empty_engine) as session:
        first = session.exec(
            select(Sample.label_id, Sample.product_name, TestItem.code, TestResult.judgement, TestResult.raw)
            .join(Sample, col(Sample.id) == col(TestResult.sample_id))
            .join(TestItem, col(TestItem.id) == col(TestResult.item_id))
            .order_by(col(Sample.label_id), col(TestItem.code))
        ).all()
    engine = empty_engine
    with engine.begin() as connection:
        for table in reversed(audit.SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())
    province.seed_province(engine, districts=1, days=2, samples_per_day=6, seed=3)
    with Session(engine) as session:
        again = session.exec(
            select(Sample.label_id, Sample.product_name, TestItem.code, TestResult.judgement, TestResult.raw)
            .join(Sample, col(Sample.id) == col(TestResult.sample_id))
            .join(TestItem, col(TestItem.id) == col(TestResult.item_id))
            .order_by(col(Sample.label_id), col(TestItem.code))
        ).all()
    assert [tuple(r) for r in again] == [tuple(r) for r in first]
    assert first


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--districts", "0"], "districts must be between 1 and 50"),
        (["--districts", "51"], "districts must be between 1 and 50"),
        (["--days", "3651"], "days must be between 1 and 3650"),
        (["--samples-per-day", "0"], "samples_per_day must be between 1 and 400"),
    ],
)
def test_seed_refuses_arguments_out_of_bounds(args: list[str], problem: str) -> None:
    outcome = CliRunner().invoke(cli, ["seed", *args, "--db", "sqlite:///unused.db"])
    assert outcome.exit_code == 1
    assert problem in outcome.output


def test_seed_refuses_a_database_in_use(engine: Engine) -> None:
    with pytest.raises(Exception, match="already holds"):
        province.seed_province(engine, districts=1, days=1)
    with pytest.raises(Invalid):
        province.check_arguments(1, 0, 10)
