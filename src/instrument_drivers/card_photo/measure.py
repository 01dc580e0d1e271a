"""Measure colloidal-gold cards in a photo: find each card and its result window, the C and T lines, each
line's intensity from the background-corrected profile along the strip, and T/C; refuse a photo that cannot be
measured (blurred, over- or under-exposed, no card) with the reason.

Pure: bytes in, `PhotoMeasurement` out. Intensities are on the reader's scale (1.0 takes half of the membrane's
green away over the printed line width, see `codec`): the profile is the membrane's relative darkening
``1 - green / background`` with the background fitted along the strip away from the lines, so light level,
light fall-off and colour cast divide out; a line's intensity is the area of its peak, which blur and JPEG
smear but do not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from barcodes.imageio import ImageError, first_frame
from barcodes.messages import _N
from instrument_drivers.card_photo import codec

PX = 2.0  # pixels per card unit of the straightened card the lines are measured on
GREEN_ABSORB = 0.5  # the green darkening of a line of intensity 1.0 (the scale's definition)
SEARCH = 12.0  # card units a line may sit away from where the kit prints it
HALF_SPAN = 7.0  # card units either side of a line's centre its area is taken over
MIN_CARD_AREA = 0.015  # fraction of the photo a card must cover to be measured
# Refusal thresholds, set on synthetic photos (bench/cards.py): a sharp phone photo scores 0.25-0.6 on the
# code's edge sharpness, one blurred by 2.5 px or more below 0.12 (its lines then merge into the background).
MIN_SHARPNESS = 0.12
MIN_MEMBRANE = 45.0  # green level of the membrane below which the photo is too dark to measure
MAX_CLIPPED = 0.10  # fraction of the membrane with green at full scale above which it is over-exposed

Array = npt.NDArray[Any]


# Why a photo is refused: a message id per code (English, `{name}` parameters), translated by the application.
REFUSALS: dict[str, str] = {
    "not_image": _N("not a usable image: {problem}"),
    "card_not_upright": _N("a card lies on its side; photograph the cards upright"),
    "blurred": _N("card {card} is blurred; hold the phone still and photograph it again"),
    "underexposed": _N("the photo is too dark to measure; add light and photograph it again"),
    "overexposed": _N("the photo is over-exposed; avoid direct light and photograph it again"),
    "no_card": _N("no card found in the photo; photograph the cards upright on a dark surface"),
    "too_many_cards": _N("more than {count} cards in one photo"),
    "no_item": _N("the code of card {card} cannot be read; choose the item"),
}


class PhotoRefused(ValueError):
    """A photo that cannot be measured; `code` (a key of REFUSALS) says why, `params` fill its message (the
    code's own, unless a finer one is given)."""

    def __init__(self, code: str, message_id: str | None = None, **params: Any) -> None:
        self.code = code
        self.params = params
        self.message_id = message_id or REFUSALS[code]
        super().__init__(self.message_id.format(**params))


@dataclass(frozen=True)
class CardMeasurement:
    """One card: its printed code, the line intensities, T/C, and where it was measured in the photo."""

    position: int  # 1-based, left to right
    item_code: str | None
    kit_lot: str | None
    t: float
    c: float
    tc: float | None
    sharpness: float
    window: list[list[float]]  # the result window's corners in photo pixels (TL, TR, BR, BL)
    c_line: list[list[float]]  # the C line's two ends in photo pixels
    t_line: list[list[float]]
    profile: list[float]  # relative darkening along the window, top to bottom, one value per card unit

    def as_raw(self) -> dict[str, Any]:
        """JSON-ready figures and geometry."""
        return {
            "card": self.position,
            "t": self.t,
            "c": self.c,
            "tc": self.tc,
            "item_code": self.item_code,
            "kit_lot": self.kit_lot,
            "sharpness": self.sharpness,
            "window": self.window,
            "c_line": self.c_line,
            "t_line": self.t_line,
            "profile": self.profile,
        }


@dataclass(frozen=True)
class PhotoMeasurement:
    width: int
    height: int
    cards: list[CardMeasurement] = field(default_factory=list)


def decode(data: bytes) -> Array:
    """The photo as 8-bit BGR, bounded like every image (`barcodes.imageio`); `PhotoRefused` otherwise."""
    try:
        kind, _w, _h, frame = first_frame(data)
    except ImageError as exc:
        raise PhotoRefused("not_image", problem=exc.reason) from None
    if kind not in ("jpeg", "png"):
        raise PhotoRefused("not_image", _N("not a usable image: a card photo is a JPEG or PNG, not {kind}"), kind=kind)
    img = cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise PhotoRefused("not_image", _N("not a usable image: the data could not be decoded"))
    return img


def _order(box: Array) -> Array:
    """The corners of a card's rectangle as top-left, top-right, bottom-right, bottom-left, long side upright."""
    pts = box[np.argsort(box[:, 1])]
    # the two highest corners are the top edge unless the card lies closer to horizontal than vertical
    top, bottom = pts[:2][np.argsort(pts[:2, 0])], pts[2:][np.argsort(pts[2:, 0])]
    tl, tr, bl, br = top[0], top[1], bottom[0], bottom[1]
    if np.linalg.norm(tr - tl) > np.linalg.norm(bl - tl):  # lying on its side: not a photo we measure
        raise PhotoRefused("card_not_upright")
    return np.array([tl, tr, br, bl], dtype=np.float32)


def _find_cards(img: Array) -> list[Array]:
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    smooth = cv2.GaussianBlur(gray, (0, 0), 2)
    _t, mask = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found = []
    for contour in contours:
        if cv2.contourArea(contour) < MIN_CARD_AREA * img.shape[0] * img.shape[1]:
            continue
        rect = cv2.minAreaRect(contour)
        w, h = sorted(rect[1])
        if not 2.2 <= h / max(w, 1.0) <= 4.0:
            continue
        found.append(_order(cv2.boxPoints(rect)))
    return sorted(found, key=lambda corners: float(corners[:, 0].mean()))


def _straighten(img: Array, corners: Array) -> tuple[Array, Array]:
    """The card straightened to `PX` pixels per card unit, and the transform back to the photo."""
    w, h = int(codec.CARD_W * PX), int(codec.CARD_H * PX)
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    forward = cv2.getPerspectiveTransform(corners, dst)
    card = cv2.warpPerspective(img, forward, (w, h), flags=cv2.INTER_AREA)
    gray = cv2.cvtColor(card, cv2.COLOR_BGR2GRAY)
    u = int(PX)
    top = gray[int(codec.QR_BOX[1]) * u : int(codec.QR_BOX[3]) * u].mean()
    bottom = gray[h - int(codec.QR_BOX[3]) * u : h - int(codec.QR_BOX[1]) * u].mean()
    if bottom < top:  # the code is at the bottom: the card is upside down
        corners = np.roll(corners, 2, axis=0)
        forward = cv2.getPerspectiveTransform(corners, dst)
        card = cv2.warpPerspective(img, forward, (w, h), flags=cv2.INTER_AREA)
    return card, np.linalg.inv(forward)


def _code(card: Array) -> tuple[str | None, str | None]:
    x0, y0, x1, y1 = (int(v * PX) for v in codec.QR_BOX)
    margin = int(8 * PX)
    region = cv2.cvtColor(
        card[max(0, y0 - margin) : y1 + margin, max(0, x0 - margin) : x1 + margin], cv2.COLOR_BGR2GRAY
    )
    for found in zxingcpp.read_barcodes(region, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)):
        parsed = codec.parse_code(found.text)
        if parsed is not None:
            return parsed
    return None, None


