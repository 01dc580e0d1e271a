"""Someone who can run SQL but does not hold the audit key cannot make `lims audit verify` say "intact":
the three forgeries of issue 9 are each reported, naming the place."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.core.helpers import POSITIVE_OPC, published_result
from tests.security.audit_helpers import event_after, forge_event, lims, newest_event, point_head, rewrite_event


def _chain_of(engine: Engine, entity: str, entity_id: int) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT chain FROM audit_event WHERE entity = :e AND entity_id = :i ORDER BY seq DESC LIMIT 1"),
                {"e": entity, "i": entity_id},
            ).scalar_one()
        )


def test_a_positive_turned_negative_with_a_correctly_hashed_event_is_reported(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    result = published_result(client, headers, POSITIVE_OPC)
    assert result["judgement"] == "positive" and result["status"] == "published"
    assert lims(engine, "audit", "verify").exit_code == 0
    chain = _chain_of(engine, "test_result", result["id"])
    with engine.begin() as conn:
        conn.execute(text("UPDATE test_result SET judgement = 'negative' WHERE id = :id"), {"id": result["id"]})
        published = conn.execute(
            text("SELECT id FROM audit_event WHERE entity = 'test_result' AND entity_id = :i AND action = 'publish'"),
            {"i": result["id"]},
        ).scalar_one()
        after = event_after(conn, published)
        forged = forge_event(
            conn, chain, "test_result", result["id"], "correct", after, {**after, "judgement": "negative"}
        )

    outcome = lims(engine, "audit", "verify")

    assert outcome.exit_code == 1
    report = outcome.stderr
    assert f"chain {chain}, event {forged}, test_result {result['id']}: event MAC does not verify" in report
    # ...and the row is compared with the last authentic state, which still says positive.
    assert f"event {published}, test_result {result['id']}: row differs" in report
    assert "judgement: audited 'positive', stored 'negative'" in report


def test_rewriting_the_last_event_and_its_row_is_reported(client: TestClient, headers: dict, engine: Engine) -> None:
    result = published_result(client, headers, POSITIVE_OPC)
    chain = _chain_of(engine, "test_result", result["id"])
    with engine.begin() as conn:
        last = newest_event(conn, chain)
        assert last["entity"] == "review"
        conn.execute(text("UPDATE review SET reason = 'routine' WHERE id = :id"), {"id": last["entity_id"]})
        rewrite_event(conn, int(last["id"]), {**last["after"], "reason": "routine"})

    outcome = lims(engine, "audit", "verify")

    assert outcome.exit_code == 1
    assert f"chain {chain}, event {last['id']}, review {last['entity_id']}: event MAC does not verify" in outcome.stderr


def test_cutting_off_the_tail_is_reported_with_the_missing_range(
    client: TestClient, headers: dict, engine: Engine, tmp_path: Path
) -> None:
    first = published_result(client, headers)
    chain = _chain_of(engine, "test_result", first["id"])
    with engine.connect() as conn:  # the attacker keeps a copy of the head record as it was then
        kept = dict(
            conn.execute(text("SELECT count, head, mac, version FROM audit_chain WHERE name = :c"), {"c": chain})
            .one()
            ._mapping
        )
    second = published_result(client, headers)
    assert lims(engine, "audit", "checkpoint").exit_code == 0
    with engine.begin() as conn:
        total = int(newest_event(conn, chain)["seq"])
        created = conn.execute(
            text(
                "SELECT entity, entity_id, min(seq) FROM audit_event WHERE chain = :c AND seq > :n "
                "GROUP BY entity, entity_id ORDER BY min(seq) DESC"
            ),
            {"c": chain, "n": kept["count"]},
        ).all()
        assert ("test_result", second["id"]) in {(e, i) for e, i, _ in created}
        for entity, entity_id, _ in created:
            conn.execute(text(f'DELETE FROM "{entity}" WHERE id = :id'), {"id": entity_id})
        conn.execute(text("DELETE FROM audit_event WHERE chain = :c AND seq > :n"), {"c": chain, "n": kept["count"]})
        point_head(conn, chain, kept["count"], kept["head"])
        conn.execute(text("UPDATE audit_chain SET mac = :m WHERE name = :c"), {"m": kept["mac"], "c": chain})

    # Without the checkpoint nothing in the database tells the cut apart...
    assert lims(engine, "audit", "verify", "--checkpoints", str(tmp_path / "none.jsonl")).exit_code == 0
    # ...the checkpoint taken before does, with the range.
    outcome = lims(engine, "audit", "verify")
    assert outcome.exit_code == 1
    missing = f"chain {chain}: events {kept['count'] + 1}..{total} missing (checkpoint 1 of "
    assert missing in outcome.stderr
    # A new checkpoint is refused: it would not extend the one before.
    refused = lims(engine, "audit", "checkpoint")
    assert refused.exit_code == 1
    assert f"chain {chain}: events {kept['count'] + 1}..{total} missing" in refused.stderr
