"""Signed checkpoints: anyone with the exported public key checks them (and the database's public hashes)
without a secret; an altered, reordered or foreign checkpoint is named; `lims serve` takes them on schedule."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from lims.services.core import audit_checkpoints
from lims.settings import get_settings
from tests.core.helpers import published_result
from tests.security.audit_helpers import lims, lims_process, url_of


def _third_party(tmp_path: Path, engine: Engine, *args: str) -> Any:
    """`lims` run with no audit key and no signing key anywhere in reach: only what it is given."""
    folder = tmp_path / "auditor"
    folder.mkdir(exist_ok=True)
    env = {"LIMS_VAR_DIR": str(folder / "var"), "LIMS_DATABASE_URL": url_of(engine)}
    outcome = lims_process(env, *args)
    assert not (folder / "var").exists() or not any((folder / "var").iterdir())  # no key was made up
    return outcome


def test_checkpoints_check_out_with_the_exported_public_key_alone(
    client: TestClient, headers: dict, engine: Engine, tmp_path: Path
) -> None:
    published_result(client, headers)
    assert lims(engine, "audit", "checkpoint").exit_code == 0
    published_result(client, headers)
    assert lims(engine, "audit", "checkpoint").exit_code == 0
    pem = tmp_path / "lims-audit.pem"
    assert lims(engine, "audit", "public-key", "--out", str(pem)).exit_code == 0
    assert pem.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    copy = tmp_path / "published.jsonl"
    shutil.copy(audit_checkpoints.checkpoint_file(), copy)

    outcome = _third_party(
        tmp_path, engine, "audit", "check-checkpoints", str(copy), "--public-key", str(pem), "--database"
    )

    assert outcome.returncode == 0, outcome.stderr
    assert "2 checkpoints check out; the newest, checkpoint 2 of" in outcome.stdout

    lines = copy.read_text().splitlines()
    altered = json.loads(lines[0])
    altered["chains"][0]["count"] += 1
    copy.write_text(json.dumps(altered) + "\n" + lines[1] + "\n")
    outcome = lims(engine, "audit", "check-checkpoints", str(copy), "--public-key", str(pem))
    assert outcome.exit_code == 1
    assert "checkpoint line 1: signature does not verify (altered or forged)" in outcome.stderr

    copy.write_text(lines[1] + "\n" + lines[0] + "\n")  # a later checkpoint that signs fewer events
    outcome = lims(engine, "audit", "check-checkpoints", str(copy), "--public-key", str(pem))
    assert outcome.exit_code == 1
    assert "checkpoint 2 of" in outcome.stderr and ", checkpoint 1 of" in outcome.stderr

    other = tmp_path / "other.pem"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    outcome = lims(engine, "audit", "check-checkpoints", str(copy), "--public-key", str(other))
    assert outcome.exit_code == 1 and "signed by another key" in outcome.stderr


def test_the_public_check_finds_a_signed_event_that_was_replaced(
    client: TestClient, headers: dict, engine: Engine, tmp_path: Path
) -> None:
    result = published_result(client, headers)
    assert lims(engine, "audit", "checkpoint").exit_code == 0
    pem = tmp_path / "lims-audit.pem"
    lims(engine, "audit", "public-key", "--out", str(pem))
    with engine.begin() as conn:  # content changed under a signed head; the stored hash no longer matches it
        conn.execute(
            text("UPDATE audit_event SET actor = 'someone-else' WHERE entity = 'test_result' AND entity_id = :i"),
            {"i": result["id"]},
        )
    file = str(audit_checkpoints.checkpoint_file())
    outcome = lims(engine, "audit", "check-checkpoints", file, "--public-key", str(pem), "--database")
    assert outcome.exit_code == 1
    assert f"test_result {result['id']}: event content does not match its hash" in outcome.stderr


def test_verify_names_a_tampered_checkpoint_file(client: TestClient, headers: dict, engine: Engine) -> None:
    published_result(client, headers)
    assert lims(engine, "audit", "checkpoint").exit_code == 0
    path = audit_checkpoints.checkpoint_file()
    path.write_text(path.read_text().replace('"count": ', '"count": 1'))
    outcome = lims(engine, "audit", "verify")
    assert outcome.exit_code == 1
    assert "checkpoint line 1: signature does not verify" in outcome.stderr


@pytest.mark.timeout(60)
def test_serving_takes_checkpoints_on_a_schedule(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMS_AUDIT_CHECKPOINT_SECONDS", "0.2")
    get_settings.cache_clear()
    path = audit_checkpoints.checkpoint_file()
    with TestClient(app) as running:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not path.exists() or len(path.read_text().splitlines()) < 2):
            assert running.get("/healthz").status_code == 200  # requests are answered meanwhile
            time.sleep(0.05)
    lines = path.read_text().splitlines()
    assert len(lines) >= 2
    assert all(json.loads(line)["type"] == "lims-audit-checkpoint" for line in lines)
