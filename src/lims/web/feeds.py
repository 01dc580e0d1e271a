"""Public consumption-safety warnings: the page and its Atom 1.0 feed."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from lims.api.deps import SessionDep
from lims.models import PublicWarning
from lims.services.cases import warnings
from lims.services.core import clock
from lims.settings import get_settings
from lims.web.common import Viewer, page_router, render

router = page_router()
ATOM = "http://www.w3.org/2005/Atom"


@router.get("/warnings", response_class=HTMLResponse)
def warnings_page(request: Request, session: SessionDep, me: Viewer) -> HTMLResponse:
    """Every consumption-safety warning in force, newest first."""
    return render(request, "warnings.html", warnings=warnings.active(session))


def _when(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tag_base() -> str:
    host = urlsplit(get_settings().public_base_url).hostname or "localhost"
    return f"tag:{host},2026:lims"


def atom_feed(rows: list[PublicWarning], base_url: str) -> bytes:
    """Warnings as an Atom 1.0 document (feed id, title, updated; entry id, title, updated, content)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "zh-CN"})
    ET.SubElement(feed, f"{{{ATOM}}}id").text = f"{_tag_base()}:warnings"
    ET.SubElement(feed, f"{{{ATOM}}}title").text = "消费警示 · Consumption-safety warnings"
    newest = max((w.published_at for w in rows if w.published_at), default=None)
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _when(newest or clock.now())
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "href": f"{base_url}/warnings.atom"})
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "alternate", "type": "text/html", "href": f"{base_url}/warnings"})
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = "12315 消费维权服务站 · 12315 consumer-rights stations"
    for w in rows:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}id").text = f"{_tag_base()}:warning:{w.id}"
        ET.SubElement(entry, f"{{{ATOM}}}title").text = w.title_zh + (f" · {w.title_en}" if w.title_en else "")
        published = w.published_at or newest or clock.now()  # every warning in force is published
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _when(published)
        ET.SubElement(entry, f"{{{ATOM}}}published").text = _when(published)
        href = f"{base_url}/warnings#warning-{w.id}"
        ET.SubElement(entry, f"{{{ATOM}}}link", {"rel": "alternate", "type": "text/html", "href": href})
        body = w.body_zh + (f"\n\n{w.body_en}" if w.body_en else "")
        ET.SubElement(entry, f"{{{ATOM}}}content", {"type": "text"}).text = body
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + document


@router.get("/warnings.atom")
def warnings_atom(session: SessionDep) -> Response:
    """The warnings as an Atom 1.0 feed."""
    base = get_settings().public_base_url.rstrip("/")
    return Response(atom_feed(warnings.active(session), base), media_type="application/atom+xml; charset=utf-8")
