"""A second, independently built photo generator, kept for evaluating the decoder and never for tuning it.

It shares no drawing code with `barcodes.synth`: colour packs with Chinese text in TrueType fonts, bars
drawn from the module pattern with print gain, digits in another font, the label seen through a pinhole
camera (in-plane turn, often near 50°, plus a few degrees of pitch and yaw), rendered at twice the
resolution and integrated down like a sensor, then vignetting, colour cast, shadow, specular highlights,
disk defocus, signal-dependent noise, a phone's sharpening and a colour JPEG read back through the
project's own image loader.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from barcodes.fonts import cjk_font_path
from barcodes.gs1 import check_digit
from barcodes.imageio import load_gray
from barcodes.synth import SynthPhoto

__all__ = ["SCENE_SYMBOLOGIES", "scene_photos"]

Rng = np.random.Generator
Gray = npt.NDArray[Any]
_F = zxingcpp.BarcodeFormat
_SS = 2  # supersampling factor of the rendered scene

# Weighted like the misses a phone user meets: mostly retail EAN/UPC.
SCENE_SYMBOLOGIES = ("UPC-A", "EAN-13", "EAN-8", "Code 128", "QR Code")
_WEIGHTS = (0.32, 0.32, 0.12, 0.12, 0.12)
_DIGIT_FONTS = (
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf",
    "/usr/share/fonts/truetype/noto/NotoSansMono-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf",
)
_PACK_TEXT = (
    "净含量：500克",
    "生产日期：见包装封口处",
    "保质期：12个月",
    "产品标准号：GB/T 20977",
    "配料：小麦粉、白砂糖、植物油、食用盐",
    "贮存条件：阴凉干燥处",
    "营养成分表",
    "生产许可证编号：SC10144030600123",
)
_EAN_PREFIXES = ("690", "691", "692", "693", "694", "695", "696", "400", "471", "489", "880", "978", "760", "500")


@cache
def _font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path and Path(path).is_file():
        return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def _content(symbology: str, rng: Rng) -> str:
    def digits(n: int) -> str:
        return "".join(str(int(d)) for d in rng.integers(0, 10, n))

    if symbology == "UPC-A":
        body = str(rng.choice(["0", "0", "7", "8", "6", "4"])) + digits(10)
    elif symbology == "EAN-13":
        body = str(rng.choice(_EAN_PREFIXES)) + digits(9)
    elif symbology == "EAN-8":
        body = "69" + digits(5)
    elif symbology == "Code 128":
        return f"HL-{digits(4)}-{chr(65 + int(rng.integers(0, 26)))}{digits(3)}"
    else:
        return f"https://trace.example.org/p/{digits(6)}?b={digits(5)}"
    return body + str(check_digit(body))


_FORMATS = {"UPC-A": _F.UPCA, "EAN-13": _F.EAN13, "EAN-8": _F.EAN8, "Code 128": _F.Code128, "QR Code": _F.QRCode}


def _modules(symbology: str, text: str) -> npt.NDArray[np.bool_]:
    """The symbol's dark modules, without quiet zones: one row for linear codes, the matrix for QR."""
    img = np.array(zxingcpp.create_barcode(text, _FORMATS[symbology]).to_image(scale=1, add_quiet_zones=False))
    return np.asarray(img[:1] < 128 if symbology != "QR Code" else img < 128)


