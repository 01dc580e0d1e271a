"""The monthly report's charts, drawn with matplotlib (Agg) as SVG: pass rate by month, positives by item and by
point, and a heat table of point × item. Text is drawn as outlines with a CJK font, so every viewer (a browser,
WeasyPrint) shows the Chinese without the font installed."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from lims import i18n
from lims.i18n import _N
from lims.services.reports.month import MonthReport, Row

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# A font with the Chinese characters (installed by scripts/setup.sh); the first of these found is used.
CJK_FONTS = (
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)
NAMES = ("pass_rate", "positives_by_item", "positives_by_point", "heat")
TITLES = {
    "pass_rate": _N("Pass rate by month"),
    "positives_by_item": _N("Screening positives by test item"),
    "positives_by_point": _N("Screening positives by sampling point"),
    "heat": _N("Positive rate by sampling point and test item"),
}
GREEN, RED, GREY, INK = "#0b5d3b", "#b00020", "#c9ced6", "#1d2433"
WIDTH = 7.2  # inches: the text width of an A4 page with 16 mm margins
_lock = threading.RLock()  # matplotlib's font cache and text layout are not thread-safe
_font: list[str] = []


def _matplotlib() -> ModuleType:
    """matplotlib on its Agg backend, imported when the first chart is drawn (not by every `lims` command)."""
    import matplotlib

    matplotlib.use("Agg")
    return matplotlib


def font_family() -> list[str]:
    """The font families the charts use: the CJK font registered once, then matplotlib's default."""
    with _lock:
        if not _font:
            from matplotlib import font_manager

            _matplotlib()
            for path in CJK_FONTS:
                if path.exists():
                    font_manager.fontManager.addfont(str(path))
                    _font.append(font_manager.FontProperties(fname=str(path)).get_name())
                    break
            _font.append("DejaVu Sans")
    return list(_font)


def _figure(height: float) -> Figure:
    _matplotlib()
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, height), layout="constrained")
    return figure


def _svg(figure: Figure) -> str:
    out = io.StringIO()
    with _matplotlib().rc_context({"svg.fonttype": "path", "svg.hashsalt": "lims-report"}):
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def _style(ax: Any, family: list[str]) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors=INK, labelsize=8)
    for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
        label.set_fontfamily(family)


def _empty(ax: Any, lang: str, family: list[str]) -> None:
    ax.text(
        0.5, 0.5, i18n.gettext(_N("No tests in this period"), lang), ha="center", va="center",
        color=INK, fontsize=10, fontfamily=family, transform=ax.transAxes,
    )  # fmt: skip
    ax.set_axis_off()


