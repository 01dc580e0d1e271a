"""Fuzz every API operation from the OpenAPI document, with and without a token: no answer is a 500."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.core.helpers import published_result

CALLERS = ("anonymous", "tester", "reviewer", "station", "admin")
EXAMPLES_PER_OPERATION = 15


@pytest.mark.timeout(600)  # 15 examples × 5 callers for each of 50-odd operations: minutes on a busy machine
def test_no_server_errors(app: Any, client: Any, headers: dict) -> None:
    published_result(client, headers)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []
    operations = 0
    for found in schema.get_all_operations():
        operation = found.ok()
        operations += 1

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            for who in CALLERS:
                response = case.call(headers={} if who == "anonymous" else headers[who])
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    server_errors.append(f"{who} {case.method} {case.formatted_path}: {response.status_code}")

        exercise()
    print(f"fuzzed {operations} operations, {sum(statuses.values())} requests: {dict(sorted(statuses.items()))}")
    assert operations >= 15
    assert not server_errors, server_errors[:10]
