"""Every role tries every transition on a result in every state; only the allowed ones succeed."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.core.helpers import INVALID_OPC, act, register, submit

STATES = ("tested", "approved", "rejected", "published", "archived", "superseded")
ACTIONS = ("approve", "reject", "publish", "archive", "correct")
ROLES = ("anonymous", "tester", "reviewer", "station", "admin")

# Written out by hand (not read from the workflow table) so that a change there has to be deliberate.
ALLOWED = {
    ("reviewer", "approve", "tested"),
    ("reviewer", "reject", "tested"),
    ("reviewer", "publish", "approved"),
    ("reviewer", "archive", "published"),
    ("tester", "correct", "tested"),
}
ROLE_MAY = {(role, action) for role, action, _state in ALLOWED}


def _result_in(client: TestClient, h: dict[str, dict[str, str]], state: str) -> dict[str, Any]:
    sample = register(client, h["tester"])
    result = submit(client, h["tester"], sample["label_id"], INVALID_OPC if state == "rejected" else None)
    steps = {
        "tested": [],
        "approved": ["approve"],
        "rejected": ["reject"],
        "published": ["approve", "publish"],
        "archived": ["approve", "publish", "archive"],
        "superseded": [],
    }[state]
    for step in steps:
        response = act(client, h["reviewer2"], result["id"], step, reason="retest please")
        assert response.status_code == 200, response.text
    if state == "superseded":
        body = {"raw": {"control_dA": 0.6, "sample_dA": 0.5}, "reason": "corrected entry"}
        assert (
            client.post(f"/api/v1/results/{result['id']}/corrections", json=body, headers=h["tester"]).status_code
            == 201
        )
    return result


def _try(client: TestClient, headers: dict[str, str], result_id: int, action: str) -> int:
    if action == "correct":
        body = {"raw": {"control_dA": 0.6, "sample_dA": 0.4}, "reason": "fix a typing error"}
        return client.post(f"/api/v1/results/{result_id}/corrections", json=body, headers=headers).status_code
    return client.post(
        f"/api/v1/results/{result_id}/{action}", json={"reason": "checked it"}, headers=headers
    ).status_code


def _expected(role: str, action: str, state: str) -> set[int]:
    if role == "anonymous":
        return {401}
    if (role, action, state) in ALLOWED:
        return {200, 201}
    if (role, action) not in ROLE_MAY:
        return {403}
    return {409}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_role_transition_matrix(client: TestClient, headers: dict, role: str, action: str) -> None:
    outcomes = {}
    for state in STATES:
        result = _result_in(client, headers, state)
        role_headers = {} if role == "anonymous" else headers[role]
        outcomes[state] = _try(client, role_headers, result["id"], action)
    wrong = {s: code for s, code in outcomes.items() if code not in _expected(role, action, s)}
    assert not wrong, f"{role} {action}: unexpected answers {wrong}"
