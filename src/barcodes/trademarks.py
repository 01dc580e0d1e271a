"""Trademark registry rows and fuzzy search by Chinese characters, pinyin reading and glyph shape."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from rapidfuzz import fuzz

from barcodes.fonts import cjk_font_path
from barcodes.products import RejectedRow

__all__ = [
    "KNOCKOFF_THRESHOLD",
    "STATUSES",
    "MarkMatch",
    "Trademark",
    "load_sample_trademarks",
    "marks_of_owner",
    "normalise_company",
    "parse_trademarks_csv",
    "search_marks",
]

STATUSES = ("registered", "pending", "expired", "cancelled", "invalidated")
KNOCKOFF_THRESHOLD = 80.0
_GLYPH_PX = 32
_GLYPH_BASELINE = 0.55
# Company-name noise removed before comparing owners: legal forms and brackets.
_COMPANY_NOISE = re.compile(r"[（）()\s·,.，]|股份有限公司|有限责任公司|有限公司|集团|控股|株式会社|公司|inc|ltd|co")


@dataclass(frozen=True)
class Trademark:
    """A registered (or once registered) trademark."""

    registration_no: str
    mark: str
    owner: str
    classes: tuple[int, ...] = field(default=())
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    status: str = "registered"

    def in_force(self, on: dt.date) -> bool:
        """Registered and within its validity period on ``on``."""
        if self.status != "registered":
            return False
        if self.valid_from and on < self.valid_from:
            return False
        return not (self.valid_to and on > self.valid_to)


@dataclass(frozen=True)
class MarkMatch:
    """A search hit: overall score (0–100) and its parts by characters, reading and glyph shape."""

    mark: Trademark
    score: float
    chars: float
    sound: float
    shape: float

    @property
    def exact(self) -> bool:
        """The query is this mark's text."""
        return self.chars >= 100.0


def _date(text: str) -> dt.date | None:
    text = text.strip()
    return dt.date.fromisoformat(text) if text else None


def parse_trademarks_csv(lines: Iterable[str]) -> Iterator[Trademark | RejectedRow]:
    """Trademarks from CSV (registration_no, mark, owner, classes ``30;32``, valid_from, valid_to, status)."""
    reader = csv.DictReader(lines)
    seen: set[str] = set()
    for row in reader:
        n = reader.line_num
        reg = (row.get("registration_no") or "").strip()
        mark = (row.get("mark") or "").strip()
        status = (row.get("status") or "registered").strip().lower()
        if not reg or not mark:
            yield RejectedRow(n, reg, "missing registration number or mark")
            continue
        if reg in seen:
            yield RejectedRow(n, reg, "duplicate registration number")
            continue
        if status not in STATUSES:
            yield RejectedRow(n, reg, f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
            continue
        try:
            classes = tuple(int(c) for c in re.split(r"[;,\s]+", row.get("classes") or "") if c)
            valid_from, valid_to = _date(row.get("valid_from") or ""), _date(row.get("valid_to") or "")
        except ValueError as exc:
            yield RejectedRow(n, reg, f"bad class or date: {exc}")
            continue
        if any(not 1 <= c <= 45 for c in classes):
            yield RejectedRow(n, reg, "Nice classes are 1–45")
            continue
        if valid_from and valid_to and valid_to < valid_from:
            yield RejectedRow(n, reg, "validity ends before it starts")
            continue
        seen.add(reg)
        yield Trademark(reg, mark, (row.get("owner") or "").strip(), classes, valid_from, valid_to, status)


def load_sample_trademarks() -> list[Trademark]:
    """The illustrative trademark list shipped for the demo."""
    text = resources.files("barcodes").joinpath("data", "sample_trademarks.csv").read_text(encoding="utf-8")
    return [t for t in parse_trademarks_csv(text.splitlines()) if isinstance(t, Trademark)]


# --------------------------------------------------------------------------- similarity


def _reading(text: str) -> str:
    from pypinyin import lazy_pinyin  # its dictionaries take a second to load: only when a mark is compared

    return "".join(lazy_pinyin(text)).lower().replace(" ", "")


@cache
def _glyph_font() -> ImageFont.FreeTypeFont | None:
    path = cjk_font_path()
    return ImageFont.truetype(path, _GLYPH_PX) if path else None


@lru_cache(maxsize=8192)  # a mark may hold any character; the common CJK ones stay, a flood of rare ones is bounded
def _glyph(ch: str) -> np.ndarray | None:
    font = _glyph_font()
    if font is None:
        return None
    img = Image.new("L", (_GLYPH_PX, _GLYPH_PX), 0)
    ImageDraw.Draw(img).text((0, 0), ch, fill=255, font=font)
    # Thicken strokes slightly so near-identical glyphs overlap despite thin lines.
    arr = np.asarray(img.filter(ImageFilter.MaxFilter(3))) > 96
    return arr if arr.any() else None


def _glyph_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    ga, gb = _glyph(a), _glyph(b)
    if ga is None or gb is None:
        return 0.0
    union = np.logical_or(ga, gb).sum()
    iou = float(np.logical_and(ga, gb).sum() / union) if union else 0.0
    # Unrelated glyphs of the same size already overlap a lot; only overlap above that counts.
    return max(0.0, (iou - _GLYPH_BASELINE) / (1.0 - _GLYPH_BASELINE))


def _shape(query: str, mark: str) -> float:
    """Position-by-position glyph overlap for equal-length marks (catches 雷碧/雪碧, 大白免/大白兔)."""
    if len(query) != len(mark) or query.isascii():
        return 0.0
    return 100.0 * sum(_glyph_similarity(a, b) for a, b in zip(query, mark, strict=True)) / len(mark)


def _match(query: str, mark: Trademark) -> MarkMatch:
    chars = fuzz.ratio(query, mark.mark)
    sound = fuzz.ratio(_reading(query), _reading(mark.mark))
    shape = _shape(query, mark.mark)
    # A pinyin query is compared by reading only; otherwise sharing characters confirms a sound or
    # shape likeness, and any one signal alone must be strong.
    likeness = max(chars, 0.8 * sound + 0.2 * chars, 0.8 * shape + 0.2 * chars)
    score = sound if query.isascii() else likeness
    return MarkMatch(mark, round(score, 1), round(chars, 1), round(sound, 1), round(shape, 1))


def search_marks(
    query: str,
    marks: Sequence[Trademark],
    *,
    limit: int = 10,
    min_score: float = 60.0,
    nice_class: int | None = None,
) -> list[MarkMatch]:
    """Marks like ``query`` (Chinese or pinyin), best first; exact and near-identical knock-offs rank top."""
    q = "".join(query.split())
    if not q:
        return []
    if q.isascii():
        q = q.lower()
    pool = [m for m in marks if nice_class is None or nice_class in m.classes]
    hits = [_match(q, m) for m in pool]
    hits = [h for h in hits if h.score >= min_score]
    hits.sort(key=lambda h: (-h.score, -h.chars, h.mark.registration_no))
    return hits[:limit]


def normalise_company(name: str) -> str:
    """Company name without legal-form words, brackets and spaces, for comparing owners."""
    return _COMPANY_NOISE.sub("", name.lower())


def marks_of_owner(owner: str, marks: Sequence[Trademark], min_score: float = 90.0) -> list[Trademark]:
    """Marks whose owner is this company (legal-form words ignored, small spelling differences allowed)."""
    key = normalise_company(owner)
    if not key:
        return []
    return [m for m in marks if fuzz.ratio(key, normalise_company(m.owner)) >= min_score]
