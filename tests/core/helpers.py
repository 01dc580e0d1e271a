"""Small API helpers for core tests: register a sample, submit raw data, walk a result through review."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

# Raw figures with a known outcome, per item (hand-computed in tests/judgement).
NEGATIVE_OPC = {"control_dA": 0.60, "sample_dA": 0.48}  # inhibition 20 %
POSITIVE_OPC = {"control_dA": 0.60, "sample_dA": 0.18}  # inhibition 70 %
INVALID_OPC = {"control_dA": 0.20, "sample_dA": 0.10}  # control ΔA below 0.3


def register(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    """Register a leafy-vegetable sample at P05 and return it."""
    body = {"point_code": "P05", "product_name": "小白菜", "category_code": "VEG_LEAF", **overrides}
    response = client.post("/api/v1/samples", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def submit(
    client: TestClient,
    headers: dict[str, str],
    label_id: str,
    raw: dict[str, float] | None = None,
    *,
    repeat: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """Submit OPC raw data for a sample and return the judged result.

    A positive the method asks to repeat is repeated with the same figures (so it stands, consolidated),
    unless `repeat` is False."""
    body = {"sample_label_id": label_id, "item_code": "OPC", "raw": raw or NEGATIVE_OPC, **extra}
    response = client.post("/api/v1/results", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result = dict(response.json())
    while repeat and result.get("repeat_state") == "pending":
        response = client.post("/api/v1/results", json=body, headers=headers)
        assert response.status_code == 201, response.text
        result = dict(response.json())
    return result


def act(client: TestClient, headers: dict[str, str], result_id: int, action: str, **body: Any) -> Any:
    """POST a review action and return the response."""
    return client.post(f"/api/v1/results/{result_id}/{action}", json=body or None, headers=headers)


def published_result(
    client: TestClient, h: dict[str, dict[str, str]], raw: dict[str, float] | None = None
) -> dict[str, Any]:
    """A result taken all the way to published."""
    sample = register(client, h["tester"])
    result = submit(client, h["tester"], sample["label_id"], raw)
    assert act(client, h["reviewer"], result["id"], "approve").status_code == 200
    response = act(client, h["reviewer"], result["id"], "publish")
    assert response.status_code == 200, response.text
    return dict(response.json())
