"""Validate a document against GS1's published EPCIS 2.0 JSON Schema (kept in tests/data/epcis)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "data" / "epcis"
ROOT = "https://gs1.github.io/EPCIS/JSON-Schema/EPCIS-JSON-Schema.json"


@cache
def validator() -> Draft7Validator:
    """A validator for the root schema, every child schema registered under its own $id."""
    resources = []
    for path in sorted(SCHEMA_DIR.rglob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    registry: Registry[Any] = Registry().with_resources(resources)
    root = registry.contents(ROOT)
    return Draft7Validator(root, registry=registry, format_checker=FormatChecker())


def problems(document: Any) -> list[str]:
    """Every way `document` breaks the EPCIS 2.0 schema, as 'path: message' lines (empty when valid)."""
    found = []
    for error in validator().iter_errors(json.loads(json.dumps(document))):
        where = "/".join(str(p) for p in error.absolute_path)
        found.append(f"{where}: {error.message}")
    return found
