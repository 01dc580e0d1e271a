"""Sample labels: Code 128 id + QR URL + text, as PNG, SVG, an A4 PDF sheet, or ZPL for Zebra printers."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from xml.sax.saxutils import escape

import barcode
import segno
from PIL import Image, ImageDraw, ImageFont

from barcodes.fonts import cjk_font_path, latin_font_path

__all__ = [
    "FORMATS",
    "LABEL_SIZE_MM",
    "LabelData",
    "LabelError",
    "render_image",
    "render_label",
    "render_pdf_sheet",
    "render_png",
    "render_svg",
    "render_zpl",
]


class LabelFormat(StrEnum):
    """The file formats a label can be written in."""

    PNG = "png"
    SVG = "svg"
    PDF = "pdf"
    ZPL = "zpl"


FORMATS: tuple[LabelFormat, ...] = tuple(LabelFormat)
LABEL_SIZE_MM = (60.0, 40.0)
MAX_ID_LENGTH = 12
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_.]*")
_A4_MM = (210.0, 297.0)

# Layout in millimetres on a 60 x 40 mm label: (x, y, width, height).
_BARCODE_BOX = (3.0, 2.0, 54.0, 11.0)
_QR_BOX = (2.0, 14.5, 24.0, 24.0)
_TEXT_X = 27.5
_TEXT_LINES_Y = (15.5, 22.0, 27.0, 32.0)
_TEXT_SIZES_MM = (4.2, 3.2, 3.2, 3.2)


class LabelError(ValueError):
    """Label data that cannot be printed reliably; the message says what to change."""


@dataclass(frozen=True)
class LabelData:
    """What goes on one sample label."""

    sample_id: str
    url: str
    point: str = ""
    date: str = ""
    items: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not (0 < len(self.sample_id) <= MAX_ID_LENGTH) or not _ID_PATTERN.fullmatch(self.sample_id):
            raise LabelError(
                f"sample id {self.sample_id!r} must be 1–{MAX_ID_LENGTH} characters of A–Z, a–z, 0–9, '-', '_', '.'"
            )
        if not self.url.isascii() or not self.url.isprintable() or any(c in self.url for c in "^~ "):
            raise LabelError("URL must be printable ASCII without spaces, '^' or '~' (percent-encode them)")
        if not self.url:
            raise LabelError("URL is empty")

    @property
    def text_lines(self) -> tuple[str, str, str, str]:
        """Human-readable lines: id, point, date, item codes."""
        return (self.sample_id, self.point, self.date, " ".join(self.items))


def _code128_modules(text: str) -> str:
    return str(barcode.get("code128", text).build()[0])


def _qr_matrix(url: str) -> list[list[bool]]:
    qr = segno.make(url, error="m", micro=False)
    return [[bool(v) for v in row] for row in qr.matrix]


_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@cache
def _font(size_px: int, font_path: str | None, latin: bool = False) -> _Font:
    path = latin_font_path() if latin else cjk_font_path(font_path)
    if path is None:
        return ImageFont.load_default(size=size_px)
    return ImageFont.truetype(path, size_px)


def _runs(text: str) -> list[tuple[str, bool]]:
    """Split text into runs of ASCII (Latin font) and other characters (CJK font)."""
    return [(m.group(0), m.group(0).isascii()) for m in re.finditer(r"[\x00-\x7f]+|[^\x00-\x7f]+", text)]


def _draw_text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, size_px: int, font_path: str | None) -> int:
    """Draw mixed Latin/Chinese text on one baseline; returns the width used."""
    x, y = xy
    for run, latin in _runs(text):
        font = _font(size_px, font_path, latin)
        draw.text((x, y + size_px), run, fill=0, font=font, anchor="ls")
        x += round(font.getlength(run))
    return x - xy[0]


# --------------------------------------------------------------------------- raster


def render_image(label: LabelData, dpi: int = 300, font_path: str | None = None) -> Image.Image:
    """The label as a 1-bit-looking grayscale Pillow image at ``dpi``."""
    px = dpi / 25.4
    width, height = (round(v * px) for v in LABEL_SIZE_MM)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    modules = _code128_modules(label.sample_id)
    bx, by, bw, bh = (v * px for v in _BARCODE_BOX)
    module_w = max(1, int(bw / len(modules)))
    x0 = round(bx + (bw - module_w * len(modules)) / 2)
    for i, bit in enumerate(modules):
        if bit == "1":
            draw.rectangle((x0 + i * module_w, round(by), x0 + (i + 1) * module_w - 1, round(by + bh)), fill=0)
    matrix = _qr_matrix(label.url)
    qx, qy, qw, _ = (v * px for v in _QR_BOX)
    cell = max(1, int(qw / (len(matrix) + 4)))
    ox, oy = round(qx) + 2 * cell, round(qy) + 2 * cell
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                draw.rectangle((ox + c * cell, oy + r * cell, ox + (c + 1) * cell - 1, oy + (r + 1) * cell - 1), fill=0)
    for text, y_mm, size_mm in zip(label.text_lines, _TEXT_LINES_Y, _TEXT_SIZES_MM, strict=True):
        if text:
            _draw_text(draw, (round(_TEXT_X * px), round(y_mm * px)), text, round(size_mm * px), font_path)
    return img


def render_png(label: LabelData, dpi: int = 300, font_path: str | None = None) -> bytes:
    """PNG bytes of one label."""
    buf = io.BytesIO()
    render_image(label, dpi, font_path).save(buf, format="PNG", dpi=(dpi, dpi))
    return buf.getvalue()


def render_pdf_sheet(
    labels: Sequence[LabelData], columns: int = 3, rows: int = 7, dpi: int = 300, font_path: str | None = None
) -> bytes:
    """A4 PDF with labels on a grid (``columns`` × ``rows`` per page, more pages as needed)."""
    if not labels:
        raise LabelError("no labels to print")
    px = dpi / 25.4
    page_w, page_h = (round(v * px) for v in _A4_MM)
    lw, lh = (round(v * px) for v in LABEL_SIZE_MM)
    margin_x = (page_w - columns * lw) // (columns + 1)
    margin_y = (page_h - rows * lh) // (rows + 1)
    if margin_x < 0 or margin_y < 0:
        raise LabelError(f"{columns} × {rows} labels of {LABEL_SIZE_MM} mm do not fit on A4")
    pages: list[Image.Image] = []
    per_page = columns * rows
    for start in range(0, len(labels), per_page):
        page = Image.new("L", (page_w, page_h), 255)
        for k, label in enumerate(labels[start : start + per_page]):
            r, c = divmod(k, columns)
            x = margin_x + c * (lw + margin_x)
            y = margin_y + r * (lh + margin_y)
            page.paste(render_image(label, dpi, font_path), (x, y))
        pages.append(page)
    buf = io.BytesIO()
    pages[0].save(buf, format="PDF", resolution=float(dpi), save_all=True, append_images=pages[1:])
    return buf.getvalue()


# --------------------------------------------------------------------------- vector


def render_svg(label: LabelData) -> str:
    """SVG of one label in millimetres (bars and QR modules as shapes, text as text)."""
    w, h = LABEL_SIZE_MM
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}mm" height="{h}mm" viewBox="0 0 {w} {h}">',
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="#fff"/>',
    ]
    modules = _code128_modules(label.sample_id)
    bx, by, bw, bh = _BARCODE_BOX
    mw = bw / len(modules)
    bars = []
    i = 0
    while i < len(modules):
        if modules[i] == "1":
            j = i
            while j < len(modules) and modules[j] == "1":
                j += 1
            bars.append(f"M{bx + i * mw:.4f} {by}h{(j - i) * mw:.4f}v{bh}h{-(j - i) * mw:.4f}z")
            i = j
        else:
            i += 1
    parts.append(f'<path d="{"".join(bars)}" fill="#000"/>')
    matrix = _qr_matrix(label.url)
    qx, qy, qw, _ = _QR_BOX
    cell = qw / (len(matrix) + 4)
    cells = [
        f"M{qx + (c + 2) * cell:.4f} {qy + (r + 2) * cell:.4f}h{cell:.4f}v{cell:.4f}h{-cell:.4f}z"
        for r, row in enumerate(matrix)
        for c, dark in enumerate(row)
        if dark
    ]
    parts.append(f'<path d="{"".join(cells)}" fill="#000"/>')
    for text, y_mm, size_mm in zip(label.text_lines, _TEXT_LINES_Y, _TEXT_SIZES_MM, strict=True):
        if text:
            parts.append(
                f'<text x="{_TEXT_X}" y="{y_mm + size_mm:.2f}" font-size="{size_mm}" '
                f'font-family="Noto Sans CJK SC, Droid Sans Fallback, sans-serif">{escape(text)}</text>'
            )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- ZPL


def _zpl_text_graphic(text: str, height_dots: int, font_path: str | None) -> str:
    """``^GFA`` graphic field of ``text`` (for characters the printer's fonts lack, e.g. Chinese)."""
    probe = ImageDraw.Draw(Image.new("L", (1, 1), 255))
    width = max(8, _draw_text(probe, (0, 0), text, height_dots, font_path) + 2)
    height = round(height_dots * 1.3)
    img = Image.new("L", (width, height), 255)
    _draw_text(ImageDraw.Draw(img), (1, 0), text, height_dots, font_path)
    bytes_per_row = (width + 7) // 8
    mono = img.point(lambda v: 0 if v < 128 else 255).convert("1")
    rows = []
    for y in range(height):
        bits = 0
        row = bytearray()
        for x in range(bytes_per_row * 8):
            dark = x < width and mono.getpixel((x, y)) == 0
            bits = (bits << 1) | int(dark)
            if x % 8 == 7:
                row.append(bits)
                bits = 0
        rows.append(row.hex().upper())
    total = bytes_per_row * height
    return f"^GFA,{total},{total},{bytes_per_row},{''.join(rows)}"


_ZPL_HEX_ESCAPES = {"_": "_5F", "^": "_5E", "~": "_7E"}


def _zpl_field(x: int, y: int, text: str, height: int, font_path: str | None) -> str:
    if text.isascii():
        if any(c in _ZPL_HEX_ESCAPES for c in text):  # ^FH: field data with _hh escapes
            escaped = "".join(_ZPL_HEX_ESCAPES.get(c, c) for c in text)
            return f"^FO{x},{y}^A0N,{height},{height}^FH^FD{escaped}^FS"
        return f"^FO{x},{y}^A0N,{height},{height}^FD{text}^FS"
    return f"^FO{x},{y}{_zpl_text_graphic(text, height, font_path)}^FS"


def render_zpl(label: LabelData, dpmm: int = 8, font_path: str | None = None) -> str:
    """ZPL II for one label on a Zebra-compatible printer (``dpmm`` 8 = 203 dpi, 12 = 300 dpi)."""

    def d(mm: float) -> int:
        """Millimetres to printer dots."""
        return round(mm * dpmm)

    bx, by, _, bh = _BARCODE_BOX
    qx, qy, qw, _ = _QR_BOX
    qr_modules = len(_qr_matrix(label.url))
    magnification = max(1, min(10, d(qw) // (qr_modules + 4)))
    lines = [
        "^XA",
        "^CI28",
        f"^PW{d(LABEL_SIZE_MM[0])}",
        f"^LL{d(LABEL_SIZE_MM[1])}",
        "^LH0,0",
        f"^FO{d(bx)},{d(by)}^BY2,3,{d(bh)}^BCN,{d(bh)},N,N,N^FD{label.sample_id}^FS",
        f"^FO{d(qx)},{d(qy)}^BQN,2,{magnification}^FDMA,{label.url}^FS",
    ]
    for text, y_mm, size_mm in zip(label.text_lines, _TEXT_LINES_Y, _TEXT_SIZES_MM, strict=True):
        if text:
            lines.append(_zpl_field(d(_TEXT_X), d(y_mm), text, d(size_mm), font_path))
    lines.append("^PQ1")
    lines.append("^XZ")
    return "\n".join(lines) + "\n"


def render_label(label: LabelData, fmt: LabelFormat | str, font_path: str | None = None) -> bytes:
    """One label in ``fmt`` ("png", "svg", "pdf" or "zpl") as bytes ready to write to a file."""
    renderers: dict[str, Callable[[], bytes]] = {
        LabelFormat.PNG: lambda: render_png(label, font_path=font_path),
        LabelFormat.SVG: lambda: render_svg(label).encode("utf-8"),
        LabelFormat.PDF: lambda: render_pdf_sheet([label], font_path=font_path),
        LabelFormat.ZPL: lambda: render_zpl(label, font_path=font_path).encode("utf-8"),
    }
    if fmt in renderers:
        return renderers[fmt]()
    raise LabelError(f"unknown label format {fmt!r}; choose one of {', '.join(FORMATS)}")
