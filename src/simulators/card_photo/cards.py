"""Synthetic photos of colloidal-gold cards whose true line intensities are known, then lighting, colour cast,
blur, angle, noise and JPEG quality as a phone camera adds them.

A line of intensity I darkens the membrane by ``ABSORB[channel] × I`` at its centre (a purple-red colloidal-gold
line absorbs green most, blue less, red little), so an intensity of 1.0 takes half the green away; that is the
scale the reader reports on (0 … 1.5) and the one `instrument_drivers.card_photo.measure` measures back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import segno

from instrument_drivers.card_photo import codec

ABSORB = (0.30, 0.50, 0.15)  # darkening per unit intensity in B, G, R (OpenCV's channel order)
RENDER = 3.0  # pixels per card unit of the sharp card drawn before it is placed in the photo
Image = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Card:
    """One card in a photo: what it tests, its true line intensities, where it lies (fractions of the photo)."""

    item_code: str
    kit_lot: str
    t: float
    c: float
    angle: float = 0.0  # degrees, counter-clockwise


@dataclass(frozen=True)
class Shot:
    """How the photo is taken: size, lighting, colour cast, blur, tilt, noise and JPEG quality."""

    width: int = 640
    height: int = 480
    gain: float = 1.0  # overall exposure (1: the card's white at about 235)
    gradient: float = 0.0  # extra light from left to right (0.3: the right edge 30 % brighter than the left)
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)  # B, G, R gains of the light's colour
    blur: float = 0.0  # Gaussian sigma in photo pixels
    tilt: float = 0.0  # perspective: the top edge this fraction narrower than the bottom
    noise: float = 1.5  # sensor noise, standard deviation in 8-bit levels
    quality: int = 90  # JPEG quality (0: PNG)
    background: tuple[int, int, int] = (70, 95, 120)  # a wooden bench, B, G, R
    seed: int = 0
    scale: float = field(default=0.0)  # card units to photo pixels; 0: fit the cards to the photo's height


def _card_image(card: Card) -> tuple[Image, npt.NDArray[np.uint8]]:
    """The sharp card (float BGR at `RENDER` px per unit) and its outline mask."""
    w, h = int(codec.CARD_W * RENDER), int(codec.CARD_H * RENDER)
    img = np.empty((h, w, 3), np.float32)
    img[:] = (236.0, 238.0, 240.0)
    u = RENDER

    def box(x0: float, y0: float, x1: float, y1: float, colour: tuple[float, float, float]) -> None:
        img[int(y0 * u) : int(y1 * u), int(x0 * u) : int(x1 * u)] = colour

    qr = segno.make(codec.card_code(card.item_code, card.kit_lot), error="m", micro=False)
    matrix = np.array(list(qr.matrix), dtype=np.uint8)
    qx0, qy0, qx1, _qy1 = codec.QR_BOX
    side = int((qx1 - qx0) * u)
    cells = cv2.resize(matrix * 255, (side, side), interpolation=cv2.INTER_NEAREST)
    img[int(qy0 * u) : int(qy0 * u) + side, int(qx0 * u) : int(qx0 * u) + side] = np.where(
        cells[..., None] > 0, np.float32(25.0), np.float32(236.0)
    )
    wx0, wy0, wx1, wy1 = codec.WINDOW
    bevel = codec.BEVEL
    box(wx0 - bevel, wy0 - bevel, wx1 + bevel, wy1 + bevel, (150.0, 152.0, 155.0))
    box(wx0, wy0, wx1, wy1, (228.0, 232.0, 236.0))  # the nitrocellulose membrane, slightly warm
    ys = (np.arange(int(wy0 * u), int(wy1 * u)) + 0.5) / u
    for centre, intensity in ((codec.C_LINE_Y, card.c), (codec.T_LINE_Y, card.t)):
        # a printed line: flat across its width, with soft edges as the gold spreads in the membrane
        shape = np.clip((codec.LINE_WIDTH / 2 + 0.6 - np.abs(ys - centre)) / 1.2, 0.0, 1.0).astype(np.float32)
        rows = slice(int(wy0 * u), int(wy1 * u))
        cols = slice(int(wx0 * u), int(wx1 * u))
        for ch, k in enumerate(ABSORB):
            img[rows, cols, ch] *= (1.0 - k * intensity * shape)[:, None]
    font = cv2.FONT_HERSHEY_SIMPLEX
    ink = np.zeros((h, w), np.uint8)
    for label, y in (("C", codec.C_LINE_Y), ("T", codec.T_LINE_Y)):
        cv2.putText(ink, label, (int(14 * u), int((y + 4) * u)), font, 0.35 * u, 255, max(1, int(u)))
    img[ink > 0] = (60.0, 60.0, 60.0)
    cx, cy, r = codec.WELL
    cv2.circle(img, (int(cx * u), int(cy * u)), int(r * u), (175, 178, 180), -1)
    cv2.circle(img, (int(cx * u), int(cy * u)), int((r - 4) * u), (205, 205, 200), -1)
    mask = np.full((h, w), 255, np.uint8)
    return img, mask


def photo(cards: list[Card], shot: Shot | None = None) -> bytes:
    """A photo of `cards` side by side, taken as `shot` says, as JPEG (or PNG) bytes."""
    shot = shot or Shot()
    rng = np.random.default_rng(shot.seed)
    rand = random.Random(shot.seed)
    canvas: npt.NDArray[Any] = np.empty((shot.height, shot.width, 3), np.float32)
    canvas[:] = shot.background
    xx = np.mgrid[0 : shot.height, 0 : shot.width][1].astype(np.float32)
    grain = cv2.GaussianBlur(rng.normal(0, 8, (shot.height, shot.width)).astype(np.float32), (0, 0), 3)
    canvas += grain[..., None]
    n = max(1, len(cards))
    scale = shot.scale or min(0.78 * shot.height / codec.CARD_H, 0.8 * shot.width / n / codec.CARD_W)
    for i, card in enumerate(cards):
        img, mask = _card_image(card)
        centre = ((i + 0.5) / n * shot.width + rand.uniform(-0.02, 0.02) * shot.width, shot.height / 2)
        m = cv2.getRotationMatrix2D((img.shape[1] / 2, img.shape[0] / 2), card.angle, scale / RENDER)
        m[0, 2] += centre[0] - img.shape[1] / 2
        m[1, 2] += centre[1] - img.shape[0] / 2
        size = (shot.width, shot.height)
        placed = cv2.warpAffine(img, m, size, flags=cv2.INTER_AREA)
        # the card's edge, antialiased: the mask is warped the same way
        alpha = cv2.warpAffine(mask.astype(np.float32) / 255, m, size, flags=cv2.INTER_LINEAR)[..., None]
        shadow = cv2.GaussianBlur(alpha, (0, 0), 4)[..., None] * 0.35
        canvas = canvas * (1 - shadow) * (1 - alpha) + placed * alpha
    if shot.tilt:
        w, h = shot.width, shot.height
        d = shot.tilt * w / 2
        src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
        dst = np.array([[d, 0], [w - d, 0], [w, h], [0, h]], dtype=np.float32)
        canvas = cv2.warpPerspective(canvas, cv2.getPerspectiveTransform(src, dst), (w, h), borderValue=shot.background)
    light = shot.gain * (1.0 + shot.gradient * (xx / shot.width - 0.5))
    canvas *= light[..., None] * np.array(shot.cast, dtype=np.float32)
    if shot.blur > 0:
        canvas = cv2.GaussianBlur(canvas, (0, 0), shot.blur)
    canvas += rng.normal(0, shot.noise, canvas.shape).astype(np.float32)
    out = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
    if shot.quality:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(shot.quality)])
    else:
        ok, data = cv2.imencode(".png", out)
    assert ok
    return bytes(data.tobytes())


def realistic_shot(rng: random.Random, width: int = 640, height: int = 480) -> Shot:
    """A phone photo as testers take them: auto-exposure (the brightest white at 75-97 % of full scale), light
    fall-off, a colour cast, a little blur and tilt, sensor noise, JPEG."""
    gradient = rng.uniform(-0.25, 0.25)
    cast = (rng.uniform(0.85, 1.1), rng.uniform(0.92, 1.05), rng.uniform(0.9, 1.15))
    brightest = 240.0 * max(cast) * (1 + abs(gradient) / 2)
    return Shot(
        width=width,
        height=height,
        gain=rng.uniform(0.75, 0.97) * 255 / brightest,
        gradient=gradient,
        cast=cast,
        blur=rng.uniform(0.0, 1.0),
        tilt=rng.uniform(0.0, 0.06),
        noise=rng.uniform(1.0, 3.0),
        quality=rng.randint(70, 95),
        background=(rng.randint(50, 110), rng.randint(60, 120), rng.randint(70, 140)),
        seed=rng.randrange(1 << 30),
    )
