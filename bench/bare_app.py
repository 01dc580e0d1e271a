"""A bare FastAPI endpoint of the same shape as the trace endpoint: the baseline for bench/trace.py."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException

app = FastAPI()
BODY = {
    "code": "",
    "kind": "sample",
    "results": [{"item_code": "OPC", "judgement": "negative", "value": 12.5, "unit": "%"}],
    "warnings": [],
}


@app.get("/api/v1/trace/{code}")
def trace(code: str) -> dict[str, object]:
    """Answer known-looking codes with a fixed body and the rest with 404, without any storage."""
    if code.endswith("0"):
        raise HTTPException(404, "unknown")
    return {**BODY, "code": code}