def _label(symbology: str, text: str, rng: Rng, module: float) -> Image.Image:
    """The printed label (RGBA, transparent outside): bars with print gain, digits, Chinese text around."""
    bits = _modules(symbology, text)
    paper = tuple(int(v) for v in rng.uniform([225, 220, 205], [255, 255, 250]))
    ink = tuple(int(v) for v in rng.choice([[10, 10, 10], [25, 20, 70], [60, 20, 15], [15, 45, 25]]))
    gain = float(rng.uniform(-0.12, 0.15)) * module  # ink spread widens (or thins) every dark run
    quiet = float(rng.uniform(9, 12)) * module
    if symbology == "QR Code":
        side = bits.shape[0] * module
        w = h = int(side + 2 * quiet)
        img = Image.new("RGBA", (w, h + int(8 * module)), (*paper, 255))
        draw = ImageDraw.Draw(img)
        for r, c in zip(*np.nonzero(bits), strict=True):
            x0, y0 = quiet + c * module - gain / 2, quiet + r * module - gain / 2
            draw.rectangle((x0, y0, x0 + module + gain, y0 + module + gain), fill=ink)
        _pack_text(draw, rng, 0, h, w, module * 3.5, ink)
        return img
    row = bits[0]
    width = row.size * module
    short = rng.random() < 0.6
    bar_h = float(rng.uniform(8, 22) if short else rng.uniform(40, 70)) * module
    retail = symbology in ("UPC-A", "EAN-13", "EAN-8")
    digit_h = 9.0 * module if retail else 6.0 * module
    text_above = int(rng.uniform(0, 3)) * int(module * 5)
    w = int(width + 2 * quiet)
    h = int(text_above + module * 3 + bar_h + digit_h + module * 3)
    img = Image.new("RGBA", (w, h), (*paper, 255))
    draw = ImageDraw.Draw(img)
    top = text_above + module * 3
    edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
    guards = {0, 1, 2} | ({45, 46, 47, 48, 49} if symbology != "EAN-8" else {31, 32, 33, 34, 35})
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        x0 = quiet + start * module - gain / 2
        x1 = quiet + stop * module + gain / 2
        long_bar = retail and (start in guards or stop >= row.size - 3)
        y1 = top + bar_h + (digit_h * 0.55 if long_bar else 0)
        draw.rectangle((x0, top, max(x0, x1 - 1), y1), fill=ink)
    font = _font(str(rng.choice(_DIGIT_FONTS)), max(6, int(digit_h * 0.8)))
    y_digits = top + bar_h + module
    if symbology == "EAN-13":
        draw.text((quiet - 7 * module, y_digits), text[0], fill=ink, font=font)
        draw.text((quiet + 5 * module, y_digits), text[1:7], fill=ink, font=font)
        draw.text((quiet + 51 * module, y_digits), text[7:], fill=ink, font=font)
    elif symbology == "UPC-A":
        draw.text((quiet - 7 * module, y_digits), text[0], fill=ink, font=font)
        draw.text((quiet + 11 * module, y_digits), text[1:6], fill=ink, font=font)
        draw.text((quiet + 51 * module, y_digits), text[6:11], fill=ink, font=font)
        draw.text((quiet + 97 * module, y_digits), text[11], fill=ink, font=font)
    else:
        draw.text((quiet + 3 * module, y_digits), text, fill=ink, font=font)
    if text_above:
        _pack_text(draw, rng, 0, 0, w, text_above * 0.8, ink)
    return img


def _pack_text(draw: ImageDraw.ImageDraw, rng: Rng, x: float, y: float, w: float, size: float, ink: Any) -> None:
    font = _font(cjk_font_path(), max(6, int(size)))
    draw.text((x + w * float(rng.uniform(0.02, 0.2)), y), str(rng.choice(_PACK_TEXT)), fill=ink, font=font)


def _pack(rng: Rng, w: int, h: int) -> Image.Image:
    """A colour pack: flat or gradient base, stripes or blocks, big and small Chinese text."""
    base = rng.uniform(40, 255, 3)
    other = rng.uniform(0, 255, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (xx * float(rng.uniform(-1, 1)) + yy * float(rng.uniform(-1, 1))) / max(w, h)
    arr = base[None, None, :] * (1 - t[..., None] * 0.4) + other[None, None, :] * (t[..., None] * 0.4)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 7))):
        c = tuple(int(v) for v in rng.uniform(0, 255, 3))
        if rng.random() < 0.5:
            x0 = float(rng.uniform(-w / 2, w))
            draw.polygon([(x0, 0), (x0 + w * 0.15, 0), (x0 + w * 0.45, h), (x0 + w * 0.3, h)], fill=c)
        else:
            cx, cy, r = float(rng.uniform(0, w)), float(rng.uniform(0, h)), float(rng.uniform(0.05, 0.3)) * w
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=c)
    for _ in range(int(rng.integers(3, 10))):
        c = tuple(int(v) for v in rng.uniform(0, 255, 3))
        size = int(rng.uniform(0.015, 0.08) * h)
        _pack_text(draw, rng, float(rng.uniform(-0.2, 0.8)) * w, float(rng.uniform(0, 0.95)) * h, w, size, c)
    return img


