"""A scaled-down vehicle soak: node and centre as processes behind the fault proxy, with outages, cut
connections and a SIGKILL of each side; afterwards the centre holds exactly the node's records.

The centre runs on PostgreSQL when LIMS_TEST_DATABASE_URL is set (a database of its own next to the
configured one), else on SQLite; the node always on SQLite. `bench/sync.py` runs the acceptance size.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.sync.soak_harness import SoakConfig, soak


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_soak_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    pg_url = os.environ.get("LIMS_TEST_DATABASE_URL")
    config = SoakConfig(
        samples=20,
        readings=60,
        batches=2,
        outages=3,
        outage_seconds=2.0,
        cut=0.05,
        node_kills=1,
        centre_kills=1,
        seed=int(os.environ.get("LIMS_SOAK_SEED", "1")),
        pg_url=pg_url,
        pg_name=f"{make_url(pg_url).database}_soak" if pg_url else "",
        gap=(0.5, 2.0),
    )
    with soak(tmp_path, config, log=lambda line: None) as world:
        report = world.run()
    summary = report.as_dict()
    assert report.outages == 3 and report.node_kills == 1 and report.centre_kills == 1, summary
    # every record the node made is at the centre, none twice, and the centre has nothing else
    assert set(report.lost().values()) == {0}, summary
    assert set(report.extra().values()) == {0}, summary
    assert set(report.twice().values()) == {0}, summary
    assert {label for (label,) in report.node_keys["sample"]} >= set(world.labels)
    assert len(report.node_keys["result"]) + len(report.node_keys["held_reading"]) == report.readings == 60
    # each outbox record applied once at the centre
    assert report.applied == report.outbox > 0, summary
    # the review made at the centre while the link was down reached the node
    assert report.reviewed is not None and report.reviewed_status_on_node == "approved", summary
    assert report.audit["centre"].startswith("exit 0") and report.audit["node"].startswith("exit 0"), summary
