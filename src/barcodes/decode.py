"""Read barcodes from photos: zxing-cpp first, pyzbar second, cheap retries only when nothing is found."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp
from pyzbar import pyzbar

from barcodes.gs1 import CodeError, parse_element_string, parse_gtin, upce_to_upca
from barcodes.imageio import ImageError, ImageInput, load_gray
from barcodes.messages import Message

__all__ = ["SYMBOLOGIES", "Decoded", "ImageError", "decode", "decode_gray"]

Gray = npt.NDArray[Any]
Point = tuple[int, int]
Affine = npt.NDArray[np.float64]

_F = zxingcpp.BarcodeFormat
# zxing-cpp format -> our symbology name; only these formats are read at all.
_ZXING_READ_FORMATS = zxingcpp.BarcodeFormats(
    (_F.EAN13, _F.EAN8, _F.UPCA, _F.UPCE, _F.Code128, _F.QRCodeModel2, _F.QRCodeModel1, _F.DataMatrix)
)
_ZXING_FORMATS: dict[Any, str] = {
    _F.QRCode: "QR Code",
    _F.EAN13: "EAN-13",
    _F.EAN8: "EAN-8",
    _F.UPCA: "UPC-A",
    _F.UPCE: "UPC-E",
    _F.Code128: "Code 128",
    _F.QRCodeModel2: "QR Code",
    _F.QRCodeModel1: "QR Code",
    _F.DataMatrix: "Data Matrix",
}
_ZBAR_FORMATS: dict[str, str] = {
    "EAN13": "EAN-13",
    "EAN8": "EAN-8",
    "UPCA": "UPC-A",
    "CODE128": "Code 128",
    "QRCODE": "QR Code",
}
SYMBOLOGIES = tuple(sorted(set(_ZXING_FORMATS.values())))
_ZBAR_SYMBOLS = [pyzbar.ZBarSymbol[name] for name in _ZBAR_FORMATS]
_ZBAR_LINEAR = [pyzbar.ZBarSymbol[name] for name in _ZBAR_FORMATS if name != "QRCODE"]
_LINEAR_FORMATS = zxingcpp.BarcodeFormats((_F.EAN13, _F.EAN8, _F.UPCA, _F.UPCE, _F.Code128))
_MATRIX = frozenset({"QR Code", "Data Matrix"})
_LINEAR = frozenset({"EAN-13", "EAN-8", "UPC-A", "UPC-E", "Code 128"})
_SHORT_LINEAR = frozenset({"EAN-8", "UPC-E"})  # short enough to fit inside a longer code's bars
# Symbology identifiers (ISO/IEC 15424) that announce GS1 data or an ECI-declared character set.
_GS1_IDS = frozenset({"]C1", "]d2", "]d5", "]Q3", "]Q4"})
_ECI_IDS = frozenset({"]Q2", "]Q4", "]Q6", "]d4", "]d5", "]d6"})
_MIN_SIDE_FOR_UPSCALE = 400
_ZBAR_SIDE = 1024
_BAR_COHERENCE = 0.6  # structure-tensor coherence above which a crop looks like parallel bars
_MAX_PIXELS_FIRST_PASS = 16_000_000  # a 12 MP phone photo is read at full resolution
_MAX_SIDE_FOR_FULL_PASSES = 2400
# Finding bar codes at any angle: the image is searched at this size, with a tensor window this wide;
# a candidate needs parallel edges over this share of the image, and at most this many are read.
_FINDER_SIDE = 800
_FINDER_WINDOW = 9
_FINDER_COHERENCE = 0.7
_FINDER_ALTERNATION = 0.4
_FINDER_MIN_ENERGY = 2000.0
_FINDER_MIN_AREA = 0.001
_MAX_CANDIDATES = 6
_MAX_CANDIDATES_SMALL = 1  # a small image is a crop of one code: each finder's largest place is that code
_REFINE_DEG = 1.5  # an upright crop whose bars still lean more than this is turned again
# A candidate this many times longer than tall has a trustworthy axis; when that axis is off the bars'
# normal by up to this much (perspective), its upright view is sheared so the axis runs level.
_LEAN_MIN_ASPECT = 2.5
_MAX_LEAN_DEG = 20.0
# A run of bars: columns whose edge strength is over this share of the read's strongest, joined
# across gaps narrower than this many modules (EAN/UPC bars and spaces are at most 4 wide).
_EDGE_SHARE = 0.25
_QUIET_MODULES = 5.5
# Half an EAN-13 or UPC-A decodes as a UPC-E, even with a damaged gap beside it: the bars must stand
# clear of others for more than a whole digit pattern plus guards.
_FRAGMENT_GAP_MODULES = {"UPC-E": 14.0}
_UPRIGHT_LENGTH = 420  # a short candidate is enlarged to about this length before reading
_BAND_SHARE, _MIN_BAND = 0.4, 48  # upright views are at most this share of their width tall
_MAX_SLANT_DEG = 12.0  # a first-pass scan line further than this off the bars' normal is checked upright
_MIN_PIXELS_FOR_SECOND_CODE = 1_000_000  # below this, a read ends the search (a crop or a scan of one code)


@dataclass(frozen=True)
class Decoded:
    """One barcode read from an image; ``corners`` are four (x, y) points in the input image.

    ``text`` is what a scanner would send: the GTIN for EAN/UPC (UPC-A and UPC-E as 12 digits, UPC-E
    expanded), the element string with GS (0x1D) separators for GS1 symbols, otherwise the content
    decoded from ``raw`` (ECI when declared, else UTF-8, else GB 18030 for QR / Data Matrix).
    ``gs1_problem`` says why a symbol flagged as GS1 holds content that breaks GS1 syntax (``gs1_error``
    in English).
    """

    symbology: str
    text: str
    raw: bytes
    corners: tuple[Point, ...]
    gs1: bool = False
    symbology_identifier: str = ""
    decoder: str = "zxing-cpp"
    gs1_problem: Message | None = None

    @property
    def gs1_error(self) -> str:
        """Why the GS1 content breaks GS1 syntax, in English ('' when it does not)."""
        return self.gs1_problem.english() if self.gs1_problem else ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (raw bytes as hex)."""
        return {
            "symbology": self.symbology,
            "text": self.text,
            "gs1": self.gs1,
            "symbology_identifier": self.symbology_identifier,
            "raw_hex": self.raw.hex(),
            "corners": [list(p) for p in self.corners],
            "decoder": self.decoder,
            "gs1_error": self.gs1_error,
        }