def _camera(w: int, h: int, rng: Rng, angle: float, label: tuple[int, int], centre: tuple[float, float]) -> Gray:
    """Homography of a pinhole camera looking at the label: turn ``angle``, a few degrees of pitch and yaw."""
    lw, lh = label
    f = float(rng.uniform(1.0, 1.6)) * w
    pitch, yaw = np.radians(rng.uniform(-9, 9, 2))
    rz = np.radians(angle)
    rx = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    rot = np.array([[np.cos(rz), -np.sin(rz), 0], [np.sin(rz), np.cos(rz), 0], [0, 0, 1]])
    r = ry @ rx @ rot
    # Label plane z = f (so a point at the centre keeps its size), label centred on the optical axis.
    corners = np.array([[-lw / 2, -lh / 2], [lw / 2, -lh / 2], [lw / 2, lh / 2], [-lw / 2, lh / 2]])
    pts = np.array([r @ np.array([x, y, 0.0]) + np.array([0, 0, f]) for x, y in corners])
    proj = pts[:, :2] * (f / pts[:, 2:3]) + np.array(centre)
    src = np.array([[0, 0], [lw, 0], [lw, lh], [0, lh]], dtype=np.float32)
    return cv2.getPerspectiveTransform(src, proj.astype(np.float32))


