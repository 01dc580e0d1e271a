"""The page audit: one call that fails a Playwright page on what a person at a phone or a laptop would trip over.

Usage in any browser test::

    from tests.browser.audit import audit, watch

    page = watch(new_page())          # listeners first, before the first navigation
    page.goto("/trace")
    audit(page, "zh")                 # raises AssertionError listing every problem found

``problems(page, lang)`` gives the same findings as a dict ``{check: [problem, ...]}`` without raising, and
both take ``checks=`` to run only some of them. The checks (their names are the dict keys):

``language``
    Interface text of the other language. Visible text nodes are walked, plus ``placeholder``, ``aria-label``,
    ``title``, ``alt`` and the value of ``input[type=submit|button|reset]`` (not the document title: it cannot
    mark the product name it often holds as data). Data is
    exempt: anything inside ``[translate="no"]`` or ``.data`` (product names, codes, numbers, user names), and
    anything inside an element whose ``lang`` attribute names the other language (WCAG 3.1.2 "language of
    parts", e.g. the 中文 / English switch). On an ``en`` page any CJK character (ideographs or CJK/full-width
    punctuation) is a leak; on a ``zh`` page a run of two or more Latin words (letters only) is a leak, after
    removing the tokens of ``ALLOWED_LATIN`` (units, code names such as GTIN, acronyms). One Latin word alone
    (a brand, "ID") is not a leak.
``targets``
    Tap-target sizes, measured from bounding boxes of visible elements: ``button``, ``select``, ``textarea``,
    ``[role=button]`` and ``input`` (not ``hidden``) at least 44 px tall. A checkbox or radio is tiny by nature:
    its ``label`` (wrapping it, or ``label[for]``) is the target and must be at least 44 px tall; one without a
    label fails. Links (``a[href]``) and ``summary`` at least 24 × 24 px (WCAG 2.2 2.5.8), except a link inline
    in a sentence: ``display: inline`` inside a block that has text of its own besides its links and buttons.
``axe``
    axe-core (the copy bundled with ``axe-playwright-python``) violations of impact serious or critical.
``scroll``
    Horizontal scroll: ``document.documentElement.scrollWidth > innerWidth``.
``script``
    Console errors, uncaught page errors, failed requests and sub-resources answered with 4xx/5xx since the page
    was watched or last audited. ``watch(page)`` before the first navigation sees everything; a page nobody
    watched is judged on what Playwright keeps of it (its last console messages, page errors and requests).
    The document itself may be an error page (its own status is not a problem), and
    a request aborted by leaving the page (``net::ERR_ABORTED``, e.g. a live event stream) is not a failure.
``lang``
    ``<html lang>`` names the language the page is audited in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

CHECKS = ("language", "targets", "axe", "scroll", "script", "lang")
ALLOWED_LATIN = (
    "API",
    "GTIN",
    "GTIN-8",
    "GTIN-12",
    "GTIN-13",
    "GTIN-14",
    "EAN",
    "EAN-13",
    "EAN-8",
    "UPC",
    "UPC-A",
    "QR",
    "T/C",
    "ΔA",
    "µg/kg",
    "μg/kg",
    "mg/kg",
    "g/kg",
    "mg/L",
    "µg/L",
    "%",
    "12315",
    "CN",
    "EN",
    "English",
    "GS1",
    "ID",
    "PDF",
    "CSV",
    "JSON",
    "GB",
    "OK",
)
SERIOUS = ("serious", "critical")

# Runs in the page: every visible piece of interface text outside data, with a short path to say where it is.
_TEXTS_JS = r"""
(otherLang) => {
  const out = [];
  const where = (el) => {
    const parts = [];
    for (let e = el; e && e.nodeType === 1 && parts.length < 3; e = e.parentElement) {
      let s = e.tagName.toLowerCase();
      if (e.id) s += "#" + e.id; else if (e.classList.length) s += "." + [...e.classList].slice(0, 2).join(".");
      parts.unshift(s);
    }
    return parts.join(" > ");
  };
  const exempt = (el) => {
    if (!el) return true;
    if (el.closest('[translate="no"], .data, script, style, noscript, template')) return true;
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const l = e.getAttribute("lang");
      if (l) return l.toLowerCase().startsWith(otherLang);
    }
    return false;
  };
  const visible = (el) => {
    const host = el.closest("select") || el;
    return host.checkVisibility ? host.checkVisibility({visibilityProperty: true}) : !!host.getClientRects().length;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.nodeValue.trim();
    if (!text) continue;
    const el = n.parentElement;
    if (exempt(el) || !visible(el)) continue;
    out.push([text, where(el)]);
  }
  const labelled = "[placeholder], [aria-label], [title], img[alt], input[type=submit], input[type=button]";
  for (const el of document.body.querySelectorAll(labelled + ", input[type=reset]")) {
    if (exempt(el) || !visible(el)) continue;
    for (const name of ["placeholder", "aria-label", "title", "alt"]) {
      const v = el.getAttribute(name);
      if (v && v.trim()) out.push([v.trim(), where(el) + " @" + name]);
    }
    if (el.tagName === "INPUT" && ["submit", "button", "reset"].includes(el.type) && el.value) {
      out.push([el.value, where(el) + " @value"]);
    }
  }
  return out;
}
"""

# Runs in the page: every visible target smaller than its minimum.
_TARGETS_JS = r"""
() => {
  const out = [];
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    else if (el.getAttribute("name")) s += "[name=" + el.getAttribute("name") + "]";
    else if (el.classList.length) s += "." + [...el.classList].slice(0, 2).join(".");
    const t = (el.innerText || el.value || el.getAttribute("aria-label") || "")
      .trim().replace(/\s+/g, " ").slice(0, 30);
    return t ? s + ' "' + t + '"' : s;
  };
  const shown = (el) =>
    el.checkVisibility ? el.checkVisibility({visibilityProperty: true}) : !!el.getClientRects().length;
  const box = (el) => el.getBoundingClientRect();
  const small = (v, min) => v + 0.01 < min;
  const BLOCK = new RegExp("^(block|flex|grid|list-item|table|table-cell|table-caption|flow-root"
    + "|inline-block|inline-flex|inline-grid)$");
  const inSentence = (a) => {
    if (getComputedStyle(a).display !== "inline") return false;
    let block = a.parentElement;
    while (block && block !== document.body && !BLOCK.test(getComputedStyle(block).display)) {
      block = block.parentElement;
    }
    if (!block) return false;
    const copy = block.cloneNode(true);
    for (const t of copy.querySelectorAll("a, button, input, select, textarea, script, style")) t.remove();
    return /[\p{L}\p{N}]/u.test(copy.textContent || "");
  };
  for (const el of document.querySelectorAll("button, select, textarea, input, [role=button]")) {
    if (el.tagName === "INPUT" && el.type === "hidden") continue;
    if (el.tagName === "INPUT" && (el.type === "checkbox" || el.type === "radio")) {
      if (!shown(el)) continue;
      const label = el.closest("label") || (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]'));
      if (!label) { out.push(name(el) + ": a " + el.type + " without a label to tap"); continue; }
      const r = box(label);
      if (small(r.height, 44)) out.push(name(el) + ": its label is " + Math.round(r.height) + " px tall (at least 44)");
      continue;
    }
    if (!shown(el)) continue;
    const r = box(el);
    if (r.width === 0 && r.height === 0) continue;
    if (small(r.height, 44)) out.push(name(el) + ": " + Math.round(r.height) + " px tall (at least 44)");
  }
  for (const el of document.querySelectorAll("a[href], summary")) {
    if (!shown(el)) continue;
    const r = box(el);
    if (r.width === 0 && r.height === 0) continue;
    if (!small(r.width, 24) && !small(r.height, 24)) continue;
    if (el.tagName === "A" && inSentence(el)) continue;
    out.push(name(el) + ": " + Math.round(r.width) + " × " + Math.round(r.height) + " px (at least 24 × 24)");
  }
  return out;
}
"""

_CJK = re.compile(r"[\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
_WORDS = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z]+(?:[ \t\n\u00a0]+[A-Za-z]+)+(?![A-Za-z0-9_])")
_ALLOWED = re.compile(
    "|".join(
        rf"(?<![A-Za-z0-9]){re.escape(token)}(?![A-Za-z0-9])" for token in sorted(ALLOWED_LATIN, key=len, reverse=True)
    )
)


def latin_runs(text: str) -> list[str]:
    """The runs of two or more Latin words in `text`, once the allowed tokens are taken out."""
    return [m.group(0) for m in _WORDS.finditer(_ALLOWED.sub("\u00b7", text))]


def leaks(text: str, lang: str) -> list[str]:
    """What in `text` is of the other language: CJK characters on an English page, Latin runs on a Chinese one."""
    if lang == "en":
        found = _CJK.findall(text)
        return ["".join(found)[:20]] if found else []
    return latin_runs(text)


@dataclass
class Watch:
    """What a page said in its console and its network since it was watched (or last audited)."""

    page: Any
    errors: list[str] = field(default_factory=list)

    def take(self) -> list[str]:
        """The errors collected so far; the list starts again empty."""
        taken, self.errors = self.errors, []
        return taken


_WATCHES: dict[int, Watch] = {}


def watch(page: Any) -> Any:
    """Attach the console, page-error and network listeners to `page` (before navigating) and return the page."""
    seen = Watch(page)
    _WATCHES[id(page)] = seen

    def on_console(message: Any) -> None:
        if message.type != "error":
            return
        location = message.location or {}
        if message.text.startswith("Failed to load resource") and location.get("url") == page.url:
            return  # the document itself is an error page (404, 403): its status is the point, not a fault
        seen.errors.append(f"console: {message.text} ({location.get('url', '')})")

    def on_response(response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            seen.errors.append(f"{response.status} for {response.request.resource_type} {response.url}")

    def on_failed(request: Any) -> None:
        if request.resource_type != "document" and request.failure != _ABORTED:
            seen.errors.append(f"request failed: {request.url} ({request.failure})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.errors.append(f"page error: {error}"))
    page.on("response", on_response)
    page.on("requestfailed", on_failed)
    return page


@cache
def _axe_script() -> str:
    from axe_playwright_python.base import AXE_SCRIPT

    return str(AXE_SCRIPT)


def axe_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page, one line per rule with a few of its nodes."""
    if not page.evaluate("() => !!window.axe"):
        page.evaluate(_axe_script())
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    lines = []
    for v in result["violations"]:
        if v.get("impact") not in SERIOUS:
            continue
        nodes = "; ".join(" ".join(n.get("target", [])) for n in v["nodes"][:3])
        more = f" (+{len(v['nodes']) - 3} more)" if len(v["nodes"]) > 3 else ""
        lines.append(f"{v['id']} [{v['impact']}]: {v['help']} at {nodes}{more}")
    return lines