def pass_rate(report: MonthReport, lang: str) -> str:
    """Pass rate per month of the last twelve, with the tests of each month under its bar."""
    family = font_family()
    figure = _figure(2.6)
    ax = figure.add_subplot()
    months = [key for key, _tally in report.trend]
    rates = [t.pass_rate for _k, t in report.trend]
    shown = [r * 100 if r is not None else 0.0 for r in rates]
    if not any(t.tests for _k, t in report.trend):
        _empty(ax, lang, family)
        return _svg(figure)
    low = min((r for r in shown if r), default=100.0)
    floor = max(0.0, min(90.0, (low // 5) * 5 - 5))
    colours = [GREEN if key == report.month else "#6fa58a" for key in months]
    heights = [max(s - floor, 0) if r is not None else 0 for s, r in zip(shown, rates, strict=True)]
    bars = ax.bar(range(len(months)), heights, bottom=floor, color=colours, width=0.7)
    for bar, rate, (_key, _tally) in zip(bars, rates, report.trend, strict=True):
        if rate is None:
            continue
        ax.text(bar.get_x() + bar.get_width() / 2, floor + bar.get_height() + 0.2, f"{rate * 100:.1f}",
                ha="center", va="bottom", fontsize=7, color=INK, fontfamily=family)  # fmt: skip
    ax.set_xticks(range(len(months)), [m[2:] for m in months])
    ax.set_ylim(floor, 101.5)
    ax.set_ylabel(i18n.gettext(_N("Pass rate (%)"), lang), fontsize=8, fontfamily=family, color=INK)
    _style(ax, family)
    return _svg(figure)


def _bars(rows: list[Row], label: Callable[[Row], str], lang: str, limit: int = 12) -> str:
    family = font_family()
    shown = sorted((r for r in rows if r.tests), key=lambda r: (-r.positives, -(r.rate or 0), r.key))[:limit]
    figure = _figure(max(1.6, 0.32 * len(shown) + 0.7))
    ax = figure.add_subplot()
    if not shown or not any(r.positives for r in shown):
        _empty(ax, lang, family)
        return _svg(figure)
    shown.reverse()
    ax.barh(range(len(shown)), [r.positives for r in shown], color=[RED if r.positives else GREY for r in shown])
    top = max(r.positives for r in shown)
    for index, row in enumerate(shown):
        rate = row.rate or 0.0
        ax.text(row.positives + top * 0.01, index, f" {row.positives}/{row.tests} ({rate * 100:.1f}%)",
                va="center", fontsize=7, color=INK, fontfamily=family)  # fmt: skip
    ax.set_yticks(range(len(shown)), [label(r) for r in shown])
    ax.set_xlim(0, top * 1.35 + 1)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(i18n.gettext(_N("Screening positives"), lang), fontsize=8, fontfamily=family, color=INK)
    _style(ax, family)
    return _svg(figure)


def _short(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[: cap - 1] + "…"


def positives_by_item(report: MonthReport, lang: str) -> str:
    """Screening positives per test item in the month (the twelve with most), with positives/tests and the rate."""
    cap = 14 if lang == "zh" else 28
    return _bars(report.items, lambda r: _short(i18n.localized(lang, r.name_zh, r.name_en), cap), lang)


def positives_by_point(report: MonthReport, lang: str) -> str:
    """Screening positives per sampling point in the month."""
    cap = 16 if lang == "zh" else 30
    return _bars(report.points, lambda r: _short(f"{r.key} {i18n.localized(lang, r.name_zh, r.name_en)}", cap), lang)


def heat(report: MonthReport, lang: str) -> str:
    """Points (rows) × items (columns): the positive rate as colour, positives/tests written in each cell."""
    family = font_family()
    points = sorted({p for p, _i in report.heat})
    items = sorted({i for _p, i in report.heat})
    figure = _figure(max(1.8, 0.3 * len(points) + 1.1))
    ax = figure.add_subplot()
    if not points or not items:
        _empty(ax, lang, family)
        return _svg(figure)
    grid = [[float("nan")] * len(items) for _ in points]
    for (point, item), (tests, positives) in report.heat.items():
        if tests:
            grid[points.index(point)][items.index(item)] = positives / tests
    highest = max((v for row in grid for v in row if v == v), default=0.0)
    colours = _matplotlib().colormaps["Reds"].with_extremes(bad="#f4f6f8")
    image = ax.imshow(grid, cmap=colours, vmin=0, vmax=max(highest, 0.05), aspect="auto")
    for (point, item), (tests, positives) in report.heat.items():
        if not tests:
            continue
        value = positives / tests
        colour = "white" if value > max(highest, 0.05) * 0.6 else INK
        ax.text(items.index(item), points.index(point), f"{positives}/{tests}", ha="center", va="center",
                fontsize=5.5, color=colour, fontfamily=family)  # fmt: skip
    ax.set_xticks(range(len(items)), items, rotation=60, ha="right")
    ax.set_yticks(range(len(points)), points)
    bar = figure.colorbar(image, ax=ax, fraction=0.03, pad=0.01, format=lambda v, _p: f"{v * 100:.0f}%")
    bar.ax.tick_params(labelsize=7)
    _style(ax, family)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    return _svg(figure)


DRAW: dict[str, Callable[[MonthReport, str], str]] = {
    "pass_rate": pass_rate,
    "positives_by_item": positives_by_item,
    "positives_by_point": positives_by_point,
    "heat": heat,
}


def draw(report: MonthReport, name: str, lang: str) -> str:
    """The chart `name` (one of NAMES) of the report as SVG text, its labels in `lang`."""
    with _lock:
        return DRAW[name](report, lang)
