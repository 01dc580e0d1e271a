"""Decoding at any angle: a sweep over the circle, small tilts with short bars, distractors, near misses."""

from __future__ import annotations

import importlib

import cv2
import numpy as np
import pytest

from barcodes.decode import decode
from barcodes.scenes import scene_photos
from barcodes.synth import phone_photos, render_code, render_with_digits, short_bars


def _on_card(code: np.ndarray, degrees: float, tilt: float = 0.0, size: int = 900) -> np.ndarray:
    """``code`` on a grey card, turned ``degrees`` and tilted ``tilt`` (corner shift, fraction of its width)."""
    h, w = code.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    half = np.float32([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    half[1, 1] -= tilt * w
    half[2, 1] += tilt * w
    turn = cv2.getRotationMatrix2D((0, 0), degrees, 1.0)[:, :2].astype(np.float32)
    dst = half @ turn.T + np.float32([size / 2, size / 2])
    m = cv2.getPerspectiveTransform(src, dst)
    card = np.full((size, size), 150, np.uint8)
    warped = cv2.warpPerspective(code, m, (size, size), flags=cv2.INTER_AREA, borderValue=0)
    inside = cv2.warpPerspective(np.full_like(code, 255), m, (size, size), borderValue=0) > 128
    card[inside] = warped[inside]
    return cv2.GaussianBlur(card, (0, 0), 0.8)


_EAN = short_bars(render_with_digits("EAN-13", "6901234567892", 3), 0.35)
_UPC = short_bars(render_with_digits("UPC-A", "036000291452", 3), 0.3)


@pytest.mark.parametrize("degrees", range(0, 360, 25))
def test_short_ean13_is_read_at_every_angle(degrees: int) -> None:
    assert [d.text for d in decode(_on_card(_EAN, degrees))] == ["6901234567892"]


@pytest.mark.parametrize(("degrees", "tilt"), [(50, 0.04), (-50, -0.04), (130, 0.05), (5, 0.05), (95, -0.05)])
def test_tilted_upca_with_short_bars_is_read(degrees: int, tilt: float) -> None:
    assert [d.text for d in decode(_on_card(_UPC, degrees, tilt))] == ["036000291452"]


def test_two_codes_are_both_returned_and_never_mixed() -> None:
    card = _on_card(_EAN, 50, size=1100)
    qr = render_code("QR Code", "https://lims.example.cn/s/S1?sig=1", module_px=5)
    card[40 : 40 + qr.shape[0], 40 : 40 + qr.shape[1]] = qr
    ean8 = render_code("EAN-8", "69012341", module_px=3)
    card[-40 - ean8.shape[0] : -40, -40 - ean8.shape[1] : -40] = ean8
    texts = [d.text for d in decode(card)]
    assert sorted(texts) == sorted(["6901234567892", "69012341", "https://lims.example.cn/s/S1?sig=1"])


def _damaged(code: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A code with a band of bars painted over (ink smear or torn label): no decoder should complete it."""
    out = code.copy()
    w = out.shape[1]
    x0 = int(rng.uniform(0.2, 0.6) * w)
    out[:, x0 : x0 + int(rng.uniform(0.08, 0.2) * w)] = 0 if rng.random() < 0.5 else 255
    return out


@pytest.mark.parametrize("seed", range(12))
def test_damaged_codes_never_decode_to_a_wrong_number(seed: int) -> None:
    rng = np.random.default_rng(seed)
    text = ("6901234567892", "036000291452")[seed % 2]
    code = render_with_digits("EAN-13" if seed % 2 == 0 else "UPC-A", text, 3)
    code = short_bars(code, float(rng.uniform(0.25, 1.0)))
    found = decode(_on_card(_damaged(code, rng), float(rng.uniform(0, 360)), float(rng.uniform(-0.04, 0.04))))
    assert all(d.text == text for d in found), [d.text for d in found]


def test_generated_angle_photos_read_without_misreads() -> None:
    photos = list(phone_photos(16, seed=5, preset="angle"))
    assert any(p.others for p in photos)
    correct = 0
    for p in photos:
        texts = [d.text for d in decode(p.image)]
        assert all(t == p.text or t in p.others for t in texts), (p.symbology, p.text, p.others, texts)
        correct += p.text in texts
    assert correct >= 14


def test_angle_preset_leaves_the_other_presets_unchanged() -> None:
    a = next(phone_photos(1, seed=7, preset="phone"))
    assert a.others == ()
    assert a.image.shape == (960, 1280)


def test_heldout_scenes_are_deterministic_and_labelled() -> None:
    a, b = next(scene_photos(1, seed=3)), next(scene_photos(1, seed=3))
    assert np.array_equal(a.image, b.image)
    assert a.preset.startswith("heldout-") and a.text


_FULL_EAN = render_with_digits("EAN-13", "6901234567892", 3)
_FULL_UPC = render_with_digits("UPC-A", "036000291452", 3)


@pytest.mark.parametrize("degrees", [45, 135, 300])
@pytest.mark.parametrize(("code", "text"), [(_FULL_EAN, "6901234567892"), (_FULL_UPC, "036000291452")])
def test_code_turned_off_the_scan_lines_is_read(code: np.ndarray, text: str, degrees: int) -> None:
    assert [d.text for d in decode(_on_card(code, degrees))] == [text]


def _with_text_around(code: np.ndarray) -> np.ndarray:
    """The code on a label with lines of text above and below it, as printed on a pack."""
    h, w = code.shape
    label = np.full((h + 120, w + 40), 255, np.uint8)
    label[60 : 60 + h, 20 : 20 + w] = code
    for y, words in ((22, "NET WT 500g  LOT 250318"), (48, "BEST BEFORE 2026-05-01"), (h + 100, "MADE IN CHINA")):
        cv2.putText(label, words, (24, y), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 0, 2)
    return label


@pytest.mark.parametrize(("degrees", "tilt"), [(4, 0.03), (-6, -0.04), (183, 0.04)])
def test_tilted_upca_with_text_around_is_read(degrees: int, tilt: float) -> None:
    label = _with_text_around(_UPC)
    assert [d.text for d in decode(_on_card(label, degrees, tilt))] == ["036000291452"]


def test_picture_without_a_code_gives_nothing() -> None:
    # Stripes (single strong edges at one angle), a grid, circles and text: bar-like edges but no code.
    rng = np.random.default_rng(11)
    img = np.full((900, 1200), 170, np.uint8)
    for _ in range(6):
        x0 = int(rng.integers(-300, 1200))
        pts = np.array([[x0, 0], [x0 + 90, 0], [x0 + 400, 900], [x0 + 310, 900]], np.int32)
        cv2.fillPoly(img, [pts], int(rng.integers(20, 250)))
    for x in range(700, 1100, 14):
        cv2.line(img, (x, 600), (x, 850), 40, 2)
    for y in range(600, 850, 14):
        cv2.line(img, (700, y), (1100, y), 40, 2)
    for i in range(8):
        cv2.putText(img, "Ingredients: wheat, salt 500g", (40, 80 + 60 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 30, 2)
    cv2.circle(img, (900, 250), 150, 60, -1)
    img = cv2.GaussianBlur(img, (0, 0), 0.8)
    assert decode(img) == []


def test_half_an_ean13_along_a_row_is_no_upc_e() -> None:
    """A first-pass UPC-E that covers only part of a run of bars is a fragment of a longer code, refused."""
    decoding = importlib.import_module("barcodes.decode")  # the package exports a function of the same name

    code = render_code("EAN-13", "4710744316911", 3)
    h, w = code.shape
    card = np.full((h + 80, w + 80), 255, np.uint8)
    card[40 : 40 + h, 40 : 40 + w] = code
    view = decoding._View(card, decoding._identity())
    y = 40 + h // 2
    half = decoding.Decoded(
        "UPC-E", "171070000044", b"0171070000044", ((40 + w // 2, y), (40, y), (40, y + 2), (40 + w // 2, y + 2))
    )
    assert not decoding._not_a_fragment(view, half)
    ean8 = render_code("EAN-8", "96385074", 3)
    eh, ew = ean8.shape
    alone = np.full((eh + 80, ew + 80), 255, np.uint8)
    alone[40 : 40 + eh, 40 : 40 + ew] = ean8
    y = 40 + eh // 2
    whole = decoding.Decoded("EAN-8", "96385074", b"96385074", ((40 + ew, y), (40, y), (40, y + 2), (40 + ew, y + 2)))
    assert decoding._not_a_fragment(decoding._View(alone, decoding._identity()), whole)
    assert [d.text for d in decode(alone)] == ["96385074"]


def _leaning_on_card(code: np.ndarray, degrees: float, lean: float, size: int) -> np.ndarray:
    """``code`` on a card with its bars leaning ``lean`` degrees off square to its axis, turned ``degrees``.

    Perspective does this to a long code: turned so its bars stand upright, the code runs uphill."""
    h, w = code.shape
    t = float(np.tan(np.radians(lean)))
    half = np.float32(
        [
            [-w / 2 - t * h / 2, -h / 2],
            [w / 2 - t * h / 2, -h / 2],
            [w / 2 + t * h / 2, h / 2],
            [-w / 2 + t * h / 2, h / 2],
        ]
    )
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    turn = cv2.getRotationMatrix2D((0, 0), degrees, 1.0)[:, :2].astype(np.float32)
    m = cv2.getPerspectiveTransform(src, half @ turn.T + np.float32([size / 2, size / 2]))
    card = np.full((size, size), 150, np.uint8)
    warped = cv2.warpPerspective(code, m, (size, size), flags=cv2.INTER_AREA, borderValue=0)
    inside = cv2.warpPerspective(np.full_like(code, 255), m, (size, size), borderValue=0) > 128
    card[inside] = warped[inside]
    return cv2.GaussianBlur(card, (0, 0), 0.8)


_LONG = short_bars(render_code("Code 128", "S2027354505-LOT-250318", 3), 0.25)


@pytest.mark.parametrize(
    ("degrees", "lean", "size"), [(40, 10, 1100), (220, -10, 1100), (130, 8, 900), (305, -12, 900)]
)
def test_long_code_with_bars_leaning_off_its_axis_is_read(degrees: float, lean: float, size: int) -> None:
    card = _leaning_on_card(_LONG, degrees, lean, size)
    assert [d.text for d in decode(card)] == ["S2027354505-LOT-250318"]
