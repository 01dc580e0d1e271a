"""Two districts × every role × every route and page: one district never sees or touches another's unpublished work.

Every route of the app is classified below; a route that is not (or a new value of a route's path choice)
fails every test until it is. For each role of each district, against the other district's unpublished sample,
suspected positive, case, urgent task, held reading, pending correction and station notification:
- no answer carries the other district's label id, product, brand, batch, complaint or private reference data,
  and the other district's work adds no mention of its item or point to any listing;
- an answer about one of its things (by id, label or code) is the answer for a thing that does not exist;
- every write is refused that way and changes no row; writes of one's own change only one's own rows.
Published results stay shared: every station sees the other district's published result.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import unquote

import pytest
import time_machine
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select
from starlette.routing import Mount

from barcodes.hostile import small_png
from lims.models import District
from lims.models.common import Role
from lims.services.samples import links
from lims.services.samples.label_ids import make_label_id
from tests.cases.helpers import VERDICT
from tests.security.districts_world import (
    FROZEN,
    Side,
    World,
    body_text,
    build,
    create_unpublished_work,
    new_token,
    rows,
    substitute,
)
from tests.web.helpers import csrf_of

Kind = Literal["list", "addressed", "public", "write", "own", "auth"]
# The month the matrix's work is done in (the frozen morning's), for the monthly report of it.
THIS_MONTH = f"{FROZEN:%Y-%m}"
NEGATIVE = {"control_dA": 0.60, "sample_dA": 0.48}
MISSING_ID = 1_000_000


@dataclass(frozen=True)
class Probe:
    """One request of the matrix. `{t}` in the address or body is the target: the other district's thing, and,
    to compare with, a thing that does not exist."""

    kind: Kind
    method: str
    url: str
    target: str | None = None  # label, corrected, result, case, task, warning, held, point, serial, taskref, signed,
    # user, station, lead
    json: Any = None
    form: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    page: bool = False
    may_add: frozenset[str] = field(default_factory=frozenset)  # own writes: tables that may get new rows
    chains: frozenset[str] = field(default_factory=frozenset)  # own writes: audit chains besides the own one it moves


def api_list(url: str) -> Probe:
    return Probe("list", "GET", url)


def page_list(url: str) -> Probe:
    return Probe("list", "GET", url, page=True)


def api_get(url: str, target: str) -> Probe:
    return Probe("addressed", "GET", url, target)


def page_get(url: str, target: str) -> Probe:
    return Probe("addressed", "GET", url, target, page=True)


def api_write(url: str, target: str, json: Any = None) -> Probe:
    return Probe("write", "POST", url, target, json=json)


def page_write(url: str, target: str, form: dict[str, str] | None = None) -> Probe:
    return Probe("write", "POST", url, target, form=form or {}, page=True)


SAMPLE = {"product_name": "越区样品", "category_code": "VEG_LEAF"}
WARNING = {"title_zh": "本区消费警示", "body_zh": "本区近期抽检发现问题。"}
NOT_AN_IMAGE = ("x.png", b"not an image at all", "image/png")
A_PDF = ("report.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")
A_PHOTO = ("p.png", small_png(), "image/png")
SUGGESTION_TABLES = frozenset({"plan_suggestion", "audit_event"})
VEHICLE_TABLES = frozenset({"vehicle", "audit_event"})
WARNING_TABLES = frozenset({"public_warning", "warning_counter", "audit_event"})
SIGNAL = {"point": "P01", "category": "VEG_LEAF", "item": "OPC"}
DRAFT_EDIT = {
    "title_zh": "越区草稿",
    "product": "小白菜",
    "finding": "检出疑似阳性",
    "source": "快检车快速检测",
    "advice": "浸泡清洗后食用",
    "revision": 1,
}
OPC_CONTROL = {"item_code": "OPC", "kind": "blank", "raw": {"control_dA": 0.6}}
QC_TABLES = frozenset({"qc_control_run", "audit_event"})
ACCOUNT = {"username": "cross-district-probe", "password": "Zebra-Lantern-Quartz-2026", "full_name": "probe"}

POINT_FORM = {"code": "PX9", "name": "探测点", "area": "urban"}
INSTRUMENT_FORM = {"serial": "OWN-PROBE-0001", "family": "gold", "calibration_due": "2027-06-30"}
KIT_FORM = {
    "item_code": "CLB",
    "lot": "PROBE-LOT-1",
    "expires_on": "2027-06-30",
    "cutoff_tc": "0.9",
    "min_c_intensity": "0.2",
}
CALIBRATION_FORM = {"calibrated_on": "2026-12-01", "performed_by": "计量所", "next_due": "2027-12-01"}
EXPORT_FILE = ("export.csv", "标题\r\n序号,通道\r\n".encode("gbk"), "text/csv")
ADMIN_TABLES = frozenset({"audit_event", "audit_chain"})
HOOK = {"url": "https://93.184.215.14/own-hook", "events": ["warning.withdrawn"]}
HOOK_TABLES = frozenset({"webhook_subscription", "audit_event"})

ROUTES: dict[tuple[str, str], list[Probe]] = {
    # the API
    ("POST", "/api/v1/auth/token"): [
        Probe("auth", "POST", "/api/v1/auth/token", form={"username": "{o_tester}", "password": "not-the-password"})
    ],
    ("GET", "/api/v1/auth/me"): [api_list("/api/v1/auth/me")],
    ("POST", "/api/v1/samples"): [
        api_write("/api/v1/samples", "point", {**SAMPLE, "point_code": "{t}"}),
        api_write("/api/v1/samples", "taskref", {**SAMPLE, "point_code": "{v_point}", "task_ref": "{t}"}),
    ],
    ("GET", "/api/v1/samples"): [
        api_list("/api/v1/samples"),
        api_list("/api/v1/samples?point={o_point}"),
        api_list("/api/v1/samples?point=P01"),
    ],
    ("GET", "/api/v1/samples/pending-corrections"): [api_list("/api/v1/samples/pending-corrections")],
    ("POST", "/api/v1/samples/{label_id}/corrections/{version}/{action}"): [
        api_write(f"/api/v1/samples/{{t}}/corrections/2/{a}", "corrected", {"reason": "checked it"})
        for a in ("approve", "reject")
    ],
    ("GET", "/api/v1/samples/{label_id}"): [api_get("/api/v1/samples/{t}", "label")],
    ("POST", "/api/v1/samples/{label_id}/corrections"): [
        api_write("/api/v1/samples/{t}/corrections", "label", {**SAMPLE, "reason": "typing error"})
    ],
    ("GET", "/api/v1/samples/{label_id}/versions"): [api_get("/api/v1/samples/{t}/versions", "label")],
    ("POST", "/api/v1/results"): [
        api_write("/api/v1/results", "label", {"sample_label_id": "{t}", "item_code": "OPC", "raw": NEGATIVE}),
        api_write(
            "/api/v1/results",
            "serial",
            {"sample_label_id": "{v_label}", "item_code": "OPC", "raw": NEGATIVE, "instrument_serial": "{t}"},
        ),
    ],
    ("GET", "/api/v1/results"): [
        api_list("/api/v1/results"),
        api_list("/api/v1/results?status=approved"),
        api_list("/api/v1/results?judgement=positive"),
        api_list("/api/v1/results?point=P01"),
        api_list("/api/v1/results?point={o_point}"),
    ],
    ("GET", "/api/v1/results/{result_id}"): [api_get("/api/v1/results/{t}", "result")],
    ("POST", "/api/v1/results/{result_id}/corrections"): [
        api_write("/api/v1/results/{t}/corrections", "result", {"raw": NEGATIVE, "reason": "typing error"})
    ],
    ("POST", "/api/v1/results/{result_id}/{action}"): [
        api_write(f"/api/v1/results/{{t}}/{a}", "result", {"reason": "checked it"})
        for a in ("approve", "reject", "publish", "archive")
    ],
    ("GET", "/api/v1/cases"): [api_list("/api/v1/cases"), api_list("/api/v1/cases?open_only=true")],
    ("GET", "/api/v1/cases/{case_id}"): [api_get("/api/v1/cases/{t}", "case")],
    ("POST", "/api/v1/cases/{case_id}/notice-receipt"): [
        api_write(
            "/api/v1/cases/{t}/notice-receipt",
            "case",
            {"delivery": "in_person", "recipient": "王五", "recipient_role": "摊主"},
        )
    ],
    ("POST", "/api/v1/cases/{case_id}/sale-suspension"): [
        api_write("/api/v1/cases/{t}/sale-suspension", "case", {"confirmed_by": "王五"})
    ],
    ("POST", "/api/v1/cases/{case_id}/seal"): [api_write("/api/v1/cases/{t}/seal", "case", {"seal_number": "FT-1"})],
    ("POST", "/api/v1/cases/{case_id}/retest-request"): [
        api_write("/api/v1/cases/{t}/retest-request", "case", {"lab": "x市食品检验所", "seal_number": "FT-1"})
    ],
    ("POST", "/api/v1/cases/{case_id}/acceptance"): [api_write("/api/v1/cases/{t}/acceptance", "case")],
    ("POST", "/api/v1/cases/{case_id}/verdict"): [
        Probe("write", "POST", "/api/v1/cases/{t}/verdict", "case", form=VERDICT, files={"report": A_PDF})
    ],
    ("POST", "/api/v1/cases/{case_id}/photos"): [
        Probe("write", "POST", "/api/v1/cases/{t}/photos", "case", files={"photo": A_PHOTO})
    ],
    ("GET", "/api/v1/cases/{case_id}/files/{file_id}"): [api_get("/api/v1/cases/{t}/files/2147483000", "case")],
    ("POST", "/api/v1/cases/{case_id}/disposal"): [
        api_write("/api/v1/cases/{t}/disposal", "case", {"action": "removal", "quantity": 2, "unit": "kg"})
    ],
    ("GET", "/api/v1/warnings"): [api_list("/api/v1/warnings")],
    ("POST", "/api/v1/warnings"): [Probe("own", "POST", "/api/v1/warnings", json=WARNING, may_add=WARNING_TABLES)],
    ("GET", "/api/v1/signals"): [api_list("/api/v1/signals")],
    ("POST", "/api/v1/signals/drafts"): [Probe("own", "POST", "/api/v1/signals/drafts", json=SIGNAL)],
    ("GET", "/api/v1/warnings/drafts"): [api_list("/api/v1/warnings/drafts")],
    ("GET", "/api/v1/warnings/drafts/{warning_id}"): [api_get("/api/v1/warnings/drafts/{t}", "warning")],
    ("PUT", "/api/v1/warnings/drafts/{warning_id}"): [
        Probe("write", "PUT", "/api/v1/warnings/drafts/{t}", "warning", json=DRAFT_EDIT)
    ],
    ("POST", "/api/v1/warnings/drafts/{warning_id}/publish"): [
        api_write("/api/v1/warnings/drafts/{t}/publish", "warning", {"revision": 1})
    ],
    ("POST", "/api/v1/warnings/drafts/{warning_id}/discard"): [
        api_write("/api/v1/warnings/drafts/{t}/discard", "warning", {"revision": 1})
    ],
    ("POST", "/api/v1/warnings/{warning_id}/withdraw"): [
        api_write("/api/v1/warnings/{t}/withdraw", "warning", {"reason": "no longer applies"})
    ],
    ("GET", "/api/v1/trace/{code:path}"): [Probe("public", "GET", "/api/v1/trace/{t}", "label")],
    ("GET", "/api/v1/epcis/{code:path}"): [Probe("public", "GET", "/api/v1/epcis/{t}", "label")],
    ("POST", "/api/v1/scan"): [Probe("public", "POST", "/api/v1/scan", files={"image": NOT_AN_IMAGE})],
    ("GET", "/api/v1/reference/points"): [
        api_list("/api/v1/reference/points"),
        api_list("/api/v1/reference/points?district={o_code}"),
    ],
    ("GET", "/api/v1/reference/items"): [api_list("/api/v1/reference/items")],
    ("GET", "/api/v1/plans"): [api_list("/api/v1/plans")],
    # quality control: control runs, holds, history per kit lot (kit lots are shared), blind samples, verification
    ("POST", "/api/v1/qc/controls"): [
        api_write("/api/v1/qc/controls", "serial", {**OPC_CONTROL, "instrument_serial": "{t}"}),
        Probe("own", "POST", "/api/v1/qc/controls", json=OPC_CONTROL, may_add=QC_TABLES),
    ],
    ("GET", "/api/v1/qc/controls"): [api_list("/api/v1/qc/controls"), api_list("/api/v1/qc/controls?item=OPC")],
    ("GET", "/api/v1/qc/status"): [api_list("/api/v1/qc/status?item=OPC"), api_list("/api/v1/qc/status?item=CLB")],
    ("GET", "/api/v1/qc/lots/{lot_id}/controls"): [api_list("/api/v1/qc/lots/1/controls")],
    ("GET", "/api/v1/qc/lots/{lot_id}/chart.svg"): [api_list("/api/v1/qc/lots/1/chart.svg")],
    ("POST", "/api/v1/qc/blind"): [
        api_write(
            "/api/v1/qc/blind", "label", {"sample_label_id": "{t}", "item_code": "OPC", "true_outcome": "positive"}
        ),
        Probe(
            "own",
            "POST",
            "/api/v1/qc/blind",
            json={"sample_label_id": "{v_label}", "item_code": "OPC", "true_outcome": "negative"},
            may_add=frozenset({"qc_blind_sample", "audit_event"}),
        ),
    ],
    ("GET", "/api/v1/qc/blind"): [api_list("/api/v1/qc/blind")],
    ("GET", "/api/v1/qc/verification"): [api_list("/api/v1/qc/verification")],
    ("GET", "/api/v1/day-sheet"): [api_list("/api/v1/day-sheet")],
    ("GET", "/api/v1/progress"): [api_list("/api/v1/progress?month=2026-12")],
    ("POST", "/api/v1/tasks/urgent"): [
        api_write("/api/v1/tasks/urgent", "point", {"point_code": "{t}", "complaint": "顾客投诉：蔬菜有异味"})
    ],
    ("POST", "/api/v1/tasks/{task_id}/arrived"): [api_write("/api/v1/tasks/{t}/arrived", "task")],
    ("GET", "/api/v1/users"): [api_list("/api/v1/users")],
    ("POST", "/api/v1/users"): [
        api_write("/api/v1/users", "station", {**ACCOUNT, "role": "station", "station_code": "{t}"}),
    ],
    ("POST", "/api/v1/users/{username}/disable"): [api_write("/api/v1/users/{t}/disable", "user")],
    ("POST", "/api/v1/users/{username}/enable"): [api_write("/api/v1/users/{t}/enable", "user")],
    ("POST", "/api/v1/users/{username}/role"): [api_write("/api/v1/users/{t}/role", "user", {"role": "reviewer"})],
    ("POST", "/api/v1/users/{username}/password"): [
        api_write("/api/v1/users/{t}/password", "user", {"password": ACCOUNT["password"]})
    ],
    ("GET", "/api/v1/stock"): [api_list("/api/v1/stock")],
    ("GET", "/api/v1/stock/alerts"): [api_list("/api/v1/stock/alerts?unread_only=false")],
    ("POST", "/api/v1/stock/alerts/read"): [
        Probe("own", "POST", "/api/v1/stock/alerts/read", may_add=frozenset({"notification_mark", "audit_event"}))
    ],
    ("GET", "/api/v1/stock/reconciliation"): [api_list("/api/v1/stock/reconciliation?month=2026-12")],
    ("GET", "/api/v1/kit-lots"): [api_list("/api/v1/kit-lots")],
    ("POST", "/api/v1/kit-lots/{kit_lot_id}/receive"): [
        Probe(
            "own",
            "POST",
            "/api/v1/kit-lots/{v_free_lot}/receive",
            json={"quantity": 5},
            may_add=frozenset({"kit_stock", "stock_movement", "stock_alert", "audit_event"}),
        )
    ],
    ("POST", "/api/v1/kit-lots/{kit_lot_id}/accept"): [
        api_write("/api/v1/kit-lots/{t}/accept", "kitlot", {"accepted": False, "note": "control line missing"})
    ],
    ("POST", "/api/v1/kit-lots/{kit_lot_id}/open"): [api_write("/api/v1/kit-lots/{t}/open", "kitlot", {})],
    ("POST", "/api/v1/kit-lots/{kit_lot_id}/write-off"): [
        api_write("/api/v1/kit-lots/{t}/write-off", "kitlot", {"reason": "broken", "quantity": 1})
    ],
    ("GET", "/healthz"): [api_list("/healthz")],
    ("GET", "/openapi.json"): [api_list("/openapi.json")],
    ("GET", "/docs"): [api_list("/docs")],
    ("MOUNT", "/static"): [api_list("/static/site.css")],
    ("MOUNT", "/static/swagger"): [api_list("/static/swagger/swagger-ui.css")],
    ("GET", "/favicon.ico"): [api_list("/favicon.ico")],
    # the pages
    ("GET", "/"): [page_list("/")],
    ("GET", "/trace"): [page_list("/trace")],
    ("POST", "/trace/photo"): [Probe("public", "POST", "/trace/photo", files={"photo": NOT_AN_IMAGE}, page=True)],
    ("GET", "/trace/{code:path}"): [Probe("public", "GET", "/trace/{t}", "label", page=True)],
    ("GET", "/s/{label_id}"): [Probe("public", "GET", "{t}", "signed", page=True)],
    ("POST", "/trace/lead"): [
        Probe(
            "own",
            "POST",
            "/trace/lead",
            form={"code": "{v_label}", "what_happened": "本区消费者反映：菜叶发黄", "where_bought": "本区市场"},
            page=True,
            may_add=frozenset({"consumer_lead", "audit_event"}),
        )
    ],
    ("GET", "/warnings"): [page_list("/warnings")],
    ("GET", "/warnings.atom"): [page_list("/warnings.atom")],
    ("GET", "/login"): [page_list("/login")],
    ("POST", "/login"): [
        Probe("auth", "POST", "/login", form={"username": "{o_tester}", "password": "not-the-password"}, page=True)
    ],
    ("POST", "/logout"): [Probe("auth", "POST", "/logout", form={}, page=True)],
    ("GET", "/review"): [page_list("/review")],
    ("POST", "/review/results/{result_id}/{action}"): [
        page_write(f"/review/results/{{t}}/{a}", "result", {"reason": "checked it", "confirm": "true"})
        for a in ("approve", "reject", "publish")
    ],
    ("POST", "/review/batch/{action}"): [
        page_write(f"/review/batch/{a}", "result", {"ids": "{t}", "ack": "{t}", "confirm": "true"})
        for a in ("approve", "publish")
    ],
    ("POST", "/review/corrections/{label_id}/{version}/{action}"): [
        page_write(f"/review/corrections/{{t}}/2/{a}", "corrected", {"reason": "checked it"})
        for a in ("approve", "reject")
    ],
    ("POST", "/review/warnings"): [
        Probe("own", "POST", "/review/warnings", form={**WARNING, "confirm": "true"}, page=True, may_add=WARNING_TABLES)
    ],
    ("GET", "/signals"): [page_list("/signals")],
    ("POST", "/signals/draft"): [Probe("own", "POST", "/signals/draft", form=SIGNAL, page=True)],
    ("GET", "/signals/drafts/{warning_id}"): [page_get("/signals/drafts/{t}", "warning")],
    ("POST", "/signals/drafts/{warning_id}"): [
        page_write("/signals/drafts/{t}", "warning", {**DRAFT_EDIT, "revision": "1"})
    ],
    ("POST", "/signals/drafts/{warning_id}/{action}"): [
        page_write("/signals/drafts/{t}/publish", "warning", {"revision": "1", "confirm": "true"}),
        page_write("/signals/drafts/{t}/discard", "warning", {"revision": "1"}),
    ],
    ("POST", "/review/warnings/{warning_id}/withdraw"): [
        page_write("/review/warnings/{t}/withdraw", "warning", {"reason": "no longer applies", "confirm": "true"})
    ],
    ("GET", "/station"): [
        page_list("/station"),
        page_list("/station?point=P01"),
        page_list("/station?point={o_point}"),
    ],
    ("GET", "/station/results.csv"): [page_list("/station/results.csv")],
    ("GET", "/reports/month"): [page_list("/reports/month"), page_list(f"/reports/month?month={THIS_MONTH}")],
    ("GET", "/reports/month.pdf"): [page_list(f"/reports/month.pdf?month={THIS_MONTH}")],
    ("GET", "/reports/month.xlsx"): [page_list(f"/reports/month.xlsx?month={THIS_MONTH}")],
    ("GET", "/reports/month/{name}.svg"): [page_list(f"/reports/month/heat.svg?month={THIS_MONTH}")],
    ("GET", "/station/leads"): [page_list("/station/leads")],
    ("POST", "/station/leads/{lead_id}/handled"): [
        page_write("/station/leads/{t}/handled", "lead", {"note": "已核实"})
    ],
    ("GET", "/station/leads/{lead_id}/photo"): [page_get("/station/leads/{t}/photo", "lead")],
    ("POST", "/station/cases/{case_id}/{step}"): [
        page_write(
            "/station/cases/{t}/notice",
            "case",
            {"delivery": "in_person", "recipient": "王五", "recipient_role": "摊主"},
        ),
        page_write("/station/cases/{t}/suspend", "case", {"confirmed_by": "王五"}),
        page_write("/station/cases/{t}/seal", "case", {"seal_number": "FT-1"}),
        page_write("/station/cases/{t}/retest", "case", {"lab": "x市食品检验所", "seal_number": "FT-1"}),
        page_write("/station/cases/{t}/accept", "case"),
    ],
    ("POST", "/station/cases/{case_id}/disposal"): [
        page_write("/station/cases/{t}/disposal", "case", {"action": "removal", "quantity": "2", "unit": "kg"}),
    ],
    ("POST", "/review/cases/{case_id}/verdict"): [
        Probe("write", "POST", "/review/cases/{t}/verdict", "case", form=VERDICT, files={"report": A_PDF}, page=True)
    ],
    ("GET", "/cases/{case_id}/notice"): [Probe("addressed", "GET", "/cases/{t}/notice", "case", page=True)],
    ("GET", "/cases/{case_id}/notice.pdf"): [Probe("addressed", "GET", "/cases/{t}/notice.pdf", "case", page=True)],
    ("GET", "/cases/{case_id}/files/{file_id}"): [
        Probe("addressed", "GET", "/cases/{t}/files/2147483000", "case", page=True)
    ],
    ("POST", "/station/notifications/read"): [
        Probe(
            "own",
            "POST",
            "/station/notifications/read",
            form={},
            page=True,
            may_add=frozenset({"notification_mark", "audit_event"}),
        )
    ],
    ("GET", "/vehicle"): [page_list("/vehicle"), page_get("/vehicle?correct={t}", "label")],
    ("POST", "/vehicle/samples"): [page_write("/vehicle/samples", "point", {**SAMPLE, "point_code": "{t}"})],
    ("GET", "/vehicle/label/{label_id}.{fmt}"): [
        page_get(f"/vehicle/label/{{t}}.{fmt}", "label") for fmt in ("png", "svg", "pdf", "zpl")
    ],
    ("GET", "/vehicle/label/{label_id}"): [page_get("/vehicle/label/{t}", "label")],
    ("POST", "/vehicle/tasks/{task_id}/arrived"): [page_write("/vehicle/tasks/{t}/arrived", "task")],
    ("POST", "/vehicle/held/{held_id}/assign"): [
        page_write("/vehicle/held/{t}/assign", "held", {"label_id": "{v_label}"})
    ],
    ("POST", "/vehicle/held/{held_id}/discard"): [
        page_write("/vehicle/held/{t}/discard", "held", {"reason": "blank run of the strip"})
    ],
    ("GET", "/vehicle/held"): [page_list("/vehicle/held")],
    ("POST", "/vehicle/card-photo"): [
        Probe(
            "write",
            "POST",
            "/vehicle/card-photo",
            "label",
            form={"label_id": "{t}"},
            files={"photo": A_PHOTO},
            page=True,
        )
    ],
    ("GET", "/results/{result_id}/card-photo"): [page_get("/results/{t}/card-photo", "result")],
    ("POST", "/vehicle/samples/{label_id}/correction"): [
        page_write(
            "/vehicle/samples/{t}/correction", "label", {**SAMPLE, "product_name": "改名", "reason": "typing error"}
        )
    ],
    ("GET", "/vehicle/events"): [page_list("/vehicle/events?seconds=1")],
    ("GET", "/admin"): [page_list("/admin")],
    ("GET", "/admin/points"): [page_list("/admin/points")],
    ("POST", "/admin/points"): [page_write("/admin/points", "station", {**POINT_FORM, "station_code": "{t}"})],
    ("GET", "/admin/points/{code}"): [page_get("/admin/points/{t}", "point")],
    ("POST", "/admin/points/{code}"): [
        page_write("/admin/points/{t}", "point", {"seen": "x", "station_code": "ST00", "name": "改名"})
    ],
    ("GET", "/admin/reference"): [page_list("/admin/reference")],
    ("GET", "/admin/kits"): [page_list("/admin/kits")],
    # kit lots are reference data every district shares: adding one moves the shared chain
    ("POST", "/admin/kits"): [
        Probe(
            "own",
            "POST",
            "/admin/kits",
            form=KIT_FORM,
            page=True,
            may_add=ADMIN_TABLES | {"kit_lot"},
            chains=frozenset({"shared"}),
        )
    ],
    ("GET", "/admin/kits/{kit_id}"): [page_list("/admin/kits/1")],
    ("GET", "/admin/instruments"): [page_list("/admin/instruments")],
    ("POST", "/admin/instruments"): [
        Probe(
            "own", "POST", "/admin/instruments", form=INSTRUMENT_FORM, page=True, may_add=ADMIN_TABLES | {"instrument"}
        )
    ],
    ("GET", "/admin/instruments/{serial}"): [page_get("/admin/instruments/{t}", "serial")],
    ("POST", "/admin/instruments/{serial}"): [
        page_write("/admin/instruments/{t}", "serial", {"seen": "x", "location": "别处"})
    ],
    ("POST", "/admin/instruments/{serial}/calibrations"): [
        Probe(
            "write",
            "POST",
            "/admin/instruments/{t}/calibrations",
            "serial",
            form=CALIBRATION_FORM,
            files={"certificate": A_PDF},
            page=True,
        )
    ],
    ("POST", "/admin/instruments/{serial}/maintenance"): [
        page_write(
            "/admin/instruments/{t}/maintenance",
            "serial",
            {"performed_on": "2026-12-01", "performed_by": "张工", "work": "清洁"},
        )
    ],
    ("POST", "/admin/instruments/{serial}/import"): [
        Probe(
            "write",
            "POST",
            "/admin/instruments/{t}/import",
            "serial",
            form={"step": "preview"},
            files={"file": EXPORT_FILE},
            page=True,
        )
    ],
    ("GET", "/admin/instruments/{serial}/certificates/{record_id}"): [
        page_get("/admin/instruments/{t}/certificates/2147483000", "serial")
    ],
    ("GET", "/admin/users"): [page_list("/admin/users")],
    ("POST", "/admin/users"): [
        page_write("/admin/users", "station", {**ACCOUNT, "role": "station", "station_code": "{t}"})
    ],
    ("GET", "/admin/users/{username}"): [page_get("/admin/users/{t}", "user")],
    ("POST", "/admin/users/{username}/{action}"): [
        page_write(f"/admin/users/{{t}}/{a}", "user", {"role": "reviewer", "password": ACCOUNT["password"]})
        for a in ("disable", "enable", "role", "password")
    ],
    ("GET", "/admin/plans"): [page_list("/admin/plans")],
    ("POST", "/admin/plans/suggestions"): [
        Probe(
            "own", "POST", "/admin/plans/suggestions", form={"month": "2026-12"}, page=True, may_add=SUGGESTION_TABLES
        )
    ],
    ("GET", "/admin/plans/suggestions/{row_id}"): [page_get("/admin/plans/suggestions/{t}", "suggestion")],
    ("POST", "/admin/plans/suggestions/{row_id}/accept"): [
        page_write("/admin/plans/suggestions/{t}/accept", "suggestion")
    ],
    ("GET", "/board/{point}"): [Probe("public", "GET", "/board/{t}", "point", page=True)],
    ("GET", "/board/{point}.json"): [Probe("public", "GET", "/board/{t}.json", "point")],
    ("GET", "/board/{point}/panel"): [Probe("public", "GET", "/board/{t}/panel", "point", page=True)],
    ("GET", "/board/sw.js"): [Probe("public", "GET", "/board/sw.js")],
    ("GET", "/api/v1/open-data/results"): [
        Probe("public", "GET", "/api/v1/open-data/results?month=2026-12&format=csv"),
        Probe("public", "GET", "/api/v1/open-data/results?day=2026-12-03"),
    ],
    # The vehicles' sync API answers a vehicle's credential only (a user's token is refused like no credential);
    # a vehicle reads its own district's chains only (tests/sync).
    ("POST", "/api/v1/sync/enroll"): [
        Probe("auth", "POST", "/api/v1/sync/enroll", json={"vehicle": "VEH-01", "code": "AAAA-BBBB-CCCC-DDDD"})
    ],
    ("POST", "/api/v1/sync/push"): [Probe("auth", "POST", "/api/v1/sync/push", json={"records": [], "events": []})],
    ("GET", "/api/v1/sync/pull"): [api_list("/api/v1/sync/pull?cursor=0.0")],
    ("GET", "/api/v1/webhooks"): [api_list("/api/v1/webhooks")],
    ("POST", "/api/v1/webhooks"): [Probe("own", "POST", "/api/v1/webhooks", json=HOOK, may_add=HOOK_TABLES)],
    ("GET", "/api/v1/webhooks/{subscription_id}/attempts"): [api_get("/api/v1/webhooks/{t}/attempts", "webhook")],
    ("POST", "/api/v1/webhooks/{subscription_id}/enable"): [api_write("/api/v1/webhooks/{t}/enable", "webhook")],
    ("POST", "/api/v1/webhooks/{subscription_id}/disable"): [api_write("/api/v1/webhooks/{t}/disable", "webhook")],
    ("GET", "/admin/sharing"): [page_list("/admin/sharing")],
    ("POST", "/admin/sharing"): [
        Probe(
            "own",
            "POST",
            "/admin/sharing",
            form={**HOOK, "events": "warning.withdrawn"},
            page=True,
            may_add=HOOK_TABLES,
        )
    ],
    ("POST", "/admin/sharing/{subscription_id}/{action}"): [
        page_write(f"/admin/sharing/{{t}}/{a}", "webhook") for a in ("enable", "disable")
    ],
    # The district's detection vehicles (its own only); a new code for a vehicle of another district is not found,
    # as one that does not exist (tests/node).
    ("GET", "/admin/vehicles"): [page_list("/admin/vehicles")],
    ("POST", "/admin/vehicles"): [
        Probe("own", "POST", "/admin/vehicles", form={"code": "VEH-09"}, page=True, may_add=VEHICLE_TABLES)
    ],
    ("POST", "/admin/vehicles/{code}/code"): [Probe("own", "POST", "/admin/vehicles/VEH-98/code", page=True)],
    ("GET", "/admin/qc"): [page_list("/admin/qc")],
    ("POST", "/admin/qc"): [
        Probe(
            "own",
            "POST",
            "/admin/qc",
            form={"kind": "blank", "item_code": "OPC", "figures": "control_dA=0.6"},
            page=True,
            may_add=QC_TABLES,
        )
    ],
    ("GET", "/admin/qc/lots/{lot_id}"): [page_get("/admin/qc/lots/{t}", "kitlot")],
    ("GET", "/admin/qc/lots/{lot_id}/chart.svg"): [page_get("/admin/qc/lots/{t}/chart.svg", "kitlot")],
    ("GET", "/admin/verification"): [page_list("/admin/verification")],
    ("GET", "/{path:path}"): [page_list("/no-such-page"), page_list("/api/v1/no-such-thing")],
}
ROLES = ("tester", "reviewer", "station", "admin", "anonymous")


def app_routes(app: Any) -> dict[tuple[str, str], Any]:
    """Every (method, path) the app answers, from its route table, with the route as mounted."""
    found: dict[tuple[str, str], Any] = {}
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, Mount):
            found[("MOUNT", str(context.path))] = context
            continue
        for method in sorted((context.methods or set()) - {"HEAD"}):
            found[(method, str(context.path))] = context
    return found


def check_every_route_is_classified(app: Any) -> None:
    """Every route has probes, and every choice of a path parameter (an action, a step, a format) is probed."""
    routes = app_routes(app)
    assert not set(routes) - set(ROUTES), f"routes not classified in the district matrix: {set(routes) - set(ROUTES)}"
    assert not set(ROUTES) - set(routes), f"classified routes the app does not have: {set(ROUTES) - set(routes)}"
    for key, context in routes.items():
        if not isinstance(context.original_route, APIRoute):
            continue
        for param in context.original_route.dependant.path_params:
            if get_origin(param.field_info.annotation) is not Literal:
                continue
            probed = set()
            for probe in ROUTES[key]:
                match = context.path_regex.match(probe.url.replace("{t}", "1"))
                if match:
                    probed.add(match.groupdict()[param.name])
            missing = set(get_args(param.field_info.annotation)) - probed
            assert not missing, f"{key}: no probe for {param.name} {missing}"


# --------------------------------------------------------------------------- running probes


@dataclass
class Run:
    """The probes of one role of one district (the viewer) against the other district."""

    world: World
    viewer: Side
    role: str
    csrf: str = ""
    known_rows: Any = None  # the rows as the last write left them (None: read them again)

    def page_csrf(self) -> str:
        """The form token of the viewer's browser."""
        if not self.csrf:
            self.csrf = csrf_of(self.world.browser(self.viewer, self.role).get("/login").text)
        return self.csrf

    def rows_before(self) -> Any:
        """The rows now (the last write's snapshot when nothing has run since)."""
        return self.known_rows if self.known_rows is not None else rows(self.world.engine)

    @property
    def other(self) -> Side:
        return self.world.other(self.viewer)

    def targets(self, target: str) -> tuple[str, str]:
        """The other district's value of `target`, and one that exists nowhere."""
        o = self.other
        missing_label = make_label_id(o.code, FROZEN.date(), 990)
        return {
            "label": (o.secret_label, missing_label),
            "corrected": (o.published_label, missing_label),
            "result": (str(o.secret_result), str(MISSING_ID)),
            "case": (str(o.case), str(MISSING_ID)),
            "task": (str(o.task), str(MISSING_ID)),
            "warning": (str(o.warning), str(MISSING_ID)),
            "held": (str(o.held), str(MISSING_ID)),
            "point": (o.only_point, "ZZ99"),
            "suggestion": (str(o.suggestion), str(MISSING_ID)),
            "serial": (o.instrument, "ZZ-NONE-0001"),
            "taskref": (f"T{o.task}", f"T{MISSING_ID}"),
            "signed": (links.sample_path(o.secret_label), links.sample_path(missing_label)),
            "user": (o.account, "nobody-here"),
            "station": (o.only_station, "ZZ99"),
            "kitlot": (str(o.kit_lot), str(MISSING_ID)),
            "lead": (str(o.lead), str(MISSING_ID)),
            "webhook": (str(o.webhook), str(MISSING_ID)),
        }[target]

    def _fill(self, value: Any, t: str) -> Any:
        if isinstance(value, str):
            names = {
                "t": t,
                "v_point": self.viewer.only_point,
                "v_label": self.viewer.published_label,
                "v_free_lot": str(self.viewer.free_kit_lot),
                "o_point": self.other.only_point,
                "o_code": self.other.code,
                "o_tester": self.other.users["tester"],
            }
            return re.sub(r"\{(\w+)\}", lambda m: names.get(m.group(1), m.group(0)), value)
        if isinstance(value, dict):
            return {k: self._fill(v, t) for k, v in value.items()}
        if isinstance(value, list):
            return [self._fill(v, t) for v in value]
        return value

    def client(self, probe: Probe) -> TestClient:
        if probe.kind == "auth":  # signing in or out must not sign this viewer out: a sign-in of its own
            fresh = TestClient(self.world.app)
            if self.role != "anonymous":
                fresh.cookies.set("lims_session", new_token(self.world.engine, self.viewer.users[self.role]))
            return fresh
        return self.world.browser(self.viewer, self.role if probe.page else "anonymous")

    def send(self, probe: Probe, t: str = "") -> Any:
        """The probe's request with `{t}` = `t`, as the viewer."""
        client = self.client(probe)
        headers = {} if probe.page else self.world.headers(self.viewer, self.role)
        data = None
        if probe.form is not None:
            data = self._fill(probe.form, t)
            if probe.page:
                token = csrf_of(client.get("/login").text) if probe.kind == "auth" else self.page_csrf()
                data = {"csrf": token, **data}
        return client.request(
            probe.method,
            self._fill(probe.url, t),
            headers=headers,
            json=self._fill(probe.json, t),
            data=data,
            files=probe.files,
            follow_redirects=False,
        )