@dataclass(frozen=True)
class _View:
    image: Gray
    to_source: Affine  # 2x3 affine mapping view pixels to input pixels


def _identity() -> Affine:
    return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _map(points: list[tuple[float, float]], affine: Affine) -> tuple[Point, ...]:
    pts = np.array([[x, y, 1.0] for x, y in points]) @ affine.T
    return tuple((round(float(x)), round(float(y))) for x, y in pts)


# --------------------------------------------------------------------------- text and validation


def _text_from_bytes(raw: bytes, zxing_text: str, sid: str) -> str:
    """Read GB 18030 where the decoder fell back to Latin-1 for undeclared multi-byte text."""
    if sid in _ECI_IDS or not raw or raw.isascii() or zxing_text != raw.decode("latin-1"):
        return zxing_text
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return zxing_text


def _upce_as_gtin12(text: str) -> str:
    """UPC-E as the 12-digit UPC-A it stands for (decoders give 8 digits or the 13-digit form)."""
    try:
        return upce_to_upca(text) if len(text) == 8 else text[-12:]
    except CodeError:
        return ""


def _valid(symbology: str, text: str) -> bool:
    """Check digits: an EAN/UPC read that fails them is a misread and is dropped."""
    if symbology in ("EAN-13", "EAN-8", "UPC-A", "UPC-E"):
        try:
            parse_gtin(text)
        except CodeError:
            return False
    return True


def _gs1_problem(text: str, gs1: bool) -> Message | None:
    """Why a GS1 symbol's content breaks GS1 syntax (None when it does not, or is not GS1).

    The symbol's own checksum (Code 128, Reed-Solomon) vouches for the read, so bad content is reported
    with the code rather than hidden: a consumer learns the code is malformed instead of retrying."""
    if not gs1:
        return None
    try:
        parse_element_string(text)
    except CodeError as exc:
        return exc.message
    return None


# --------------------------------------------------------------------------- decoders


def _zxing(view: _View, formats: Any = _ZXING_READ_FORMATS, **options: Any) -> list[Decoded]:
    out = []
    for r in zxingcpp.read_barcodes(view.image, formats=formats, text_mode=zxingcpp.TextMode.Plain, **options):
        symbology = _ZXING_FORMATS.get(r.format)
        if symbology is None or not r.valid:
            continue
        sid = r.symbology_identifier
        gs1 = sid in _GS1_IDS
        raw = bytes(r.bytes)
        if symbology == "EAN-13" and raw.startswith(b"0") and len(raw) == 13:
            symbology, raw = "UPC-A", raw[1:]
            r_text = raw.decode()
        else:
            r_text = r.text
        text = _text_from_bytes(raw, r_text, sid) if symbology in _MATRIX and not gs1 else r_text
        if symbology == "UPC-E":
            text = _upce_as_gtin12(text)
        if not _valid(symbology, text):
            continue
        pos = r.position
        corners = [(float(p.x), float(p.y)) for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)]
        out.append(
            Decoded(symbology, text, raw, _map(corners, view.to_source), gs1, sid, gs1_problem=_gs1_problem(text, gs1))
        )
    return out


def _zbar(view: _View, symbols: list[Any] = _ZBAR_SYMBOLS) -> list[Decoded]:
    out = []
    for r in pyzbar.decode(view.image, symbols=symbols):
        symbology = _ZBAR_FORMATS.get(r.type)
        raw = bytes(r.data)
        # A linear read seen on a single scan line is too weak to trust.
        if symbology is None or (symbology in _LINEAR and r.quality < 2):
            continue
        if symbology == "EAN-13" and raw.startswith(b"0"):
            symbology, raw = "UPC-A", raw[1:]
        gs1 = symbology == "Code 128" and raw.startswith(b"]C1")
        if gs1:
            raw = raw[3:]
        text = raw.decode("utf-8", "replace")
        if symbology in _MATRIX:
            text = _text_from_bytes(raw, raw.decode("latin-1"), "")
        if not _valid(symbology, text):
            continue
        corners = [(float(x), float(y)) for x, y in r.polygon] or [
            (r.rect.left, r.rect.top),
            (r.rect.left + r.rect.width, r.rect.top),
            (r.rect.left + r.rect.width, r.rect.top + r.rect.height),
            (r.rect.left, r.rect.top + r.rect.height),
        ]
        out.append(
            Decoded(symbology, text, raw, _map(corners, view.to_source), gs1, "", "zbar", _gs1_problem(text, gs1))
        )
    return out


