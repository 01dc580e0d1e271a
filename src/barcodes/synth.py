"""Generate phone-like photos of known barcodes (rotation, perspective, blur, glare, noise, JPEG), seeded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import segno
import zxingcpp

from barcodes.gs1 import check_digit

__all__ = [
    "SYNTH_SYMBOLOGIES",
    "SynthPhoto",
    "degrade",
    "phone_photos",
    "render_code",
    "render_with_digits",
    "short_bars",
]

Gray = npt.NDArray[Any]
Rng = np.random.Generator

_F = zxingcpp.BarcodeFormat

# Ranges each degradation is drawn from (uniformly). Sizes and blur are in code modules, so a small
# code is small in the photo; levels are 8-bit grey values. Hard for a phone camera, but legible.
PHONE: dict[str, tuple[float, float]] = {
    "module_px_linear": (2.4, 5.0),  # pixels per bar module in the photo
    "module_px_matrix": (3.5, 9.0),  # pixels per QR / Data Matrix module
    "tilt_deg": (-25.0, 25.0),
    "perspective": (-0.12, 0.12),  # corner displacement, fraction of the code size
    "black_level": (15.0, 80.0),  # ink is never black…
    "white_level": (175.0, 245.0),  # …and paper never white under room light
    "shadow": (0.0, 0.4),  # darkening across the frame
    "glare_radius": (0.04, 0.12),  # fraction of the frame width
    "glare_gain": (40.0, 110.0),
    "focus_blur_modules": (0.2, 0.42),  # Gaussian sigma
    "shake_modules": (0.4, 0.9),  # motion-blur length
    "noise_sigma": (2.0, 10.0),
    "jpeg_quality": (35, 85),
}
# Probabilities of the occasional degradations.
PHONE_P: dict[str, float] = {"quarter_turn": 0.15, "glare": 0.5, "shake": 0.35}
# A stress preset: smaller codes, flatter contrast, more blur and noise, near the decoders' limits.
HARD: dict[str, tuple[float, float]] = {
    **PHONE,
    "module_px_linear": (2.2, 5.0),
    "black_level": (20.0, 90.0),
    "white_level": (170.0, 245.0),
    "shadow": (0.0, 0.45),
    "focus_blur_modules": (0.25, 0.5),
    "shake_modules": (0.5, 1.2),
    "noise_sigma": (2.0, 12.0),
    "jpeg_quality": (30, 80),
}
# Codes at any angle: turned over the full circle, small perspective tilts, often short bars with their
# digits under them, text printed around, and sometimes a second code elsewhere on the pack.
ANGLE: dict[str, tuple[float, float]] = {
    **PHONE,
    "tilt_deg": (0.0, 360.0),
    "perspective": (-0.05, 0.05),
    "bar_height": (0.2, 0.6),  # short bars: kept fraction of the rendered bar height
}
ANGLE_P: dict[str, float] = {
    **PHONE_P,
    "quarter_turn": 0.0,
    "hri": 0.8,  # digits printed under the bars
    "short_bars": 0.6,
    "label_text": 0.8,  # text lines printed next to the code
    "distractor": 0.5,  # another code on the same pack
}
PRESETS: dict[str, dict[str, tuple[float, float]]] = {"phone": PHONE, "hard": HARD, "angle": ANGLE}
CHANCES: dict[str, dict[str, float]] = {"phone": PHONE_P, "hard": PHONE_P, "angle": ANGLE_P}


@dataclass(frozen=True)
class SynthPhoto:
    """One generated photo and the content it must decode to."""

    image: Gray
    symbology: str
    text: str
    raw: bytes
    preset: str
    seed: int
    others: tuple[str, ...] = ()  # texts of the other codes in the photo (distractors), empty when none


def _digits(rng: Rng, n: int) -> str:
    return "".join(str(int(d)) for d in rng.integers(0, 10, n))


def _gtin(payload: str) -> str:
    return payload + str(check_digit(payload))


def _ean13(rng: Rng) -> tuple[str, str]:
    t = _gtin(f"69{rng.integers(0, 10)}" + _digits(rng, 9))
    return t, t


def _ean8(rng: Rng) -> tuple[str, str]:
    t = _gtin("69" + _digits(rng, 5))
    return t, t


def _upca(rng: Rng) -> tuple[str, str]:
    t = _gtin("0" + _digits(rng, 10))
    return t, t


def _code128(rng: Rng) -> tuple[str, str]:
    t = f"S{rng.integers(2024, 2028)}{_digits(rng, 6)}"
    return t, t


def _gs1_payload(rng: Rng) -> tuple[str, str]:
    gtin = _gtin("069" + _digits(rng, 10))
    lot = f"L{_digits(rng, 4)}"
    expiry = f"{rng.integers(25, 29):02d}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
    hri = f"(01){gtin}(17){expiry}(10){lot}"
    return hri, f"01{gtin}17{expiry}10{lot}"


def _url(rng: Rng) -> tuple[str, str]:
    t = f"https://lims.example.cn/s/S{_digits(rng, 8)}?sig={_digits(rng, 12)}"
    return t, t


_CHINESE = ("康师傅红烧牛肉面", "旺仔牛奶", "金龙鱼食用油", "蒙牛纯牛奶", "五常大米", "老干妈风味豆豉")


def _chinese(rng: Rng) -> tuple[str, str]:
    t = f"{_CHINESE[int(rng.integers(0, len(_CHINESE)))]} 批号{_digits(rng, 6)}"
    return t, t


@dataclass(frozen=True)
class _Kind:
    symbology: str
    content: Callable[[Rng], tuple[str, str]]
    fmt: object
    gs1: bool = False
    gbk: bool = False


_KINDS = (
    _Kind("EAN-13", _ean13, _F.EAN13),
    _Kind("EAN-8", _ean8, _F.EAN8),
    _Kind("UPC-A", _upca, _F.UPCA),
    _Kind("Code 128", _code128, _F.Code128),
    _Kind("GS1-128", _gs1_payload, _F.Code128, gs1=True),
    _Kind("QR Code", _url, _F.QRCode),
    _Kind("QR Code GB18030", _chinese, _F.QRCode, gbk=True),
    _Kind("GS1 DataMatrix", _gs1_payload, _F.DataMatrix, gs1=True),
)
SYNTH_SYMBOLOGIES = tuple(k.symbology for k in _KINDS)


def render_code(symbology: str, text: str, module_px: int = 4) -> Gray:
    """Clean render of one code with quiet zones; ``text`` is HRI for GS1 kinds."""
    kind = next(k for k in _KINDS if k.symbology == symbology)
    if kind.gbk:
        qr = segno.make(text, encoding="gb18030", error="m", micro=False)
        matrix = np.array(list(qr.matrix_iter(scale=module_px, border=4)), dtype=np.uint8)
        return np.where(matrix > 0, 0, 255).astype(np.uint8)
    opts = {"gs1": True} if kind.gs1 else {}
    code = zxingcpp.create_barcode(text, kind.fmt, **opts)  # type: ignore[arg-type]
    img: Gray = np.array(code.to_image(scale=module_px, add_quiet_zones=True), dtype=np.uint8)
    if kind.symbology in ("EAN-13", "EAN-8", "UPC-A", "Code 128", "GS1-128") and img.shape[0] < img.shape[1] // 3:
        img = cv2.resize(img, (img.shape[1], img.shape[1] // 3), interpolation=cv2.INTER_NEAREST)
    return img


def _background(rng: Rng, h: int, w: int) -> Gray:
    """A package-like surface: shaded base, coloured blocks, text-like strokes."""
    base = float(rng.uniform(120, 230))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    grad = base + rng.uniform(-40, 40) * (xx / w) + rng.uniform(-40, 40) * (yy / h)
    img: Gray = np.clip(grad, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(3, 9))):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(40, w // 2)), y0 + int(rng.integers(20, h // 3))
        cv2.rectangle(img, (x0, y0), (x1, y1), int(rng.integers(30, 230)), -1)
    for _ in range(int(rng.integers(4, 14))):
        org = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.putText(
            img,
            "NET WT 500g 配料",
            org,
            cv2.FONT_HERSHEY_SIMPLEX,
            float(rng.uniform(0.5, 1.6)),
            int(rng.integers(0, 90)),
            2,
        )
    return img


def degrade(
    code: Gray,
    rng: Rng,
    size: tuple[int, int] = (960, 1280),
    module_px: int = 4,
    linear: bool = True,
    ranges: dict[str, tuple[float, float]] = PHONE,
    chances: dict[str, float] = PHONE_P,
    distractor: Gray | None = None,
) -> Gray:
    """Place a clean code on a package in a photo and degrade it like a hand-held phone camera.

    ``distractor``, a second clean code, is placed where it does not overlap the first, if there is room."""
    return _degrade(code, rng, size, module_px, linear, ranges, chances, distractor)[0]


def _degrade(
    code: Gray,
    rng: Rng,
    size: tuple[int, int],
    module_px: int,
    linear: bool,
    ranges: dict[str, tuple[float, float]],
    chances: dict[str, float],
    distractor: Gray | None,
) -> tuple[Gray, bool]:
    """The photo, and whether the distractor was placed."""
    h, w = size
    photo: Gray = _background(rng, h, w).astype(np.float32)
    # Code size, as pixels per module in the photo: small codes sit near the decoders' limits.
    module = float(rng.uniform(*(ranges["module_px_linear"] if linear else ranges["module_px_matrix"])))
    scale = module / module_px
    ch, cw = int(code.shape[0] * scale), int(code.shape[1] * scale)
    cx, cy = float(rng.uniform(0.3, 0.7)) * w, float(rng.uniform(0.3, 0.7)) * h
    src = np.array([[0, 0], [code.shape[1], 0], [code.shape[1], code.shape[0]], [0, code.shape[0]]], dtype=np.float32)
    angle = float(rng.uniform(*ranges["tilt_deg"])) + (90.0 if rng.random() < chances["quarter_turn"] else 0.0)
    rot = cv2.getRotationMatrix2D((0, 0), angle, 1.0)[:, :2]
    half = np.array([[-cw / 2, -ch / 2], [cw / 2, -ch / 2], [cw / 2, ch / 2], [-cw / 2, ch / 2]], dtype=np.float32)
    jitter = rng.uniform(*ranges["perspective"], (4, 2)) * np.array([cw, ch], dtype=np.float32)
    shape = (half + jitter) @ rot.T
    # The whole code stays in the frame (a user aims at it): shrink if needed, then shift inside.
    span = shape.max(axis=0) - shape.min(axis=0)
    shape *= min(1.0, 0.92 * w / span[0], 0.92 * h / span[1])
    lo, hi = shape.min(axis=0), shape.max(axis=0)
    cx = float(np.clip(cx, -lo[0] + 0.02 * w, w - hi[0] - 0.02 * w))
    cy = float(np.clip(cy, -lo[1] + 0.02 * h, h - hi[1] - 0.02 * h))
    dst = shape + np.array([cx, cy], dtype=np.float32)
    module = scale * module_px * min(1.0, 0.92 * w / span[0], 0.92 * h / span[1])
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    warped = cv2.warpPerspective(code, m, (w, h), flags=cv2.INTER_AREA, borderValue=0)
    mask = cv2.warpPerspective(np.full_like(code, 255), m, (w, h), flags=cv2.INTER_AREA, borderValue=0)
    alpha = mask.astype(np.float32) / 255.0
    photo = photo * (1 - alpha) + warped.astype(np.float32) * alpha
    placed = distractor is not None and _place_distractor(photo, distractor, dst, rng, module / module_px)
    # Low contrast: ink is never black and paper never white under room light.
    lo, hi = float(rng.uniform(*ranges["black_level"])), float(rng.uniform(*ranges["white_level"]))
    photo = lo + photo * (hi - lo) / 255.0
    # Uneven light: a shadow gradient and sometimes a specular glare spot.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shade = 1.0 - float(rng.uniform(*ranges["shadow"])) * np.clip(
        (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / w + 0.5, 0, 1
    )
    photo *= shade
    if rng.random() < chances["glare"]:
        gx, gy = cx + rng.uniform(-0.3, 0.3) * cw, cy + rng.uniform(-0.3, 0.3) * ch
        radius = float(rng.uniform(*ranges["glare_radius"])) * w
        glare = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * radius**2))
        photo += glare * float(rng.uniform(*ranges["glare_gain"]))
    # Focus and hand shake.
    photo = cv2.GaussianBlur(photo, (0, 0), float(rng.uniform(*ranges["focus_blur_modules"])) * module)
    if rng.random() < chances["shake"]:
        length = max(2, int(rng.uniform(*ranges["shake_modules"]) * module))
        kernel: Gray = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        kernel = cv2.warpAffine(
            kernel, cv2.getRotationMatrix2D((length / 2, length / 2), float(rng.uniform(0, 180)), 1), (length, length)
        )
        kernel = (kernel / max(float(kernel.sum()), 1e-6)).astype(np.float32)
        photo = cv2.filter2D(photo, -1, kernel)
    # Sensor noise and JPEG compression.
    photo += rng.normal(0, float(rng.uniform(*ranges["noise_sigma"])), photo.shape).astype(np.float32)
    out = np.clip(photo, 0, 255).astype(np.uint8)
    ok, jpg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.uniform(*ranges["jpeg_quality"]))])
    assert ok
    return np.asarray(cv2.imdecode(jpg, cv2.IMREAD_GRAYSCALE), dtype=np.uint8), placed


def _place_distractor(photo: Gray, code: Gray, target: Gray, rng: Rng, scale: float) -> bool:
    """Paste ``code`` (turned, at the target's scale) where it keeps clear of the target's corners."""
    h, w = photo.shape
    turn = cv2.getRotationMatrix2D((code.shape[1] / 2, code.shape[0] / 2), float(rng.uniform(0, 360)), scale)
    corners = np.array([[0, 0, 1], [code.shape[1], 0, 1], [code.shape[1], code.shape[0], 1], [0, code.shape[0], 1]])
    shape = corners @ turn.T
    size = shape.max(axis=0) - shape.min(axis=0)
    t_lo, t_hi = target.min(axis=0) - 10, target.max(axis=0) + 10
    for _ in range(30):
        x0, y0 = float(rng.uniform(0, max(1.0, w - size[0]))), float(rng.uniform(0, max(1.0, h - size[1])))
        if size[0] > w or size[1] > h:
            return False
        clear = x0 + size[0] < t_lo[0] or x0 > t_hi[0] or y0 + size[1] < t_lo[1] or y0 > t_hi[1]
        if clear:
            turn[:, 2] += np.array([x0, y0]) - shape.min(axis=0)
            warped = cv2.warpAffine(code, turn, (w, h), flags=cv2.INTER_AREA, borderValue=0)
            mask = cv2.warpAffine(np.full_like(code, 255), turn, (w, h), flags=cv2.INTER_AREA, borderValue=0)
            alpha = mask.astype(np.float32) / 255.0
            photo[:] = photo * (1 - alpha) + warped.astype(np.float32) * alpha
            return True
    return False


_LABEL_LINES = ("NET WT 500g", "MADE IN CHINA", "BEST BEFORE 2026-05-01", "LOT 250318", "Ingredients: wheat, salt")
# Codes put next to the target as distractors; the target's own kind is skipped.
_DISTRACTOR_KINDS = ("QR Code", "EAN-8", "Code 128", "EAN-13")


def render_with_digits(symbology: str, text: str, module_px: int = 4) -> Gray:
    """A linear code with its human-readable digits printed under the bars (EAN/UPC: guards run down)."""
    kind = next(k for k in _KINDS if k.symbology == symbology)
    code = zxingcpp.create_barcode(text, kind.fmt)  # type: ignore[arg-type]
    return np.array(code.to_image(scale=module_px, add_hrt=True, add_quiet_zones=True), dtype=np.uint8)


def short_bars(img: Gray, keep: float) -> Gray:
    """Cut the bars' height to ``keep`` of it (the rows above the digits are all alike)."""
    rows = 1
    while rows < img.shape[0] and np.array_equal(img[rows], img[0]):
        rows += 1
    cut = int(rows * (1 - keep))
    return np.ascontiguousarray(img[cut:]) if cut > 0 else img


def _label_text(img: Gray, rng: Rng, module_px: int) -> Gray:
    """Lines of text printed beside the code, a few modules clear of it, as on a pack's label."""
    gap = int(rng.uniform(2, 6) * module_px)
    line_h = int(rng.uniform(3, 6) * module_px)
    lines = int(rng.integers(1, 4))
    canvas = np.full((img.shape[0] + 2 * (gap + lines * line_h), img.shape[1]), 255, np.uint8)
    top = gap + lines * line_h
    canvas[top : top + img.shape[0]] = img
    for side in (0, 1):
        if rng.random() < 0.5 and side == 1:
            continue
        for i in range(lines):
            words = _LABEL_LINES[int(rng.integers(0, len(_LABEL_LINES)))]
            y = (i + 1) * line_h if side == 0 else top + img.shape[0] + gap + (i + 1) * line_h - line_h // 5
            scale = line_h / 30.0
            cv2.putText(
                canvas,
                words,
                (int(rng.integers(0, max(1, img.shape[1] // 4))), y),
                cv2.FONT_HERSHEY_SIMPLEX,
                scale,
                0,
                max(1, int(scale * 2)),
            )
    return canvas


def _dressed(
    kind: _Kind, text: str, rng: Rng, chances: dict[str, float], ranges: dict[str, tuple[float, float]]
) -> Gray:
    """The target as printed on a pack: digits under the bars, short bars, text around (as ``chances`` say)."""
    linear = kind.fmt not in (_F.QRCode, _F.DataMatrix)
    if linear and not kind.gs1 and rng.random() < chances.get("hri", 0.0):
        img = render_with_digits(kind.symbology, text, 4)
    else:
        img = render_code(kind.symbology, text, module_px=4)
    if linear and rng.random() < chances.get("short_bars", 0.0):
        img = short_bars(img, float(rng.uniform(*ranges["bar_height"])))
    if rng.random() < chances.get("label_text", 0.0):
        img = _label_text(img, rng, 4)
    return img


def phone_photos(
    count: int, seed: int = 0, size: tuple[int, int] = (960, 1280), preset: str = "phone"
) -> Iterator[SynthPhoto]:
    """``count`` photos cycling through the symbologies; the same seed and preset give the same images."""
    ranges, chances = PRESETS[preset], CHANCES[preset]
    for i in range(count):
        kind = _KINDS[i % len(_KINDS)]
        item_seed = seed * 1_000_003 + i
        rng = np.random.default_rng(item_seed)
        text, plain = kind.content(rng)
        clean = (
            _dressed(kind, text, rng, chances, ranges) if preset == "angle" else render_code(kind.symbology, text, 4)
        )
        other: tuple[str, Gray] | None = None
        if chances.get("distractor", 0.0) > 0 and rng.random() < chances["distractor"]:
            names = [n for n in _DISTRACTOR_KINDS if n != kind.symbology]
            pick = names[int(rng.integers(0, len(names)))]
            other_kind = next(k for k in _KINDS if k.symbology == pick)
            other_text, _ = other_kind.content(rng)
            other = (other_text, render_code(other_kind.symbology, other_text, module_px=4))
        linear = kind.fmt not in (_F.QRCode, _F.DataMatrix)
        image, placed = _degrade(clean, rng, size, 4, linear, ranges, chances, other[1] if other else None)
        raw = plain.encode("gb18030") if kind.gbk else plain.encode()
        others = (other[0],) if other and placed else ()
        name = f"{preset}-{kind.symbology.replace(' ', '-')}"
        yield SynthPhoto(image, kind.symbology, plain, raw, name, item_seed, others)