def _hits(text: str, needle: str) -> int:
    return len(re.findall(rf"(?<![0-9A-Za-z]){re.escape(needle)}(?![0-9A-Za-z])", text))


def _leaks(text: str, secrets: list[str], allowed: str | tuple[str, ...] = "") -> list[str]:
    allow = (allowed,) if isinstance(allowed, str) else allowed
    return [s for s in secrets if s and s not in allow and _hits(text, s)]


def _answer(response: Any, value: str = "", missing: str = "") -> tuple[int, str, str]:
    """What a refusal tells: status, where it redirects, and (for JSON) the body with the target's value
    replaced by the missing one."""
    location = unquote(response.headers.get("location", ""))
    location = substitute(location, value, missing) if value else location
    is_json = response.headers.get("content-type", "").startswith("application/json")
    text = body_text(response) if is_json else ""
    return response.status_code, location, substitute(text, value, missing) if value else text


def listings(run: Run, problems: list[str] | None = None) -> dict[tuple[str, str], Counter[str]]:
    """How often each of the other district's markers appears in each listing the viewer reads; with
    `problems`, also what the listings show of the other district's secrets."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    markers = run.other.markers(run.world)
    for (_method, path), probes in ROUTES.items():
        for probe in probes:
            if probe.kind != "list":
                continue
            response = run.send(probe)
            assert response.status_code < 500, f"{run.role} GET {probe.url}: {response.status_code}"
            text = body_text(response)
            counts[(path, probe.url)] = Counter({m: _hits(text, m) for m in markers})
            leaked = _leaks(text, run.other.secrets(run.world)) if problems is not None else []
            if leaked and problems is not None:
                problems.append(f"{run.viewer.code} {run.role} GET {probe.url}: shows {leaked}")
    return counts


def check(run: Run, baseline: dict[tuple[str, str], Counter[str]]) -> list[str]:
    """Every probe of the matrix for one viewer; the problems found."""
    world, other = run.world, run.other
    secrets = other.secrets(world)
    problems: list[str] = []
    who = f"{run.viewer.code} {run.role}"
    before_reads = rows(world.engine)
    counts = listings(run, problems)
    for key, seen in counts.items():
        if seen != baseline[key]:
            changed = {m: (baseline[key][m], n) for m, n in seen.items() if baseline[key][m] != n}
            problems.append(f"{who} GET {key[1]}: mentions {other.code}'s unpublished work more often {changed}")
    for (_method, _path), probes in ROUTES.items():
        for probe in probes:
            if probe.kind == "addressed":
                problems += _addressed(run, probe, secrets, who)
            elif probe.kind == "public":
                value = run.targets(probe.target)[0] if probe.target else ""
                problems += _plain(run, probe, value, secrets, who)
    run.known_rows = rows(world.engine)
    if run.known_rows != before_reads:
        problems.append(f"{who}: reading changed rows")
    for (_method, _path), probes in ROUTES.items():
        for probe in probes:
            if probe.kind == "auth":
                problems += _plain(run, probe, "", secrets, who)
                run.known_rows = None
            elif probe.kind == "write":
                problems += _write(run, probe, secrets, who)
            elif probe.kind == "own":
                problems += _own(run, probe, secrets, who)
    return problems


def _plain(run: Run, probe: Probe, value: str, secrets: list[str], who: str) -> list[str]:
    """A public or sign-in request: never a 500, never the other district's secrets (the label or user name it
    was sent may be echoed)."""
    response = run.send(probe, value)
    problems = [f"{who} {probe.method} {probe.url}: {response.status_code}"] if response.status_code >= 500 else []
    leaked = _leaks(body_text(response), secrets, allowed=(run.other.secret_label, run.other.users["tester"]))
    if leaked:
        problems.append(f"{who} {probe.method} {probe.url}: shows {leaked}")
    return problems


def _addressed(run: Run, probe: Probe, secrets: list[str], who: str) -> list[str]:
    assert probe.target
    value, missing = run.targets(probe.target)
    theirs, none = run.send(probe, value), run.send(probe, missing)
    problems = []
    if _answer(theirs, value, missing) != _answer(none):
        problems.append(
            f"{who} GET {probe.url} of {run.other.code}'s {probe.target}: {theirs.status_code} {theirs.text[:200]!r}, "
            f"unlike a missing one: {none.status_code} {none.text[:200]!r}"
        )
    leaked = _leaks(body_text(theirs), secrets, allowed=value)
    if leaked:
        problems.append(f"{who} GET {probe.url}: shows {leaked}")
    return problems


def _write(run: Run, probe: Probe, secrets: list[str], who: str) -> list[str]:
    assert probe.target
    value, missing = run.targets(probe.target)
    before = run.rows_before()
    theirs = run.send(probe, value)
    none = run.send(probe, missing)
    after = run.known_rows = rows(run.world.engine)
    problems = []
    if after != before:
        changed = sorted(t for t in after if after[t] != before[t])
        problems.append(f"{who} POST {probe.url} on {run.other.code}'s {probe.target} changed {changed}")
    if _answer(theirs, value, missing) != _answer(none) or 200 <= theirs.status_code < 300:
        problems.append(
            f"{who} POST {probe.url} on {run.other.code}'s {probe.target}: {theirs.status_code} "
            f"{theirs.headers.get('location', '')} {theirs.text[:200]!r}, unlike a missing one: {none.status_code} "
            f"{none.headers.get('location', '')} {none.text[:200]!r}"
        )
    leaked = _leaks(body_text(theirs), secrets, allowed=value)
    if leaked:
        problems.append(f"{who} POST {probe.url}: shows {leaked}")
    return problems


def _own_chain(run: Run) -> str:
    """The name of the audit chain of the viewer's district."""
    with Session(run.world.engine) as session:
        district = session.exec(select(District).where(District.code == run.viewer.code)).one()
    return f"district:{district.id}"