# --------------------------------------------------------------------------- retry views


def _scaled(gray: Gray, factor: float) -> _View:
    interp = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
    img = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=interp)
    return _View(img, np.array([[1 / factor, 0.0, 0.0], [0.0, 1 / factor, 0.0]]))


def _working(gray: Gray) -> _View:
    side = max(gray.shape)
    if side > _MAX_SIDE_FOR_FULL_PASSES:
        return _scaled(gray, _MAX_SIDE_FOR_FULL_PASSES / side)
    return _View(gray, _identity())


def _clahe(view: _View) -> _View:
    """Local contrast equalisation: lifts codes out of shadow and flat light."""
    clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
    return _View(clahe.apply(view.image), view.to_source)


def _rotated(view: _View, degrees: float) -> _View:
    """The view turned by ``degrees`` (for bar codes at a diagonal, which scan lines miss)."""
    h, w = view.image.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    img = cv2.warpAffine(view.image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=255)
    inverse = cv2.invertAffineTransform(m)
    return _View(img, view.to_source @ np.vstack([inverse, [0.0, 0.0, 1.0]]))


def _sharpen(view: _View) -> _View:
    """Denoise lightly, then unsharp-mask: recovers blurred, noisy edges."""
    smooth = cv2.GaussianBlur(view.image, (0, 0), 1.0)
    blurred = cv2.GaussianBlur(smooth, (0, 0), 2.0)
    return _View(cv2.addWeighted(smooth, 2.0, blurred, -1.0, 0), view.to_source)


def _flatten(view: _View) -> _View:
    """Divide out uneven light and glare (background from a grey closing), then sharpen."""
    img = view.image
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (31, 31))
    background = cv2.morphologyEx(img, cv2.MORPH_CLOSE, kernel).astype(np.float32)
    flat = np.clip(img.astype(np.float32) / (background + 1.0) * 220.0, 0, 255).astype(np.uint8)
    return _sharpen(_View(flat, view.to_source))


def _upscale(view: _View) -> _View | None:
    if max(view.image.shape) >= _MIN_SIDE_FOR_UPSCALE:
        return None
    up = _scaled(view.image, 2.0)
    return _View(up.image, view.to_source @ np.vstack([up.to_source, [0.0, 0.0, 1.0]]))


def _regions(view: _View, limit: int = 3) -> Iterator[_View]:
    """Crops around high-gradient blobs (barcode candidates), enlarged when small."""
    img = view.image
    scale = 640 / max(img.shape)
    small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else img
    s = min(scale, 1.0)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    mag = cv2.convertScaleAbs(cv2.magnitude(gx, gy))
    mag = cv2.blur(mag, (9, 9))
    _, mask = cv2.threshold(mag, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15)))
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=2)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = sorted((cv2.boundingRect(c) for c in contours), key=lambda b: b[2] * b[3], reverse=True)
    h_img, w_img = img.shape
    for x, y, w, h in boxes[:limit]:
        if w * h < 0.002 * small.shape[0] * small.shape[1]:
            break
        if w * h > 0.8 * small.shape[0] * small.shape[1]:
            continue
        pad = int(0.25 * max(w, h))
        x0, y0 = max(0, int((x - pad) / s)), max(0, int((y - pad) / s))
        x1, y1 = min(w_img, int((x + w + pad) / s)), min(h_img, int((y + h + pad) / s))
        crop = img[y0:y1, x0:x1]
        factor = min(4.0, max(1.0, 600 / max(crop.shape)))
        shift = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
        base = view.to_source @ shift
        if factor > 1.0:
            up = _scaled(np.ascontiguousarray(crop), factor)
            yield _View(up.image, base @ np.vstack([up.to_source, [0.0, 0.0, 1.0]]))
        else:
            yield _View(np.ascontiguousarray(crop), base)


def _straightened(region: _View) -> list[_View]:
    """A bar-code-like crop (parallel edges) turned so bars stand upright, smoothed along the bars."""
    g = region.image.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    jxx, jyy, jxy = float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum())
    coherence = ((jxx - jyy) ** 2 + 4 * jxy**2) ** 0.5 / (jxx + jyy + 1e-6)
    if coherence < _BAR_COHERENCE:
        return []
    upright = _rotated(region, 0.5 * float(np.degrees(np.arctan2(2 * jxy, jxx - jyy))))
    return [_View(cv2.blur(upright.image, (1, k)), upright.to_source) for k in (9, 17)]


# --------------------------------------------------------------------------- any angle