def _sharpness(card: Array) -> float:
    """Edge sharpness of the printed code: the steepest 10 % of its gradients over its contrast."""
    x0, y0, x1, y1 = (int(v * PX) for v in codec.QR_BOX)
    region = cv2.cvtColor(card[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY).astype(np.float32)
    gx = cv2.Sobel(region, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(region, cv2.CV_32F, 0, 1, ksize=3) / 8
    grad = np.hypot(gx, gy)
    contrast = float(np.percentile(region, 95) - np.percentile(region, 5))
    if contrast < 20:
        return 0.0
    return float(np.percentile(grad, 97) / contrast)


def _window_edges(gray: Array) -> tuple[float, float, float, float]:
    """The result window's opening, found from its darker bevel near where the card prints it (card units)."""
    x0, y0, x1, y1 = codec.WINDOW
    b = codec.BEVEL
    band = 6.0

    def darkest(profile: Array, lo: float, hi: float) -> float:
        a, z = int(lo * PX), int(hi * PX)
        return (a + float(np.argmin(profile[a:z]))) / PX

    mid_cols = gray[:, int((x0 + 6) * PX) : int((x1 - 6) * PX)].mean(axis=1)
    mid_rows = gray[int((y0 + 6) * PX) : int((y1 - 6) * PX)].mean(axis=0)
    top = darkest(mid_cols, y0 - b / 2 - band, y0 - b / 2 + band) + b / 2
    bottom = darkest(mid_cols, y1 + b / 2 - band, y1 + b / 2 + band) - b / 2
    left = darkest(mid_rows, x0 - b / 2 - band, x0 - b / 2 + band) + b / 2
    right = darkest(mid_rows, x1 + b / 2 - band, x1 + b / 2 + band) - b / 2
    return left, top, right, bottom


def _to_photo(back: Array, points: list[tuple[float, float]]) -> list[list[float]]:
    pts = np.array([[x * PX, y * PX] for x, y in points], dtype=np.float32).reshape(-1, 1, 2)
    return [[round(float(x), 1), round(float(y), 1)] for x, y in cv2.perspectiveTransform(pts, back).reshape(-1, 2)]


def _measure_card(img: Array, corners: Array, position: int) -> CardMeasurement:
    card, back = _straighten(img, corners)
    sharpness = _sharpness(card)
    if sharpness < MIN_SHARPNESS:
        raise PhotoRefused("blurred", card=position)
    gray = cv2.cvtColor(card, cv2.COLOR_BGR2GRAY).astype(np.float32)
    left, top, right, bottom = _window_edges(gray)
    width = right - left
    cols = slice(int((left + 0.2 * width) * PX), int((right - 0.2 * width) * PX))
    rows = slice(int((top + 1.5) * PX), int((bottom - 1.5) * PX))
    membrane = card[rows, cols]
    green = np.median(membrane[:, :, 1].astype(np.float32), axis=1)
    if float(np.median(green)) < MIN_MEMBRANE:
        raise PhotoRefused("underexposed")
    if float((membrane[:, :, 1] >= 250).mean()) > MAX_CLIPPED:  # the measured channel at full scale
        raise PhotoRefused("overexposed")
    y = top + 1.5 + (np.arange(len(green)) + 0.5) / PX  # card units of each profile row
    expected = {"c": codec.C_LINE_Y - codec.WINDOW[1] + top, "t": codec.T_LINE_Y - codec.WINDOW[1] + top}
    rough = 1.0 - green / float(np.percentile(green, 80))
    centres = {}
    for name, where in expected.items():
        near = np.abs(y - where) <= SEARCH
        centres[name] = float(y[near][np.argmax(rough[near])]) if near.any() else where
    away = np.ones_like(y, dtype=bool)
    for centre in centres.values():
        away &= np.abs(y - centre) > HALF_SPAN + 1.0
    coeffs = np.polyfit(y[away], green[away], 1) if away.sum() >= 8 else [0.0, float(np.median(green))]
    background = np.polyval(coeffs, y)
    darkening = 1.0 - green / np.maximum(background, 1.0)
    intensity = {}
    for name, centre in centres.items():
        span = np.abs(y - centre) <= HALF_SPAN
        area = float(darkening[span].sum()) / PX
        intensity[name] = max(0.0, area / (codec.LINE_WIDTH * GREEN_ABSORB))
    c, t = round(intensity["c"], 4), round(intensity["t"], 4)
    item_code, kit_lot = _code(card)
    steps = np.arange(np.ceil(top + 1.5), bottom - 1.5)
    profile = [round(float(np.interp(s, y, darkening)), 4) for s in steps]
    return CardMeasurement(
        position=position,
        item_code=item_code,
        kit_lot=kit_lot,
        t=t,
        c=c,
        tc=round(t / c, 4) if c > 0 else None,
        sharpness=round(sharpness, 4),
        window=_to_photo(back, [(left, top), (right, top), (right, bottom), (left, bottom)]),
        c_line=_to_photo(back, [(left, centres["c"]), (right, centres["c"])]),
        t_line=_to_photo(back, [(left, centres["t"]), (right, centres["t"])]),
        profile=profile,
    )


def measure(data: bytes) -> PhotoMeasurement:
    """Every card of the photo `data`, left to right; `PhotoRefused` when the photo cannot be measured."""
    img = decode(data)
    gray_level = float(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).mean())
    if gray_level < 25:
        raise PhotoRefused("underexposed")
    corners = _find_cards(img)
    if not corners:
        if gray_level > 200:
            raise PhotoRefused("overexposed")
        raise PhotoRefused("no_card")
    if len(corners) > codec.MAX_CARDS:
        raise PhotoRefused("too_many_cards", count=codec.MAX_CARDS)
    cards = [_measure_card(img, box, n) for n, box in enumerate(corners, 1)]
    return PhotoMeasurement(width=int(img.shape[1]), height=int(img.shape[0]), cards=cards)
