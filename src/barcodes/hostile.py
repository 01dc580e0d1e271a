"""Hostile image files for tests and benchmarks: bombs, huge frames in small canvases, damaged files.

Each is built byte by byte in milliseconds and stays small on disk; what it claims (or would decode to)
is far beyond what ``barcodes.imageio`` accepts. ``corpus()`` names them all.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

__all__ = [
    "apng_with_huge_frame",
    "bmp_header",
    "corpus",
    "gif_tiny_bomb",
    "gif_with_huge_frame",
    "jpeg_header",
    "png_bomb",
    "png_header",
    "small_png",
    "tiff_bomb",
    "tiff_with_huge_second_page",
    "truncated",
    "webp_animation_with_huge_frame",
    "webp_header",
]


# --------------------------------------------------------------------------- GIF


def _lzw_uniform(n_pixels: int, min_code: int = 2) -> bytes:
    """GIF LZW data for ``n_pixels`` of colour 0: each code repeats the longest run known so far."""
    clear, eoi = 1 << min_code, (1 << min_code) + 1
    out = bytearray()
    acc = nbits = 0

    def emit(code: int, width: int) -> None:
        nonlocal acc, nbits
        acc |= code << nbits
        nbits += width
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8

    width = min_code + 1
    emit(clear, width)
    next_code, known, first = eoi + 1, 1, True
    remaining = n_pixels
    while remaining > 0:
        length = min(known, remaining)
        emit(0 if length == 1 else eoi + length - 1, width)
        remaining -= length
        known += length == known
        if first:
            first = False
        else:
            next_code += 1
            if next_code == 1 << width and width < 12:
                width += 1
        if next_code >= 4094:  # table full: start again
            emit(clear, width)
            width, next_code, known, first = min_code + 1, eoi + 1, 1, True
    emit(eoi, width)
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def _sub_blocks(data: bytes) -> bytes:
    return b"".join(bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255)) + b"\x00"


def _gif(screen: tuple[int, int], frames: list[tuple[int, int, bytes]]) -> bytes:
    palette = b"\x00\x00\x00\xff\xff\xff\x80\x80\x80\x40\x40\x40"
    out = b"GIF89a" + struct.pack("<HHBBB", *screen, 0xF1, 0, 0) + palette
    for w, h, lzw in frames:
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, 0) + b"\x02" + _sub_blocks(lzw)
    return out + b";"


def gif_with_huge_frame(screen: tuple[int, int] = (16, 16), frame: tuple[int, int] = (12000, 12000)) -> bytes:
    """A GIF whose logical screen is small but whose one frame really holds ``frame`` pixels (~100 KB)."""
    return _gif(screen, [(frame[0], frame[1], _lzw_uniform(frame[0] * frame[1]))])


def gif_tiny_bomb() -> bytes:
    """35 bytes: a 16×16 screen with a two-colour palette and a 65535×65535 frame holding one code."""
    screen = struct.pack("<HHBBB", 16, 16, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 65535, 65535, 0) + b"\x02\x02\x4c\x01\x00"
    return b"GIF89a" + screen + frame + b";"


def gif_frames(frames: list[tuple[int, int]], screen: tuple[int, int] = (16, 16)) -> bytes:
    """A GIF of blank frames of the given sizes (a later frame may be the hostile one)."""
    return _gif(screen, [(w, h, _lzw_uniform(w * h)) for w, h in frames])


# --------------------------------------------------------------------------- PNG


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _ihdr(width: int, height: int) -> bytes:
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width``×``height`` and holds a few bytes of data."""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _ihdr(width, height)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def small_png(width: int = 8, height: int = 8) -> bytes:
    """A valid white greyscale PNG."""
    raw = b"".join(b"\x00" + b"\xff" * width for _ in range(height))
    return b"\x89PNG\r\n\x1a\n" + _ihdr(width, height) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def png_bomb(width: int = 10_000, height: int = 6_000) -> bytes:
    """A real, valid PNG of white pixels that compresses ~1000:1 (60 MP in about 70 KB).

    One block of rows is compressed once after a full flush (so its bytes do not depend on what came
    before) and repeated; the stream's checksum is computed over the whole image."""
    row = b"\x00" + b"\xff" * width
    rows_per_block = 100
    blocks, rest = divmod(height, rows_per_block)
    block = row * rows_per_block
    packer = zlib.compressobj(9)
    first = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    last = packer.compress(row * rest) + packer.flush()
    checksum = 1
    for _ in range(blocks):
        checksum = zlib.adler32(block, checksum)
    checksum = zlib.adler32(row * rest, checksum)
    data = first + again * (blocks - 1) + last[:-4] + struct.pack(">I", checksum)
    return b"\x89PNG\r\n\x1a\n" + _ihdr(width, height) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def apng_with_huge_frame(frame: tuple[int, int] = (20_000, 20_000)) -> bytes:
    """An animated PNG whose default image is 8×8 and whose animation frame claims ``frame``."""
    plain = small_png()
    head, tail = plain[:33], plain[33:]  # signature + IHDR, then IDAT + IEND
    actl = _chunk(b"acTL", struct.pack(">II", 2, 0))
    fctl0 = _chunk(b"fcTL", struct.pack(">IIIIIHHBB", 0, 8, 8, 0, 0, 1, 10, 0, 0))
    fctl1 = _chunk(b"fcTL", struct.pack(">IIIIIHHBB", 1, frame[0], frame[1], 0, 0, 1, 10, 0, 0))
    fdat = _chunk(b"fdAT", struct.pack(">I", 2) + zlib.compress(b"\x00" * 64))
    idat_end = tail.index(b"IEND") - 4
    return head + actl + fctl0 + tail[:idat_end] + fctl1 + fdat + tail[idat_end:]


