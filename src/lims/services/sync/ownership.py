"""Who owns what: each table belongs to the vehicle node that made its rows at the point, or to the centre.

The node creates samples and their versions, results as acquired, held readings, instrument reading
imports, control runs and the stock movements of its runs; those rows travel node → centre through the
outbox. Everything else (reviews, publication, cases, warnings, reference data, plans, kit lots and
holdings, users, stations and points, instruments) belongs to the centre and travels centre → node by pull;
a node refuses to change it, with a message saying the centre owns it. Two kinds of fields cross
that line inside a table: a task's arrival time and a case's disposal are recorded at the point
(`NODE_FIELDS`), a result's review state and publication are decided at the centre (`CENTRE_FIELDS`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal

Owner = Literal["node", "centre"]

OWNERSHIP: MappingProxyType[str, Owner] = MappingProxyType(
    {
        # made at the point, on the vehicle
        "sample": "node",
        "sample_version": "node",
        "test_result": "node",
        "held_reading": "node",
        "reading_import": "node",
        "qc_control_run": "node",
        "stock_movement": "node",
        # decided or kept at the centre
        "review": "centre",
        "positive_case": "centre",
        "case_file": "centre",
        "public_warning": "centre",
        "warning_counter": "centre",
        "plan_version": "centre",
        "plan_task": "centre",
        "plan_suggestion": "centre",
        "district": "centre",
        "station": "centre",
        "sampling_point": "centre",
        "food_category": "centre",
        "test_item": "centre",
        "item_limit": "centre",
        "kit_lot": "centre",
        "kit_stock": "centre",
        "stock_alert": "centre",
        "instrument": "centre",
        "instrument_calibration": "centre",
        "instrument_maintenance": "centre",
        "qc_blind_sample": "centre",
        "app_user": "centre",
        "user_session": "centre",
        "product": "centre",
        "trademark": "centre",
        "consumer_lead": "centre",
        "notification_mark": "centre",
        "file_content": "centre",
        "webhook_subscription": "centre",
        "webhook_event": "centre",
        "webhook_delivery": "centre",
        "webhook_attempt": "centre",
        "vehicle": "centre",
        "vehicle_chain": "centre",
        "sync_applied": "centre",
        "sync_row_map": "centre",
        # the node's own bookkeeping: numbering, its identity, outbox and cursors, its audit trail
        "label_counter": "node",
        "node_identity": "node",
        "sync_outbox": "node",
        "sync_cursor": "node",
        "audit_event": "node",
        "audit_chain": "node",
    }
)

# Tables whose rows the node creates and pushes to the centre (its bookkeeping tables stay on the node).
NODE_OWNED: frozenset[str] = frozenset(
    {"sample", "sample_version", "test_result", "held_reading", "reading_import", "qc_control_run", "stock_movement"}
)

# Fields of centre-owned tables that the node records at the point and pushes.
NODE_FIELDS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "plan_task": frozenset({"arrived_at"}),
        "positive_case": frozenset(
            {
                "disposal_action",
                "disposal_quantity",
                "disposal_unit",
                "disposal_note",
                "disposal_officer",
                "disposal_witness",
                "disposal_acknowledged_by",
                "disposal_supplier",
                "disposal_purchase_record",
                "disposal_at",
            }
        ),
    }
)

# Fields of node-owned tables that only the centre changes (and the node takes from the pull).
CENTRE_FIELDS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "test_result": frozenset({"status", "published_at"}),
        "sample_version": frozenset({"state", "reviewed_by_id", "reviewed_at", "review_reason"}),
        "sample": frozenset({"pending_version"}),
    }
)


def owner_of(table_name: str) -> Owner:
    """Who owns the rows of `table_name`: "node" or "centre" (a table not named here is the centre's)."""
    return OWNERSHIP.get(table_name, "centre")


def node_may_change(table_name: str, fields: frozenset[str] | set[str]) -> bool:
    """Whether a node may change these fields of a row of `table_name` (node-owned rows, or node fields)."""
    if table_name in NODE_OWNED:
        return not fields & CENTRE_FIELDS.get(table_name, frozenset())
    if owner_of(table_name) == "node":
        return True
    return bool(fields) and fields <= NODE_FIELDS.get(table_name, frozenset())
