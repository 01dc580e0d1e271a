"""Inline SVG bar charts that scale to any screen width (no script, no image files)."""

from __future__ import annotations

from markupsafe import Markup, escape

from lims.i18n import localized
from lims.services.public.hotspots import Rate

ROW = 40
AXIS = 22
WIDTH = 320
BAR = 190
# The ends a chart's scale may take: the smallest at or above the highest rate shown, so 2 % and 9 % differ.
SCALE_ENDS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0)


def scale_end(rates: list[Rate]) -> float:
    """The rate at the full length of a bar: the highest rate shown rounded up to a round figure (1 % at least)."""
    highest = max((r.rate for r in rates), default=0.0)
    return next((end for end in SCALE_ENDS if end >= highest), 1.0)


def percent(rate: float) -> str:
    """A rate as people read it: one decimal below 10 % (2.5%), none above (38%)."""
    return f"{rate * 100:.1f}%" if 0 < rate < 0.1 else f"{rate:.0%}"


def rate_chart(rates: list[Rate], lang: str, title: str, limit: int = 12) -> Markup:
    """Horizontal bars of positive rate, one row per key: label above, bar and `positives/tests (rate)` below.

    The bars are drawn on a linear scale from 0 to `scale_end` (printed under the bars), not to 100 %."""
    rows = rates[:limit]
    end = scale_end(rows)
    height = max(ROW * len(rows), ROW) + AXIS
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)} (0–{percent(end)})" data-scale="{end:g}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)} (0–{percent(end)})</title>",
    ]
    for i, r in enumerate(rows):
        y = i * ROW
        label = localized(lang, r.label_zh, r.label_en)
        cap = 22 if lang == "zh" else 40
        label = label if len(label) <= cap else label[: cap - 1] + "…"
        width = max(round(BAR * min(r.rate / end, 1.0)), 2 if r.positive else 0)
        colour = "#b00020" if r.rate >= 0.1 else "#c77700" if r.positive else "#0b5d3b"
        parts.append(f'<text x="0" y="{y + 14}" class="chart-label">{escape(label)}</text>')
        parts.append(f'<rect x="0" y="{y + 20}" width="{BAR}" height="12" rx="2" fill="#e3e7ec"/>')
        parts.append(f'<rect x="0" y="{y + 20}" width="{width}" height="12" rx="2" fill="{colour}"/>')
        parts.append(
            f'<text x="{BAR + 6}" y="{y + 31}" class="chart-value">{r.positive}/{r.tested} ({percent(r.rate)})</text>'
        )
    axis = height - AXIS + 4
    parts.append(
        f'<path d="M0 {axis}H{BAR}M0 {axis}v5M{BAR / 2:g} {axis}v5M{BAR} {axis}v5" stroke="#3a4456" fill="none"/>'
        f'<text x="0" y="{axis + 16}" class="chart-axis">0</text>'
        f'<text x="{BAR / 2:g}" y="{axis + 16}" text-anchor="middle" class="chart-axis">{percent(end / 2)}</text>'
        f'<text x="{BAR}" y="{axis + 16}" text-anchor="end" class="chart-axis">{percent(end)}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))