def _own(run: Run, probe: Probe, secrets: list[str], who: str) -> list[str]:
    before = run.rows_before()
    response = run.send(probe)
    after = run.known_rows = rows(run.world.engine)
    problems = []
    if response.status_code >= 500:
        problems.append(f"{who} POST {probe.url}: {response.status_code}")
    own_chain = _own_chain(run)
    for table, old in before.items():
        new = after[table]
        changed = [i for i, text in old.items() if new.get(i) != text]
        if table == "audit_chain":  # an own write moves the head of its own district's chain, and no other
            changed = [i for i in changed if old[i][1] != own_chain and old[i][1] not in probe.chains]
        if table == "warning_counter":  # a publication takes the next number of its own district's year only
            changed = [i for i in changed if f"district:{old[i][1]}" != own_chain]
        if table == "plan_suggestion":  # a new suggestion supersedes its own district's open one for the month
            at = list(SQLModel.metadata.tables[table].columns.keys()).index("district_id")
            changed = [i for i in changed if f"district:{old[i][at]}" != own_chain]
        if changed:
            problems.append(f"{who} POST {probe.url} changed existing rows of {table}")
        if set(new) - set(old) and table not in probe.may_add:
            problems.append(f"{who} POST {probe.url} added rows to {table}")
    leaked = _leaks(body_text(response), secrets)
    if leaked:
        problems.append(f"{who} POST {probe.url}: shows {leaked}")
    return problems


