"""Migration 0011 on a database that already holds samples: versions in effect, label numbering continues."""

from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from lims.models import LabelCounter, Sample, SampleVersion
from lims.models.samples import SampleCorrection, SampleCreate
from lims.services.access import auth
from lims.services.core import schema
from lims.services.core.audit import SYSTEM
from lims.services.reference import reference_data
from lims.services.samples import sampling
from lims.services.samples.label_ids import make_label_id
from tests.conftest import PASSWORD


def _to_0010(engine: Engine) -> None:
    """Take the schema back to before 0011; the rows stay as an older release left them."""
    config = schema.alembic_config(engine.url.render_as_string(hide_password=False))
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0010")
        return
    with engine.connect() as connection:  # tables are rebuilt: foreign keys off, as `lims db upgrade` does
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        config.attributes["connection"] = connection
        command.downgrade(config, "0010")
        connection.exec_driver_sql("COMMIT")
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def _register(session: Session, actor: auth.Actor, name: str, at: datetime | None = None) -> Sample:
    return sampling.register(
        session, actor, SampleCreate(point_code="P05", product_name=name, category_code="VEG_LEAF", collected_at=at)
    )


@time_machine.travel(datetime(2026, 12, 2, 2, 0, tzinfo=UTC), tick=False)
def test_existing_samples_keep_their_versions_and_numbering_continues(empty_engine: Engine) -> None:
    schema.upgrade(empty_engine)
    with Session(empty_engine, expire_on_commit=False) as session:
        reference_data.load_reference(session, SYSTEM)
        tester = auth.actor_for(auth.add_user(session, SYSTEM, "tester", "tester", PASSWORD))
        first = _register(session, tester, "小白菜")
        _register(session, tester, "菠菜")
        third = _register(session, tester, "生菜")
        _register(session, tester, "韭菜", datetime(2026, 11, 30, 3, 0, tzinfo=UTC))
        sampling.correct(
            session,
            tester,
            first.label_id,
            SampleCorrection(product_name="上海青", category_code="VEG_LEAF", reason="名称写错"),
        )
        session.commit()
    _to_0010(empty_engine)
    with empty_engine.begin() as conn:  # numbers given before 0011, with gaps: the counter must start past them
        conn.execute(
            text("UPDATE sample SET label_id = :new WHERE label_id = :old"),
            {"new": make_label_id("XQ", date(2026, 12, 2), 97), "old": third.label_id},
        )

    schema.upgrade(empty_engine)
    assert schema.is_current(empty_engine)
    with Session(empty_engine, expire_on_commit=False) as session:
        versions = session.exec(select(SampleVersion).order_by(col(SampleVersion.id))).all()
        assert [(v.version, v.state, v.reviewed_by_id) for v in versions] == [
            (1, "recorded", None),
            (1, "recorded", None),
            (1, "recorded", None),
            (1, "recorded", None),
            (2, "recorded", None),
        ]
        assert {s.pending_version for s in session.exec(select(Sample))} == {None}
        counters = {(c.day.isoformat(), c.last) for c in session.exec(select(LabelCounter))}
        assert counters == {("2026-12-02", 97), ("2026-11-30", 1)}
        after = _register(session, tester, "油麦菜")
        session.commit()
    assert after.label_id[2:11] == "261202098"