@dataclass(frozen=True)
class _Candidate:
    """A place that looks like bars: its rotated box in input pixels and the direction across the bars."""

    box: tuple[tuple[float, float], tuple[float, float], float]  # cv2.RotatedRect: centre, size, angle
    across: float  # degrees of the bars' normal (the scan direction), in [-90, 90)

    def contains(self, d: Decoded) -> bool:
        """Whether a read's centre lies inside the box (a little enlarged)."""
        (cx, cy), (w, h), _ = self.box
        pts = cv2.boxPoints(((cx, cy), (w * 1.2 + 8, h * 1.2 + 8), self.box[2]))
        x = sum(p[0] for p in d.corners) / len(d.corners)
        y = sum(p[1] for p in d.corners) / len(d.corners)
        return cv2.pointPolygonTest(pts.astype(np.float32), (float(x), float(y)), False) >= 0

    def covers(self, other: _Candidate) -> bool:
        """Whether this box holds the other's centre and is about as large (the same place found twice)."""
        pts = cv2.boxPoints(self.box).astype(np.float32)
        (x, y), (w, h), _angle = other.box
        inside = cv2.pointPolygonTest(pts, (float(x), float(y)), False) >= 0
        return inside and self.box[1][0] * self.box[1][1] >= 0.5 * w * h


def _tensor_angle(jxx: float, jyy: float, jxy: float) -> float:
    return 0.5 * float(np.degrees(np.arctan2(2 * jxy, jxx - jyy)))


def _tensor_maps(gray: Gray) -> tuple[dict[str, Gray], float]:
    """Structure-tensor maps of the image at the finder's size, and that size's scale.

    Gradients are taken at up to twice the finder's size and their products averaged down, so bars
    finer than the finder's pixels still count. ``alternation`` is the mean gradient over the mean
    gradient length: near 0 where edges alternate (bars), near 1 at a single edge (a stripe, a box)."""
    pre_scale = min(1.0, 2 * _FINDER_SIDE / max(gray.shape))
    pre = cv2.resize(gray, None, fx=pre_scale, fy=pre_scale, interpolation=cv2.INTER_AREA) if pre_scale < 1 else gray
    g = pre.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    down = min(1.0, _FINDER_SIDE / max(pre.shape))
    size = (max(1, round(pre.shape[1] * down)), max(1, round(pre.shape[0] * down)))
    win = (_FINDER_WINDOW, _FINDER_WINDOW)
    maps = {
        name: cv2.blur(cv2.resize(m, size, interpolation=cv2.INTER_AREA), win)
        for name, m in (
            ("jxx", gx * gx),
            ("jyy", gy * gy),
            ("jxy", gx * gy),
            ("gx", gx),
            ("gy", gy),
            ("mag", cv2.magnitude(gx, gy)),
        )
    }
    energy = maps["jxx"] + maps["jyy"]
    maps["energy"] = energy
    maps["coherence"] = np.sqrt((maps["jxx"] - maps["jyy"]) ** 2 + 4 * maps["jxy"] ** 2) / (energy + 1e-6)
    maps["alternation"] = np.sqrt(maps["gx"] ** 2 + maps["gy"] ** 2) / (maps["mag"] + 1e-6)
    return maps, pre_scale * down