# --------------------------------------------------------------------------- TIFF


def _ifd(entries: list[tuple[int, int, int, int]], next_offset: int) -> bytes:
    body = b"".join(
        struct.pack("<HHI", tag, typ, n) + (struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value))
        for tag, typ, n, value in sorted(entries)
    )
    return struct.pack("<H", len(entries)) + body + struct.pack("<I", next_offset)


def _tiff_page(width: int, height: int, strip_offset: int, next_offset: int) -> bytes:
    return _ifd(
        [
            (256, 4, 1, width),
            (257, 4, 1, height),
            (258, 3, 1, 8),
            (259, 3, 1, 1),
            (262, 3, 1, 1),
            (273, 4, 1, strip_offset),
            (277, 3, 1, 1),
            (278, 4, 1, height),
            (279, 4, 1, width * height),
        ],
        next_offset,
    )


def tiff_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A one-page TIFF that claims ``width``×``height`` and holds 64 bytes."""
    ifd = _tiff_page(width, height, 8, 0)
    return b"II*\x00" + struct.pack("<I", 8 + 64) + b"\xff" * 64 + ifd


def tiff_with_huge_second_page(second: tuple[int, int] = (30_000, 30_000)) -> bytes:
    """A valid 8×8 first page followed by a second page that claims ``second``."""
    pixels = b"\xff" * 64
    first_at = 8 + len(pixels)
    first = _tiff_page(8, 8, 8, 0)
    second_at = first_at + len(first)
    first = _tiff_page(8, 8, 8, second_at)
    return b"II*\x00" + struct.pack("<I", first_at) + pixels + first + _tiff_page(*second, 8, 0)


# --------------------------------------------------------------------------- JPEG, BMP, WebP


def jpeg_header(width: int = 10_000, height: int = 10_000) -> bytes:
    """A JPEG whose frame header claims ``width``×``height`` (100 MP by default)."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return (
        b"\xff\xd8"
        + app0
        + sof
        + b"\xff\xda"
        + struct.pack(">HB", 8, 1)
        + b"\x01\x00\x00\x3f\x00"
        + b"\x00" * 64
        + b"\xff\xd9"
    )


def bmp_header(width: int = 20_000, height: int = 20_000) -> bytes:
    """A BMP that claims ``width``×``height`` (8-bit, run-length encoded, so the size is not a giveaway)."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, 0, 2835, 2835, 0, 0)
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    pixels = b"\x00\x01"  # end of bitmap
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels


def _riff(chunks: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")


def _vp8l(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    return _riff_chunk(b"VP8L", b"\x2f" + struct.pack("<I", bits) + b"\x00" * 16)


def webp_header(width: int = 16_000, height: int = 16_000) -> bytes:
    """A lossless WebP whose bitstream claims ``width``×``height``."""
    return _riff(_vp8l(width, height))


def webp_animation_with_huge_frame(frame: tuple[int, int] = (16_000, 16_000)) -> bytes:
    """An animated WebP with a 16×16 canvas and a frame that claims ``frame``."""
    vp8x = _riff_chunk(b"VP8X", bytes([0x02, 0, 0, 0]) + (15).to_bytes(3, "little") + (15).to_bytes(3, "little"))
    anim = _riff_chunk(b"ANIM", b"\x00" * 6)
    w, h = frame
    header = (0).to_bytes(3, "little") * 2 + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    anmf = _riff_chunk(b"ANMF", header + (100).to_bytes(3, "little") + b"\x00" + _vp8l(w, h))
    return _riff(vp8x + anim + anmf)


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first part of a file, as an interrupted upload leaves it."""
    return data[: max(1, int(len(data) * keep))]


def corpus() -> dict[str, tuple[Callable[[], bytes], int]]:
    """Every hostile file by name, with the HTTP status an upload of it must get (413 or 422)."""
    return {
        "gif_huge_frame_in_small_screen": (gif_with_huge_frame, 413),
        "gif_35_bytes": (gif_tiny_bomb, 413),
        "gif_huge_second_frame": (lambda: gif_frames([(16, 16), (9000, 9000)]), 413),
        "png_100mp_header": (lambda: png_header(10_000, 10_000), 413),
        "png_compressed_bomb": (png_bomb, 413),
        "apng_huge_frame": (apng_with_huge_frame, 413),
        "tiff_bomb": (tiff_bomb, 413),
        "tiff_huge_second_page": (tiff_with_huge_second_page, 413),
        "jpeg_100mp_header": (jpeg_header, 413),
        "bmp_huge_header": (bmp_header, 413),
        "webp_huge_header": (webp_header, 413),
        "webp_animation_huge_frame": (webp_animation_with_huge_frame, 413),
        "png_truncated": (lambda: truncated(small_png(64, 64)), 422),
        "gif_truncated": (lambda: truncated(gif_frames([(64, 64)]), 0.8), 422),
        "tiff_truncated": (lambda: truncated(tiff_with_huge_second_page((8, 8)), 0.6), 422),
        "webp_truncated": (lambda: truncated(webp_header(64, 64), 0.7), 422),
        "jpeg_truncated": (lambda: truncated(jpeg_header(64, 64), 0.5), 422),
        "not_an_image": (lambda: b"%PDF-1.7 " + b"\x00" * 100, 422),
    }