# --------------------------------------------------------------------------- what each role may still see


def _still_sees(run: Run) -> list[str]:
    """Each role still sees its own district's work, and stations the other district's published result."""
    viewer, other, role = run.viewer, run.other, run.role
    world = run.world

    def api(url: str) -> Any:
        return world.browser(viewer, "anonymous").get(url, headers=world.headers(viewer, role))

    wanted: dict[str, tuple[str, str]] = {
        "tester": (f"/api/v1/samples/{viewer.secret_label}", viewer.secret_label),
        "reviewer": ("/api/v1/results?status=approved", viewer.secret_label),
        "station": ("/api/v1/results", other.published_label),
        "admin": ("/api/v1/cases", viewer.secret_label),
        "anonymous": (f"/api/v1/trace/{other.published_label}", other.published_label),
    }
    url, label = wanted[role]
    response = api(url)
    problems = [] if label in response.text else [f"{viewer.code} {role} GET {url} lacks {label}: {response.text}"]
    if role == "station":
        cases = api("/api/v1/cases").text
        shared = api(f"/api/v1/results/{other.published_result}")
        if viewer.secret_label not in cases:
            problems.append(f"{viewer.code} station does not see its own point's case")
        if shared.status_code != 200:
            problems.append(f"{viewer.code} station cannot read {other.code}'s published result: {shared.text}")
        page = world.browser(viewer, "station").get("/station").text
        if viewer.product not in page:
            problems.append(f"{viewer.code} station's notification of its own positive is missing")
    return problems


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(FROZEN, tick=True) as traveller:
        yield traveller


# Every route, each role, both districts: about 50 s on an idle two-core machine, more beside other tests.
@pytest.mark.timeout(400)
@pytest.mark.slow
@pytest.mark.parametrize("roles", [("tester", "reviewer", "admin"), ("station", "anonymous")], ids=["lab", "public"])
@pytest.mark.parametrize("viewer", ["XQ", "YB"])
def test_district_never_sees_or_touches_the_others_work(
    app: Any, engine: Engine, tmp_path: Path, frozen: Any, viewer: str, roles: tuple[str, ...]
) -> None:
    check_every_route_is_classified(app)
    assert {r.value for r in Role} | {"anonymous"} == set(ROLES), "a role is missing from the matrix"
    world = build(app, engine, tmp_path)
    runs = [Run(world, world.sides[viewer], role) for role in roles]
    baselines = {run.role: listings(run) for run in runs}  # before either district's unpublished work
    create_unpublished_work(world)
    problems = []
    for run in runs:
        problems += _still_sees(run)
        problems += check(run, baselines[run.role])
    assert not problems, "\n".join(problems)
