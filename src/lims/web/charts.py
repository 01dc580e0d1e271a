"""Inline SVG bar charts that scale to any screen width (no script, no image files)."""

from __future__ import annotations

from markupsafe import Markup, escape

from lims.i18n import localized
from lims.services.public.hotspots import Rate

ROW = 40
WIDTH = 320
BAR = 190


def rate_chart(rates: list[Rate], lang: str, title: str, limit: int = 12) -> Markup:
    """Horizontal bars of positive rate, one row per key: label above, bar and `positives/tests (rate)` below."""
    rows = rates[:limit]
    height = max(ROW * len(rows), ROW)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, r in enumerate(rows):
        y = i * ROW
        label = localized(lang, r.label_zh, r.label_en)
        cap = 22 if lang == "zh" else 40
        label = label if len(label) <= cap else label[: cap - 1] + "…"
        width = max(round(BAR * r.rate), 1 if r.positive else 0)
        colour = "#b00020" if r.rate >= 0.1 else "#c77700" if r.positive else "#0b5d3b"
        parts.append(f'<text x="0" y="{y + 14}" class="chart-label">{escape(label)}</text>')
        parts.append(f'<rect x="0" y="{y + 20}" width="{BAR}" height="12" rx="2" fill="#e3e7ec"/>')
        parts.append(f'<rect x="0" y="{y + 20}" width="{width}" height="12" rx="2" fill="{colour}"/>')
        parts.append(
            f'<text x="{BAR + 6}" y="{y + 31}" class="chart-value">{r.positive}/{r.tested} ({r.rate:.0%})</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
