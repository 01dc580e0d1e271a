"""What migrations did to the values of audited rows, as pure functions of a row's snapshot, so that the
upgrade can record it in the audit trail (`audit.record_schema_changes`) instead of a break.

Each function takes a row's snapshot as its newest audit event has it and returns the snapshot the
migrations make of it (unchanged when they do not touch it). Migrations use the same functions, so the
rewrite and what the audit trail accepts as the rewrite cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Snapshot = dict[str, Any]

# 0012: the pesticide analyzer's figures carry the names the judgement reads.
RAW_FIGURE_RENAMES: Mapping[str, str] = {"delta_a_control": "control_dA", "delta_a_sample": "sample_dA"}


def renamed(figures: Any, names: Mapping[str, str]) -> Any:
    """`figures` with the keys in `names` renamed (anything not a mapping as it is)."""
    if not isinstance(figures, dict):
        return figures
    return {names.get(key, key): value for key, value in figures.items()}


def held_reading_raw(reading: Any, names: Mapping[str, str] = RAW_FIGURE_RENAMES) -> Any:
    """A held reading's stored reading with its raw figures renamed."""
    if not isinstance(reading, dict) or not isinstance(reading.get("raw"), dict):
        return reading
    return {**reading, "raw": renamed(reading["raw"], names)}


def result_raw(raw: Any, names: Mapping[str, str] = RAW_FIGURE_RENAMES) -> Any:
    """A result's raw data with the instrument's own figures (kept under "instrument") renamed."""
    if not isinstance(raw, dict) or not isinstance(raw.get("instrument"), dict):
        return raw
    return {**raw, "instrument": renamed(raw["instrument"], names)}


def _held_reading(snapshot: Snapshot) -> Snapshot:
    return {**snapshot, "reading": held_reading_raw(snapshot.get("reading"))} if "reading" in snapshot else snapshot


def _test_result(snapshot: Snapshot) -> Snapshot:
    return {**snapshot, "raw": result_raw(snapshot.get("raw"))} if "raw" in snapshot else snapshot


REWRITES: Mapping[str, tuple[Callable[[Snapshot], Snapshot], ...]] = {
    "held_reading": (_held_reading,),
    "test_result": (_test_result,),
}
