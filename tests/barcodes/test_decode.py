"""Decoder: clean and generated images, shared real samples, GB 18030 text, hostile inputs."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import segno
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from barcodes.decode import decode
from barcodes.imageio import MAX_PIXELS, ImageError, header_size, load_gray
from barcodes.synth import SYNTH_SYMBOLOGIES, phone_photos, render_code

SAMPLES = Path("/work/shared/benchmarks/zxing-samples")


def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize(
    ("symbology", "text"),
    [
        ("EAN-13", "6901234567892"),
        ("EAN-8", "69012341"),
        ("UPC-A", "036000291452"),
        ("Code 128", "S2026000123"),
        ("QR Code", "https://lims.example.cn/s/S1?sig=abc"),
    ],
)
def test_clean_render_reads_back(symbology: str, text: str) -> None:
    img = np.pad(render_code(symbology, text), 40, constant_values=255)
    found = decode(img)
    assert [(d.symbology, d.text) for d in found] == [(symbology, text)]
    assert len(found[0].corners) == 4


def test_upce_is_reported_as_its_gtin12() -> None:
    import zxingcpp

    code = zxingcpp.create_barcode("01234565", zxingcpp.BarcodeFormat.UPCE)
    img = np.pad(np.array(code.to_image(scale=4)), 40, constant_values=255)
    (d,) = decode(img)
    assert (d.symbology, d.text) == ("UPC-E", "012345000065")
    assert d.raw


def test_gs1_code128_and_datamatrix_are_flagged_and_parse() -> None:
    for symbology in ("GS1-128", "GS1 DataMatrix"):
        img = np.pad(render_code(symbology, "(01)06901234567892(17)261231(10)L7"), 40, constant_values=255)
        (d,) = decode(_png(img))
        assert d.gs1
        assert d.text == "0106901234567892" + "17261231" + "10L7"


def test_gs1_symbol_with_bad_content_is_returned_with_the_reason() -> None:
    # zxing-cpp's sample: a GS1-128 symbol (FNC1 first) holding "168901", which is no valid AI 16 date.
    # Its Code 128 check character vouches for the read, so the code is reported, marked as bad GS1.
    (d,) = decode(SAMPLES / "code128-1" / "1.png")
    assert (d.symbology, d.text, d.gs1) == ("Code 128", "168901", True)
    assert "(16)" in d.gs1_error
    (good,) = decode(_png(np.pad(render_code("GS1-128", "(01)06901234567892"), 40, constant_values=255)))
    assert good.gs1 and good.gs1_error == ""


def test_gb18030_qr_text_is_decoded_from_raw_bytes() -> None:
    qr = segno.make("康师傅红烧牛肉面", encoding="gb18030", micro=False)
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=5)
    (d,) = decode(buf.getvalue())
    assert d.text == "康师傅红烧牛肉面"
    assert d.raw == "康师傅红烧牛肉面".encode("gb18030")


def test_generated_photos_are_deterministic() -> None:
    a = next(phone_photos(1, seed=7))
    b = next(phone_photos(1, seed=7))
    assert np.array_equal(a.image, b.image)
    assert a.text == b.text


@pytest.mark.parametrize("preset", ["phone", "hard"])
def test_generated_photos_decode_without_misreads(preset: str) -> None:
    photos = list(phone_photos(3 * len(SYNTH_SYMBOLOGIES), seed=11, preset=preset))
    correct = 0
    for p in photos:
        found = decode(p.image)
        assert all(d.text == p.text for d in found), (p.symbology, [d.text for d in found])
        correct += any(d.text == p.text and d.raw == p.raw for d in found) or p.text in {d.text for d in found}
    assert correct >= len(photos) - 2


def test_generated_photos_cover_every_symbology() -> None:
    photos = list(phone_photos(len(SYNTH_SYMBOLOGIES), seed=3))
    assert [p.symbology for p in photos] == list(SYNTH_SYMBOLOGIES)
    assert all(p.image.shape == (960, 1280) and p.image.dtype == np.uint8 for p in photos)
    assert all(p.preset.startswith("phone-") for p in photos)


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared samples not present")
@pytest.mark.parametrize("folder", ["ean13-3", "qrcode-3", "datamatrix-4", "upca-3", "code128-2"])
def test_shared_samples_folder(folder: str) -> None:
    correct = total = 0
    for img in sorted((SAMPLES / folder).glob("*.webp"))[:8]:
        expected = img.with_suffix(".txt").read_bytes().decode()
        texts = [d.text.zfill(13) if d.symbology == "UPC-A" else d.text for d in decode(img)]
        total += 1
        correct += expected in texts
    assert correct >= total - 1


@pytest.mark.parametrize("name", ["1.webp", "2.webp"])
def test_aliased_bars_are_not_read_as_another_number(name: str) -> None:
    # UPC-A 023942431015 photographed with bars near the pixel pitch: zxing-cpp and pyzbar both read
    # 9074932437075 at full size (its check digit holds); the enlarged crop reads the true number.
    texts = [d.text for d in decode(SAMPLES / "upca-4" / name)]
    assert "9074932437075" not in texts
    assert texts in ([], ["023942431015"])


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared samples not present")
def test_falsepositives_report_nothing() -> None:
    for img in sorted((SAMPLES / "falsepositives-2").glob("*.webp"))[:10]:
        assert decode(img) == [], img.name


# --------------------------------------------------------------------------- hostile inputs


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def test_non_image_is_rejected() -> None:
    with pytest.raises(ImageError) as err:
        decode(b"%PDF-1.4 not an image at all")
    assert err.value.code == "not_image"
    with pytest.raises(ImageError):
        decode(b"")


def test_truncated_files_are_rejected() -> None:
    data = _png(np.full((200, 300), 255, np.uint8))
    with pytest.raises(ImageError) as err:
        decode(data[: len(data) // 2])
    assert err.value.code == "truncated"
    ok, jpg = cv2.imencode(".jpg", np.random.default_rng(1).integers(0, 255, (300, 300), dtype=np.uint8))
    assert ok
    with pytest.raises(ImageError) as err:
        decode(jpg.tobytes()[:-2000])
    assert err.value.code == "truncated"


def test_decompression_bomb_is_refused_from_header() -> None:
    # A tiny file that claims 100 000 x 100 000 pixels: refused before any pixel is decoded.
    bomb = _png_header_only(100_000, 100_000) + b"\x00" * 64
    assert header_size(bomb) == ("png", 100_000, 100_000)
    with pytest.raises(ImageError) as err:
        decode(bomb)
    assert err.value.code == "too_large"


def test_real_compressed_bomb_is_refused() -> None:
    # 10 000 x 6 000 white pixels compress to a few hundred kilobytes.
    side = (10_000, 6_000)
    raw = zlib.compress(b"".join(b"\x00" + b"\xff" * side[0] for _ in range(side[1])), 9)
    idat = b"IDAT" + raw
    png = (
        _png_header_only(*side)
        + struct.pack(">I", len(raw))
        + idat
        + struct.pack(">I", zlib.crc32(idat))
        + b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    assert len(png) < 1_000_000
    with pytest.raises(ImageError) as err:
        load_gray(png)
    assert err.value.code == "too_large"
    assert MAX_PIXELS < 10_000 * 6_000


def test_huge_array_is_refused() -> None:
    big = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape=(10_000, 10_000), strides=(0, 0))
    with pytest.raises(ImageError) as err:
        decode(big)
    assert err.value.code == "too_large"


def test_missing_path_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as err:
        decode(tmp_path / "nope.png")
    assert err.value.code == "unreadable"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"])
def test_image_formats_load(fmt: str) -> None:
    from PIL import Image

    img = np.pad(render_code("EAN-13", "6920152400012"), 30, constant_values=255)
    buf = io.BytesIO()
    Image.fromarray(img).convert("RGB" if fmt == "JPEG" else "L").save(buf, format=fmt)
    assert [d.text for d in decode(buf.getvalue())] == ["6920152400012"]


def test_jpeg_and_gif_headers_claiming_huge_sizes_are_refused() -> None:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 60_000, 60_000, 1) + b"\x01\x11\x00"
    jpeg = b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9 + sof + b"\x00" * 64
    assert header_size(jpeg) == ("jpeg", 60_000, 60_000)
    gif = b"GIF89a" + struct.pack("<HH", 65_535, 65_535) + b"\x00" * 64
    for data in (jpeg, gif):
        with pytest.raises(ImageError) as err:
            decode(data)
        assert err.value.code == "too_large"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    try:
        assert isinstance(decode(data), list)
    except ImageError as err:
        assert err.code in {"not_image", "truncated", "too_large"}


_VALID_PNG = _png(np.pad(render_code("QR Code", "https://x.example/s/1"), 8, constant_values=255))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(_VALID_PNG) - 1), st.integers(0, 255), st.integers(1, len(_VALID_PNG)))
def test_damaged_png_never_crashes(pos: int, value: int, cut: int) -> None:
    data = bytearray(_VALID_PNG[:cut])
    if pos < len(data):
        data[pos] = value
    try:
        found = decode(bytes(data))
    except ImageError as err:
        assert err.code in {"not_image", "truncated", "too_large"}  # a flipped header byte can claim any size
    else:
        assert all(d.text == "https://x.example/s/1" for d in found)


def _frames(fmt: str, frames: list[np.ndarray]) -> bytes:
    from PIL import Image

    images = [Image.fromarray(f).convert("RGB" if fmt == "WEBP" else "L") for f in frames]
    buf = io.BytesIO()
    extra = {"lossless": True} if fmt == "WEBP" else {}
    images[0].save(buf, format=fmt, save_all=True, append_images=images[1:], **extra)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP", "TIFF"])
def test_only_the_first_frame_or_page_is_decoded(fmt: str) -> None:
    from barcodes.imageio import first_frame

    code = np.pad(render_code("EAN-13", "6920152400012"), 30, constant_values=255)
    blank = np.full_like(code, 255)
    assert [d.text for d in decode(_frames(fmt, [code, blank]))] == ["6920152400012"]
    assert decode(_frames(fmt, [blank, code])) == []
    three = _frames(fmt, [code, blank, blank])
    kind, _w, _h, alone = first_frame(three)
    if kind == "gif":  # one image descriptor left, then the trailer
        assert alone.endswith(b";") and len(alone) < len(three)
    elif kind in ("png", "webp"):  # the animation chunks are gone
        assert b"acTL" not in alone and b"fcTL" not in alone and b"ANMF" not in alone
    assert [d.text for d in decode(alone)] == ["6920152400012"]


def test_a_huge_later_frame_or_page_is_refused_though_only_the_first_would_be_read() -> None:
    from barcodes import hostile

    for data in (hostile.gif_frames([(16, 16), (9000, 9000)]), hostile.tiff_with_huge_second_page()):
        with pytest.raises(ImageError) as err:
            load_gray(data)
        assert err.value.code == "too_large"
