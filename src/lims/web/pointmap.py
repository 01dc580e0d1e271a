"""The district's sampling points as a plain inline SVG map drawn from their coordinates (no tiles, no script)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

from lims.i18n import localized
from lims.services.public.hotspots import PointStatus

WIDTH = 320
HEIGHT = 240
PAD = 28
KM_PER_DEGREE = 111.32  # one degree of latitude (and of longitude at the equator), in km
# The colours of a point (text colour on white at least 4.5:1, so the same colours serve the legend).
COLOURS = {"none": "#5b6472", "negative": "#0b5d3b", "positive": "#b00020"}


def status_of(p: PointStatus) -> str:
    """How the map colours a point: no recent results, all negative, or at least one suspected positive."""
    if not p.tested:
        return "none"
    return "positive" if p.positive else "negative"


@dataclass(frozen=True)
class Placed:
    """A point at its place on the map."""

    point: PointStatus
    x: float
    y: float


def place(points: list[PointStatus]) -> tuple[list[Placed], float]:
    """The points with coordinates projected into the drawing (equirectangular, east to the right, north up, one
    scale for both axes) and the drawing's km per unit."""
    located = [p for p in points if p.latitude is not None and p.longitude is not None]
    if not located:
        return [], 0.0
    lats = [float(p.latitude or 0) for p in located]
    lons = [float(p.longitude or 0) for p in located]
    shrink = math.cos(math.radians(sum(lats) / len(lats)))  # a degree of longitude is shorter away from the equator
    span_x = (max(lons) - min(lons)) * shrink
    span_y = max(lats) - min(lats)
    usable_w, usable_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    scale = min(usable_w / span_x if span_x else math.inf, usable_h / span_y if span_y else math.inf)
    if math.isinf(scale):  # one place only: draw it in the middle
        return [Placed(p, WIDTH / 2, HEIGHT / 2) for p in located], 0.0
    off_x = PAD + (usable_w - span_x * scale) / 2
    off_y = PAD + (usable_h - span_y * scale) / 2
    placed = [
        Placed(
            p,
            off_x + (float(p.longitude or 0) - min(lons)) * shrink * scale,
            off_y + (max(lats) - float(p.latitude or 0)) * scale,
        )
        for p in located
    ]
    return placed, KM_PER_DEGREE / scale


RADIUS = 7
LABEL_H = 12  # the label's height in drawing units (12 px type)
CHAR_W = 7.5  # an average character of the label, for the box it takes


def _box(x: float, y: float, anchor: str, text: str) -> tuple[float, float, float, float]:
    width = CHAR_W * len(text)
    left = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
    return left, y - LABEL_H + 2, left + width, y + 2


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def label_places(placed: list[Placed]) -> list[tuple[float, float, str]]:
    """Where each point's code goes (x, baseline y, text-anchor): beside its circle, or further out when that
    place is taken by another label or circle, so codes in a crowded town centre stay readable."""
    taken = [(s.x - RADIUS, s.y - RADIUS, s.x + RADIUS, s.y + RADIUS) for s in placed]
    out = []
    for spot in placed:
        code = spot.point.code
        candidates = []
        for reach in (RADIUS + 4, RADIUS + 18, RADIUS + 34, RADIUS + 52):
            candidates += [
                (spot.x + reach, spot.y + 4, "start"),
                (spot.x - reach, spot.y + 4, "end"),
                (spot.x, spot.y - reach + 2, "middle"),
                (spot.x, spot.y + reach + LABEL_H - 2, "middle"),
                (spot.x + reach * 0.8, spot.y - reach * 0.6, "start"),
                (spot.x - reach * 0.8, spot.y - reach * 0.6, "end"),
                (spot.x + reach * 0.8, spot.y + reach * 0.8 + 6, "start"),
                (spot.x - reach * 0.8, spot.y + reach * 0.8 + 6, "end"),
            ]
        inside = [c for c in candidates if _fits(_box(*c, code))]
        free = [c for c in inside if not any(_overlaps(_box(*c, code), t) for t in taken)]
        choice = (free or inside or candidates)[0]
        taken.append(_box(*choice, code))
        out.append(choice)
    return out


def _fits(box: tuple[float, float, float, float]) -> bool:
    return box[0] >= 4 and box[1] >= 4 and box[2] <= WIDTH - 4 and box[3] <= HEIGHT - 18


def _scale_bar(km_per_unit: float) -> str:
    """A bar of a round number of km about a quarter of the width, bottom left."""
    if not km_per_unit:
        return ""
    target = km_per_unit * WIDTH / 4
    steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500]
    km = min(steps, key=lambda s: abs(math.log(s / target)))
    length = km / km_per_unit
    label = f"{km:g} km"
    y = HEIGHT - 8
    return (
        f'<path d="M8 {y - 4}V{y}H{8 + length:.1f}V{y - 4}" fill="none" stroke="#1d2433" stroke-width="1.5"/>'
        f'<text x="{12 + length:.1f}" y="{y}" class="map-scale">{label}</text>'
    )


def point_map(points: list[PointStatus], lang: str, title: str) -> Markup:
    """The map: a circle per point with coordinates, coloured by its recent results, labelled with its code."""
    placed, km_per_unit = place(points)
    parts = [
        f'<svg class="point-map" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0.5" y="0.5" width="{WIDTH - 1}" height="{HEIGHT - 1}" rx="6" fill="#f3f6f9" stroke="#b8c0cc"/>',
        f'<text x="{WIDTH - 14}" y="20" class="map-north" text-anchor="middle">N</text>'
        f'<path d="M{WIDTH - 14} 24l-4 9h8z" fill="#1d2433"/>',
    ]
    # A point with a suspected positive is labelled first (it gets the nearest free place) and drawn last (on top),
    # so in a crowded town centre it is never hidden under its neighbours.
    rank = {"positive": 0, "negative": 1, "none": 2}
    placed = sorted(placed, key=lambda s: (rank[status_of(s.point)], s.point.code))
    labels = label_places(placed)
    for spot, (lx, ly, anchor) in reversed(list(zip(placed, labels, strict=True))):
        p = spot.point
        status = status_of(p)
        name = localized(lang, p.name_zh, p.name_en)
        leader = ""
        if math.hypot(lx - spot.x, ly - 4 - spot.y) > 2 * RADIUS + 8:  # a label pushed away keeps a line to its point
            leader = f'<path d="M{spot.x:.1f} {spot.y:.1f}L{lx:.1f} {ly - 4:.1f}" stroke="#5b6472" stroke-width="1"/>'
        parts.append(
            f'<g class="map-point {status}" data-point="{escape(p.code)}">'
            f"<title>{escape(p.code)} {escape(name)}: {p.positive}/{p.tested}</title>{leader}"
            f'<circle cx="{spot.x:.1f}" cy="{spot.y:.1f}" r="{RADIUS}" fill="{COLOURS[status]}" '
            'stroke="#fff" stroke-width="2"/>'
            f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}" class="map-label">'
            f"{escape(p.code)}</text></g>"
        )
    parts.append(_scale_bar(km_per_unit))
    parts.append("</svg>")
    return Markup("".join(parts))