def _bars_mask(maps: dict[str, Gray]) -> npt.NDArray[np.uint8]:
    """Where the maps look like bars: strong, one-directional edges that alternate in sign."""
    energy = maps["energy"]
    floor = max(float(np.percentile(energy[::4, ::4], 60)), _FINDER_MIN_ENERGY)
    bars = (maps["coherence"] > _FINDER_COHERENCE) & (energy > floor) & (maps["alternation"] < _FINDER_ALTERNATION)
    opened = cv2.morphologyEx(bars.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    # Wide spaces and the digits' row split one code's bars; closing joins them into one place.
    closed = cv2.morphologyEx(opened, cv2.MORPH_CLOSE, np.ones((_FINDER_WINDOW, _FINDER_WINDOW), np.uint8))
    return np.asarray(closed, np.uint8)


def _across(maps: dict[str, Gray], where: npt.NDArray[np.bool_]) -> float:
    """The bars' normal (degrees) from the tensor summed where bars were seen."""
    jxx, jyy, jxy = (float(maps[k][where].sum()) for k in ("jxx", "jyy", "jxy"))
    return _tensor_angle(jxx, jyy, jxy)


def _tensor_candidates(maps: dict[str, Gray], mask: npt.NDArray[np.uint8], scale: float) -> list[_Candidate]:
    """Connected bar-like regions of the mask, largest first, as candidates in input pixels."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    order = sorted(range(1, count), key=lambda i: int(stats[i, cv2.CC_STAT_AREA]), reverse=True)
    min_area = _FINDER_MIN_AREA * mask.shape[0] * mask.shape[1]
    out = []
    for i in order[:_MAX_CANDIDATES]:
        if stats[i, cv2.CC_STAT_AREA] < min_area:
            break
        x, y, w, h = (int(v) for v in stats[i, :4])
        sub = labels[y : y + h, x : x + w] == i
        ys, xs = np.nonzero(sub)
        window = {k: v[y : y + h, x : x + w] for k, v in maps.items()}
        (cx, cy), (bw, bh), a = cv2.minAreaRect(np.column_stack([xs + x, ys + y]).astype(np.float32))
        box = ((float(cx) / scale, float(cy) / scale), (float(bw) / scale, float(bh) / scale), float(a))
        out.append(_Candidate(box, _across(window, sub)))
    return out


def _detector_candidates(
    gray: Gray, maps: dict[str, Gray], mask: npt.NDArray[np.uint8], scale: float
) -> list[_Candidate]:
    """OpenCV's barcode detector's boxes, each with the bars' normal measured inside it."""
    ok, boxes = cv2.barcode.BarcodeDetector().detectMulti(gray)
    if not ok or boxes is None:
        return []
    out = []
    for pts in boxes[:_MAX_CANDIDATES]:
        (cx, cy), (w, h), a = cv2.minAreaRect(pts.astype(np.float32))
        if min(w, h) < 4:
            continue
        rect = ((float(cx), float(cy)), (float(w), float(h)), float(a))
        inside = np.zeros(mask.shape, np.uint8)
        cv2.fillPoly(inside, [np.round(pts * scale).astype(np.int32)], 1)
        where = (inside > 0) & (mask > 0)
        if int(where.sum()) < 4:
            where = inside > 0
        out.append(_Candidate(rect, _across(maps, where)))
    return out


_Finder = tuple[dict[str, Gray], npt.NDArray[np.uint8], float]  # tensor maps, bars mask, scale


def _finder(gray: Gray) -> _Finder:
    """The tensor maps and bars mask both finders use (computed once per image)."""
    maps, scale = _tensor_maps(gray)
    return maps, _bars_mask(maps), scale


def _bar_candidates(
    gray: Gray, detector: bool = False, finder: _Finder | None = None, limit: int = _MAX_CANDIDATES
) -> list[_Candidate]:
    """Places that look like linear codes at any angle, at most ``limit``.

    Two finders: the structure tensor at a fine scale (small codes, short bars), or OpenCV's barcode
    detector. Text and pictures have edges in every direction and a stripe has a single edge; a bar
    code has many edges in one direction, alternating dark and light."""
    maps, mask, scale = finder or _finder(gray)
    found = _detector_candidates(gray, maps, mask, scale) if detector else _tensor_candidates(maps, mask, scale)
    out: list[_Candidate] = []
    for cand in found:
        if len(out) >= limit:
            break
        if not any(o.covers(cand) for o in out):
            out.append(cand)
    return out


def _axis_lean(cand: _Candidate) -> float:
    """Degrees between a long candidate's axis and its bars' normal (0 when they agree or it is not long).

    Under perspective the bars of a long code are not square to its axis: turned upright, the code runs
    uphill and a level scan line leaves it through the top of its bars before it has crossed them all."""
    _centre, (w, h), angle = cand.box
    if max(w, h) < _LEAN_MIN_ASPECT * max(1.0, min(w, h)):
        return 0.0
    axis = angle if w >= h else angle + 90.0
    lean = (axis - cand.across + 90.0) % 180.0 - 90.0
    if not _REFINE_DEG < abs(lean) <= _MAX_LEAN_DEG:
        return 0.0
    # While the code climbs less than half its height along its length, level rows still cross all
    # its bars, and a box's axis is no surer than that.
    climb = max(w, h) * math.tan(math.radians(abs(lean)))
    return lean if climb > 0.5 * min(w, h) else 0.0


def _upright(gray: Gray, cand: _Candidate) -> _View:
    """The candidate turned so its bars stand upright, with room for quiet zones, enlarged when small."""
    (cx, cy), _size, _angle = cand.box
    # Extent along and across the bars' normal, from the box's corners; with the view sheared so the
    # code's axis runs level, the height is measured across that axis.
    shear = math.tan(math.radians(_axis_lean(cand)))
    pts = cv2.boxPoints(cand.box) - np.array([cx, cy])
    t = np.radians(cand.across)
    along = pts @ np.array([np.cos(t), np.sin(t)])
    side = pts @ np.array([-np.sin(t), np.cos(t)]) - shear * along
    length, height = float(np.ptp(along)), float(np.ptp(side))
    f = max(1.0, min(3.0, _UPRIGHT_LENGTH / max(length, 1.0)))
    # Scan lines need only a band of the bars; a tall band costs time and lets perspective lean them.
    out_w = int((length * 1.4 + 16) * f)
    out_h = min(int((height * 1.1 + 8) * f), max(_MIN_BAND, int(_BAND_SHARE * out_w)))
    m = cv2.getRotationMatrix2D((cx, cy), cand.across, f)
    m[0, 2] += out_w / 2 - cx
    m[1, 2] += out_h / 2 - cy
    if shear:
        # Bars stay upright, rows follow the code's axis (y' = y - shear * (x - centre)).
        m = np.array([[1.0, 0.0, 0.0], [-shear, 1.0, shear * out_w / 2]]) @ np.vstack([m, [0.0, 0.0, 1.0]])
    img = cv2.warpAffine(gray, m, (out_w, out_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return _View(img, np.asarray(cv2.invertAffineTransform(m), dtype=np.float64))


def _residual_tilt(view: _View) -> float:
    """How far (degrees) the bars in an upright view still lean: the tensor over its strongest edges."""
    small = cv2.resize(view.image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA).astype(np.float32)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    energy = gx * gx + gy * gy
    strong = energy > float(np.percentile(energy[::2, ::2], 80))
    if int(strong.sum()) < 16:
        return 0.0
    return _tensor_angle(float((gx * gx)[strong].sum()), float((gy * gy)[strong].sum()), float((gx * gy)[strong].sum()))


def _whole_symbol(view: _View, d: Decoded) -> bool:
    """Whether an EAN/UPC read in an upright view spans the whole run of bars it lies in.

    Half an EAN-13 read backwards looks like a UPC-E, and an EAN-8 fits inside longer codes: a read
    that covers only part of the bars along its scan line is a fragment, not the code. The run of
    bars is the columns with edges, joined across gaps narrower than a quiet zone."""
    if d.symbology not in _LINEAR or d.symbology == "Code 128":
        return True
    to_view = cv2.invertAffineTransform(view.to_source)
    pts = np.array([[x, y, 1.0] for x, y in d.corners]) @ np.asarray(to_view).T
    x0, x1 = float(pts[:, 0].min()), float(pts[:, 0].max())
    module = max(1.0, (x1 - x0) / _modules(d.symbology))
    yc = float(pts[:, 1].mean())
    h, w = view.image.shape
    band = max(3.0, 4 * module)
    rows = view.image[max(0, int(yc - band)) : min(h, int(yc + band) + 1)].astype(np.float32)
    if rows.size == 0:
        return True
    profile = np.abs(cv2.Sobel(rows, cv2.CV_32F, 1, 0, ksize=3)).mean(axis=0)
    inside = profile[max(0, int(x0)) : min(w, int(x1) + 1)]
    if inside.size == 0:
        return True
    active = (profile > _EDGE_SHARE * float(np.percentile(inside, 90))).astype(np.uint8)[None, :]
    quiet = _FRAGMENT_GAP_MODULES.get(d.symbology, _QUIET_MODULES)
    gap = int(quiet * module) | 1
    joined = cv2.morphologyEx(active, cv2.MORPH_CLOSE, np.ones((1, gap), np.uint8))[0]
    centre = min(w - 1, max(0, int((x0 + x1) / 2)))
    lo, hi = centre, centre
    while lo > 0 and joined[lo - 1]:
        lo -= 1
    while hi < w - 1 and joined[hi + 1]:
        hi += 1
    return bool(hi - lo <= (x1 - x0) + 2 * quiet * module)


def _not_a_fragment(view: _View, d: Decoded) -> bool:
    """Whether a short code (UPC-E, EAN-8) read along a level scan line is not part of a longer code's bars.

    A first pass reads along rows: half an EAN-13 can come out as a UPC-E there, so such a read must span
    its whole run of bars, as the any-angle stage's reads must. Slanted reads are checked upright later."""
    if d.symbology not in _SHORT_LINEAR:
        return True
    (ax, ay), (bx, by) = d.corners[0], d.corners[1]
    slant = abs(math.degrees(math.atan2(by - ay, bx - ax))) % 180.0
    if min(slant, 180.0 - slant) > _MAX_SLANT_DEG:
        return True
    return _whole_symbol(view, d)


def _otsu(view: _View) -> _View:
    """The view thresholded at its own histogram's split (noise that defeats local binarizers)."""
    _, img = cv2.threshold(view.image, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return _View(img, view.to_source)


def _strip(view: _View, d: Decoded) -> _View:
    """The rows of an upright view around a read's scan line (a cheap place for a second decoder)."""
    to_view = np.asarray(cv2.invertAffineTransform(view.to_source))
    pts = np.array([[x, y, 1.0] for x, y in d.corners]) @ to_view.T
    half = max(12.0, 0.2 * float(np.ptp(pts[:, 0])))
    y0 = max(0, int(pts[:, 1].min() - half))
    y1 = min(view.image.shape[0], int(pts[:, 1].max() + half) + 1)
    shift = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, float(y0)], [0.0, 0.0, 1.0]])
    return _View(np.ascontiguousarray(view.image[y0:y1]), view.to_source @ shift)


def _read_candidate(gray: Gray, cand: _Candidate) -> list[Decoded]:
    """Linear codes read from one candidate turned upright; a code must be read twice and alone.

    The candidate is turned, the lean left in the turned crop measured and turned out too, so scan
    lines cross the bars squarely (an oblique line through short bars can end in the digits below).
    zxing-cpp reads the crop, the crop smoothed along the bars (noise and print voids), that
    thresholded at its histogram's split, and the crop with a global binarizer, until one number is
    read twice; pyzbar then reads the crop as an independent check (or as the second read). Two
    different numbers from one place mean neither is trusted."""
    view = _upright(gray, cand)
    tilt = _residual_tilt(view)
    if abs(tilt) > _REFINE_DEG:
        view = _upright(gray, _Candidate(cand.box, cand.across + tilt))
    smooth = _View(cv2.blur(view.image, (1, 7)), view.to_source)
    linear: dict[str, Any] = {"formats": _LINEAR_FORMATS, "try_rotate": False, "try_downscale": False}
    reads: list[Callable[[], list[Decoded]]] = [
        lambda: _zxing(view, try_invert=False, **linear),
        lambda: _zxing(smooth, try_invert=False, **linear),
        lambda: _zxing(_otsu(smooth), try_invert=False, **linear),
        lambda: _zxing(view, binarizer=zxingcpp.Binarizer.GlobalHistogram, try_invert=False, **linear),
    ]
    votes: dict[str, list[Decoded]] = {}

    def count(found: list[Decoded]) -> bool:
        for d in _unique(found):
            if d.symbology in _LINEAR:
                votes.setdefault(d.text if not d.text.isdigit() else d.text.zfill(13), []).append(d)
        return len(votes) <= 1

    for read in reads:
        if not count(read()):
            return []
        if any(len(v) >= 2 for v in votes.values()):
            break
    if not votes or not count(_zbar(_strip(view, next(iter(votes.values()))[0]), _ZBAR_LINEAR)):
        return []
    return [v[0] for v in votes.values() if len(v) >= 2 and all(_whole_symbol(view, d) for d in v)]


def _scan_angle(d: Decoded) -> float:
    """Direction of a linear read's scan line, in degrees in [-90, 90)."""
    (x0, y0), (x1, y1) = d.corners[0], d.corners[1]
    return float(np.degrees(np.arctan2(y1 - y0, x1 - x0)) + 90.0) % 180.0 - 90.0


def _bars_normal(gray: Gray, d: Decoded) -> float:
    crop = _crop(gray, d).astype(np.float32)
    gx = cv2.Sobel(crop, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(crop, cv2.CV_32F, 0, 1, ksize=3)
    return _tensor_angle(float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum()))


def _across_the_bars(found: list[Decoded], gray: Gray) -> list[Decoded]:
    """Drop a linear read whose scan line crosses the bars obliquely unless the upright crop agrees.

    A line slanting through short bars leaves the symbol through its side and can end in text or print
    that completes a number with a valid check digit; read upright, the place gives the true number."""
    kept = []
    candidates: list[_Candidate] | None = None
    for d in found:
        if d.symbology not in _LINEAR:
            kept.append(d)
            continue
        slant = abs((_scan_angle(d) - _bars_normal(gray, d) + 90.0) % 180.0 - 90.0)
        if slant <= _MAX_SLANT_DEG:
            kept.append(d)
            continue
        candidates = _bar_candidates(gray) if candidates is None else candidates
        here = [c for c in candidates if c.contains(d)]
        upright = [o.text for c in here for o in _read_candidate(gray, c)]
        if upright and all(_same_number(o, d.text) for o in upright):
            kept.append(d)
    return kept


def _any_angle(gray: Gray, found: list[Decoded]) -> list[Decoded]:
    """Linear codes in candidate regions that no read so far covers, each read upright.

    The tensor's candidates come first; OpenCV's detector, dearer on small images, looks only when
    they gave no new code (its boxes are tighter where the tensor's split or merged a code)."""
    out: list[Decoded] = []
    finder = _finder(gray)
    small = gray.shape[0] * gray.shape[1] < _MIN_PIXELS_FOR_SECOND_CODE
    limit = _MAX_CANDIDATES_SMALL if small else _MAX_CANDIDATES
    for detector in (False, True):
        for cand in _bar_candidates(gray, detector, finder, limit):
            if any(cand.contains(d) or _inside(cand, d) for d in found + out):
                continue
            # A read overlapping an earlier one is the same place read twice: never a second number.
            out.extend(d for d in _read_candidate(gray, cand) if not any(_same_place(d, o) for o in found + out))
        if out:
            break
    return out


def _turned_box(d: Decoded) -> tuple[tuple[float, float], tuple[float, float], float]:
    """The read's corners as a turned rectangle, a twentieth of its length around.

    An upright box around a diagonal read covers a far larger area than the code, so two codes side
    by side on a turned pack would look like one place."""
    (cx, cy), (w, h), angle = cv2.minAreaRect(np.array(d.corners, np.float32))
    pad = 0.1 * max(w, h)
    return (cx, cy), (w + pad, h + pad), angle


def _same_place(a: Decoded, b: Decoded) -> bool:
    kind, _points = cv2.rotatedRectangleIntersection(_turned_box(a), _turned_box(b))
    return bool(kind != cv2.INTERSECT_NONE)


def _inside(cand: _Candidate, d: Decoded) -> bool:
    """Whether the candidate's centre lies on a read (the read already covers that place)."""
    (cx, cy), _size, _angle = cand.box
    corners = cv2.boxPoints(_turned_box(d)).astype(np.float32)
    return cv2.pointPolygonTest(corners, (float(cx), float(cy)), False) >= 0


def _retries(view: _View) -> Iterator[Callable[[], list[Decoded]]]:
    """Retry passes, most useful per millisecond first; each runs only if the ones before found nothing."""
    flat = _flatten(view)
    yield lambda: _zxing(flat, try_downscale=False, try_invert=False)
    yield lambda: _zxing(_sharpen(_upscale(view) or view), try_downscale=False, try_invert=False)
    # A small image is a crop of one code: its largest busy region is that code.
    small = view.image.shape[0] * view.image.shape[1] < _MIN_PIXELS_FOR_SECOND_CODE
    for region in _regions(flat, limit=1 if small else 3):
        yield lambda region=region: _zxing(region, try_downscale=False, try_invert=False)  # type: ignore[misc]
    small = _scaled(view.image, _ZBAR_SIDE / max(view.image.shape)) if max(view.image.shape) > _ZBAR_SIDE else view
    yield lambda: _zbar(_View(small.image, view.to_source @ np.vstack([small.to_source, [0.0, 0.0, 1.0]])))
    yield lambda: _zxing(_clahe(view), try_downscale=False, try_invert=False)


def _box(d: Decoded) -> tuple[float, float, float, float]:
    """Bounding box; a linear read is a scan line, so it is widened to cover the bars' height."""
    xs = [p[0] for p in d.corners]
    ys = [p[1] for p in d.corners]
    pad = 0.5 * max(max(xs) - min(xs), max(ys) - min(ys)) if d.symbology in _LINEAR else 0.0
    return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad


def _overlap(a: Decoded, b: Decoded) -> bool:
    ax0, ay0, ax1, ay1 = _box(a)
    bx0, by0, bx1, by1 = _box(b)
    return ax0 <= bx1 and bx0 <= ax1 and ay0 <= by1 and by0 <= ay1


def _resolve_conflicts(found: list[Decoded], view: _View) -> list[Decoded]:
    """Two different linear reads of one place: keep only what pyzbar confirms, else neither."""
    linear = [d for d in found if d.symbology in _LINEAR]
    clash = {id(a) for a in linear for b in linear if a is not b and a.text != b.text and _overlap(a, b)}
    if not clash:
        return found
    confirmed = {d.text for d in _zbar(view, _ZBAR_LINEAR)}
    return [d for d in found if id(d) not in clash or d.text in confirmed]


def _crop(gray: Gray, d: Decoded) -> Gray:
    """The part of the image around a read (see `_box`), contiguous so the decoders can take it."""
    h, w = gray.shape[:2]
    x0, y0, x1, y1 = _box(d)
    return np.ascontiguousarray(gray[max(0, int(y0)) : min(h, int(y1) + 1), max(0, int(x0)) : min(w, int(x1) + 1)])


def _same_number(a: str, b: str) -> bool:
    """Equal texts, counting UPC-A (12 digits) and its EAN-13 form (leading 0) as equal."""
    return a == b or (a.isdigit() and b.isdigit() and a.zfill(13) == b.zfill(13))


def _second_opinion(found: list[Decoded], gray: Gray) -> list[Decoded]:
    """Drop a linear read that pyzbar, looking at the same place, reads as a different number."""
    kept = []
    for d in found:
        if d.symbology not in _LINEAR:
            kept.append(d)
            continue
        # Only linear codes are compared, so only those are looked for.
        others = [o.text for o in _zbar(_View(_crop(gray, d), _identity()), _ZBAR_LINEAR) if o.symbology in _LINEAR]
        if not others or any(_same_number(o, d.text) for o in others):
            kept.append(d)
    return kept


def _modules(symbology: str) -> int:
    """Modules across an EAN/UPC symbol (its quiet zones excluded)."""
    return {"EAN-8": 67, "UPC-E": 51}.get(symbology, 95)


def _consistent_when_enlarged(found: list[Decoded], gray: Gray) -> list[Decoded]:
    """Drop an EAN/UPC read with bars under ~2.5 px that reads as another number at 1.5x.

    Bars near the pixel pitch alias: the same wrong number can pass the check digit in both decoders,
    while the enlarged crop resolves them. Two numbers for one place means neither is trusted."""
    kept = []
    for d in found:
        xs = [p[0] for p in d.corners]
        ys = [p[1] for p in d.corners]
        length = max(max(xs) - min(xs), max(ys) - min(ys))
        if d.symbology not in _LINEAR or d.symbology == "Code 128" or length / _modules(d.symbology) >= 2.5:
            kept.append(d)
            continue
        enlarged = _scaled(_crop(gray, d), 1.5)
        others = [o.text for o in _zxing(enlarged, _LINEAR_FORMATS, try_invert=False) if o.symbology in _LINEAR]
        if all(_same_number(o, d.text) for o in others):
            kept.append(d)
    return kept


def _unique(found: list[Decoded]) -> list[Decoded]:
    seen: set[tuple[str, str]] = set()
    out = []
    for d in found:
        key = (d.symbology, d.text)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def decode_gray(gray: Gray) -> list[Decoded]:
    """Decode an already-loaded 8-bit grayscale image."""
    pixels = gray.shape[0] * gray.shape[1]
    full = (
        _scaled(gray, (_MAX_PIXELS_FIRST_PASS / pixels) ** 0.5)
        if pixels > _MAX_PIXELS_FIRST_PASS
        else _View(gray, _identity())
    )
    found = [d for d in _resolve_conflicts(_unique(_zxing(full)), full) if _not_a_fragment(full, d)]
    if found:
        found = _consistent_when_enlarged(_second_opinion(found, gray), gray)
        found = _across_the_bars(found, gray)
    if pixels >= _MIN_PIXELS_FOR_SECOND_CODE:
        # A phone photo may hold a second code the first pass missed, often turned or tilted.
        found += _any_angle(gray, found)
        return found or _retried(gray)
    # A small crop is one code, usually level: the whole-image retries, each about one plain call,
    # come before the any-angle search, which costs several on a small image.
    return found or _retried(gray) or _any_angle(gray, [])


def _retried(gray: Gray) -> list[Decoded]:
    """The retry passes (see `_retries`) until one gives a code."""
    view = _working(gray)
    votes: dict[tuple[str, str], list[Decoded]] = {}
    for attempt in _retries(view):
        accepted = []
        for d in _unique(attempt()):
            seen = votes.setdefault((d.symbology, d.text), [])
            seen.append(d)
            # On degraded views a linear read must be seen twice (two views or two decoders).
            if d.symbology not in _LINEAR or len(seen) >= 2:
                accepted.append(seen[0])
        found = _resolve_conflicts(accepted, view)
        if found:
            return found
    return []


def decode(image: ImageInput) -> list[Decoded]:
    """Decode every supported barcode in an image given as bytes, a path or a numpy array."""
    return decode_gray(load_gray(image))