def _place_label(scene: Gray, label: Image.Image, m: Gray) -> Gray:
    """Warp the label (``m`` maps it into the supersampled frame) and integrate it down onto ``scene``."""
    h, w = scene.shape[:2]
    box = _projected_box(m, label.size)
    x0, y0 = (max(0, int(v) // _SS) for v in box.min(axis=0))
    x1, y1 = (int(np.ceil(v / _SS)) + 1 for v in box.max(axis=0))
    x1, y1 = min(w, x1), min(h, y1)
    shift = np.array([[1, 0, -x0 * _SS], [0, 1, -y0 * _SS], [0, 0, 1]], dtype=np.float64)
    size = ((x1 - x0) * _SS, (y1 - y0) * _SS)
    rgba = np.asarray(label, dtype=np.uint8)
    warped = cv2.warpPerspective(rgba, shift @ m, size, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    small = cv2.resize(warped, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = small[..., 3:4] / 255.0
    out = scene.copy()
    out[y0:y1, x0:x1] = scene[y0:y1, x0:x1] * (1 - alpha) + small[..., :3] * alpha
    return out


def _projected_box(m: Gray, size: tuple[int, int]) -> Gray:
    lw, lh = size
    pts = np.array([[0, 0], [lw, 0], [lw, lh], [0, lh]], dtype=np.float32)[None]
    return np.asarray(cv2.perspectiveTransform(pts, m)[0])


def _light_and_lens(img: Gray, rng: Rng, module: float) -> Gray:
    """Colour cast, vignetting, a soft shadow, a highlight; disk defocus, shake, noise and sharpening."""
    h, w = img.shape[:2]
    cast = (rng.uniform([0.8, 0.85, 0.75], [1.1, 1.05, 1.15]) * float(rng.uniform(0.7, 1.1))).astype(np.float32)
    # Light fields are computed on a coarse grid (they vary slowly) and enlarged.
    cw, ch = w // 8, h // 8
    yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32) * 8
    rr = ((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / (0.25 * (w**2 + h**2))
    gain = 1 - float(rng.uniform(0.0, 0.35)) * rr
    if rng.random() < 0.5:
        shadow = np.zeros((ch, cw), np.float32)
        pts = (rng.uniform(0, 1, (5, 2)) * np.array([cw, ch])).astype(np.int32)
        cv2.fillPoly(shadow, [pts], 1.0)
        shadow = cv2.GaussianBlur(shadow, (0, 0), 0.05 * cw)
        gain = gain * (1 - float(rng.uniform(0.2, 0.45)) * shadow)
    extra = np.zeros((ch, cw), np.float32)
    if rng.random() < 0.4:
        cx, cy = float(rng.uniform(0.3, 0.7)) * w, float(rng.uniform(0.3, 0.7)) * h
        sx, sy = float(rng.uniform(0.02, 0.08)) * w, float(rng.uniform(0.01, 0.05)) * w
        extra = float(rng.uniform(30, 90)) * np.exp(-((xx - cx) ** 2 / sx**2 + (yy - cy) ** 2 / sy**2))
    gain_full = cv2.resize(gain.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    extra_full = cv2.resize(extra.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    img = img.astype(np.float32) * cast[None, None, :] * gain_full + extra_full
    radius = float(rng.uniform(0.2, 0.55)) * module
    if radius >= 0.5:
        k = int(np.ceil(radius)) * 2 + 1
        disk = np.zeros((k, k), np.float32)
        cv2.circle(disk, (k // 2, k // 2), max(1, round(radius)), 1.0, -1)
        img = cv2.filter2D(img.astype(np.float32), -1, disk / disk.sum())
    else:
        img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), max(0.3, radius))
    if rng.random() < 0.3:
        length = max(2, int(rng.uniform(0.3, 0.8) * module))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0
        turn = cv2.getRotationMatrix2D((length / 2, length / 2), float(rng.uniform(0, 180)), 1)
        turned = cv2.warpAffine(kernel, turn, (length, length))
        img = cv2.filter2D(img, -1, (turned / max(float(turned.sum()), 1e-6)).astype(np.float32))
    img = np.clip(img, 0, 255)
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    img = img + noise * np.sqrt(np.float32(rng.uniform(0.05, 0.4)) * img + np.float32(4.0))
    amount = float(rng.uniform(0.2, 0.9))
    img = cv2.addWeighted(img, 1 + amount, cv2.GaussianBlur(img, (0, 0), 1.5), -amount, 0)
    return np.asarray(np.clip(img, 0, 255).astype(np.uint8))


def _scene(symbology: str, text: str, rng: Rng) -> tuple[Gray, tuple[str, ...]]:
    w, h = [(1200, 1600), (1440, 1080), (1280, 960), (1080, 1920), (1600, 1200)][int(rng.integers(0, 5))]
    module = float(rng.uniform(2.0, 4.5) if symbology != "QR Code" else rng.uniform(3.0, 7.0))
    pack = np.asarray(_pack(rng, w, h), dtype=np.float32)
    label = _label(symbology, text, rng, module * _SS)
    # Half the photos near a diagonal (the angle scan lines miss), half anywhere on the circle.
    if rng.random() < 0.5:
        angle = float(rng.uniform(35, 65)) * float(rng.choice([-1, 1])) + 90.0 * int(rng.integers(0, 4))
    else:
        angle = float(rng.uniform(0, 360))
    centre = (float(rng.uniform(0.35, 0.65)) * w * _SS, float(rng.uniform(0.35, 0.65)) * h * _SS)
    m = _camera(w * _SS, h * _SS, rng, angle, label.size, centre)
    box = _projected_box(m, label.size)
    if box.min() < 0 or box[:, 0].max() > w * _SS or box[:, 1].max() > h * _SS:
        shrink = 0.9 * min(w * _SS / np.ptp(box[:, 0]), h * _SS / np.ptp(box[:, 1]), 1.0)
        label = label.resize((max(1, int(label.size[0] * shrink)), max(1, int(label.size[1] * shrink))))
        module *= shrink
        centre = (w * _SS / 2, h * _SS / 2)
        m = _camera(w * _SS, h * _SS, rng, angle, label.size, centre)
        box = _projected_box(m, label.size)
    scene = _place_label(pack, label, m)
    others: tuple[str, ...] = ()
    if rng.random() < 0.35:
        kind = str(rng.choice([s for s in ("QR Code", "EAN-8", "UPC-A") if s != symbology]))
        other_text = _content(kind, rng)
        other = _label(kind, other_text, rng, module * _SS * float(rng.uniform(0.8, 1.2)))
        for _ in range(20):
            c = (float(rng.uniform(0.1, 0.9)) * w * _SS, float(rng.uniform(0.1, 0.9)) * h * _SS)
            m2 = _camera(w * _SS, h * _SS, rng, float(rng.uniform(0, 360)), other.size, c)
            b2 = _projected_box(m2, other.size)
            inside = b2.min() >= 0 and b2[:, 0].max() < w * _SS and b2[:, 1].max() < h * _SS
            apart = (
                b2[:, 0].min() > box[:, 0].max()
                or b2[:, 0].max() < box[:, 0].min()
                or b2[:, 1].min() > box[:, 1].max()
                or b2[:, 1].max() < box[:, 1].min()
            )
            if inside and apart:
                scene = _place_label(scene, other, m2)
                others = (other_text,)
                break
    rgb = _light_and_lens(scene, rng, module)
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="JPEG", quality=int(rng.integers(60, 93)), subsampling=2)
    return load_gray(buf.getvalue()), others


def scene_photos(count: int, seed: int = 0) -> Iterator[SynthPhoto]:
    """``count`` held-out photos; the same seed gives the same images."""
    for i in range(count):
        rng = np.random.default_rng([seed, i, 17])
        symbology = str(rng.choice(SCENE_SYMBOLOGIES, p=_WEIGHTS))
        text = _content(symbology, rng)
        image, others = _scene(symbology, text, rng)
        yield SynthPhoto(image, symbology, text, text.encode(), f"heldout-{symbology.replace(' ', '-')}", i, others)