_ABORTED = "net::ERR_ABORTED"
_REPORTED: dict[int, set[int]] = {}


def _recent_errors(page: Any) -> list[str]:
    """For a page nobody watched: what Playwright kept of it (its last console messages, page errors and
    requests), each reported once. Less complete than `watch` (Playwright keeps only the last 100-200)."""
    errors = []
    for message in page.console_messages():
        location = message.location or {}
        if message.type != "error":
            continue
        if message.text.startswith("Failed to load resource") and location.get("url") == page.url:
            continue
        errors.append(f"console: {message.text} ({location.get('url', '')})")
    errors += [f"page error: {error}" for error in page.page_errors()]
    page.clear_console_messages()
    page.clear_page_errors()
    reported = _REPORTED.setdefault(id(page), set())
    for request in page.requests():
        if id(request) in reported or request.resource_type == "document":
            continue
        reported.add(id(request))
        failure = request.failure
        if failure and failure != _ABORTED:
            errors.append(f"request failed: {request.url} ({failure})")
            continue
        response = request.response() if not failure else None
        if response is not None and response.status >= 400:
            errors.append(f"{response.status} for {request.resource_type} {request.url}")
    return errors


def problems(page: Any, lang: str, checks: tuple[str, ...] = CHECKS) -> dict[str, list[str]]:
    """Every problem on `page` audited in `lang` ("zh" or "en"), per check; empty lists where it is clean."""
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    unknown = set(checks) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown checks: {sorted(unknown)}")
    page.wait_for_load_state("load")
    found: dict[str, list[str]] = {}
    if "language" in checks:
        other = "en" if lang == "zh" else "zh"
        texts = page.evaluate(_TEXTS_JS, other)
        found["language"] = [
            f"{where}: {leak!r} in {text[:80]!r}" for text, where in texts for leak in leaks(text, lang)
        ]
    if "targets" in checks:
        found["targets"] = list(page.evaluate(_TARGETS_JS))
    if "axe" in checks:
        found["axe"] = axe_violations(page)
    if "scroll" in checks:
        width, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        found["scroll"] = [f"the page is {width} px wide in a {inner} px window"] if width > inner else []
    if "lang" in checks:
        declared = page.evaluate("() => document.documentElement.lang") or ""
        found["lang"] = [] if declared.lower().startswith(lang) else [f"<html lang={declared!r}> on a {lang} page"]
    if "script" in checks:
        seen = _WATCHES.get(id(page))
        found["script"] = seen.take() if seen is not None and seen.page is page else _recent_errors(page)
    return found


def audit(page: Any, lang: str, checks: tuple[str, ...] = CHECKS) -> None:
    """Fail (AssertionError) listing every problem on `page` audited in `lang`; pass silently on a clean page."""
    found = problems(page, lang, checks)
    lines = [f"[{check}] {line}" for check, items in found.items() for line in items]
    if lines:
        raise AssertionError(f"{page.url} ({lang}): {len(lines)} problem(s)\n" + "\n".join(lines))
