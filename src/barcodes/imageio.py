"""Safe image loading: bound the file, every frame and every page from the file's structure, decode only the first.

Nothing is handed to a decoder before the whole file has been walked: the canvas and every frame (GIF image
descriptors, APNG ``fcTL``, WebP ``ANMF``, every TIFF page and sub-image, the JPEG ``SOF``, the BMP header)
must fit the pixel bound, and the decoder then gets a file holding only the first frame. Pillow's own
decompression-bomb checks are a second line; they never escape as anything but an ``ImageError``.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_PARTS",
    "MAX_PIXELS",
    "MAX_SIDE",
    "ImageError",
    "ImageInput",
    "first_frame",
    "header_size",
    "load_gray",
]

MAX_FILE_BYTES = 40 * 1024 * 1024
MAX_PIXELS = 50_000_000
MAX_SIDE = 30_000
# Chunks, blocks, frames, pages and directory entries walked in one file: a legitimate 40 MB photo has a
# few thousand; a file built of millions of tiny parts is refused before the walk costs real time.
MAX_PARTS = 400_000

Gray = npt.NDArray[Any]
ImageInput = bytes | bytearray | memoryview | str | os.PathLike[str] | npt.NDArray[Any]


class ImageError(ValueError):
    """An input that is not a usable image; ``code`` is machine-readable, ``reason`` says why."""

    def __init__(self, reason: str, *, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def _damaged(kind: str, what: str = "is damaged or truncated") -> ImageError:
    return ImageError(f"{kind} file {what}", code="truncated")


def _check_dimensions(width: int, height: int, what: str = "image") -> None:
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageError(
            f"{what} is {width}×{height} = {width * height / 1e6:.1f} MP; the limit is "
            f"{MAX_PIXELS / 1e6:.0f} MP and {MAX_SIDE} px a side",
            code="too_large",
        )


class _Budget:
    """Counts the parts walked in one file and refuses a file with too many."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.left = MAX_PARTS

    def spend(self, n: int = 1) -> None:
        self.left -= n
        if self.left < 0:
            raise ImageError(
                f"{self.kind} file has more than {MAX_PARTS} parts (chunks, blocks or pages)", code="too_large"
            )


# --------------------------------------------------------------------------- headers (canvas size only)


@dataclass(frozen=True)
class _Header:
    kind: str
    width: int
    height: int


def _png(data: bytes) -> _Header | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    if len(data) < 24 or data[12:16] != b"IHDR":
        return _Header("png", 0, 0)
    w, h = struct.unpack(">II", data[16:24])
    return _Header("png", w, h)


_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RSTn, SOI: no length field


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(marker, segment start, segment end) of every marker segment up to and including the first SOS.

    Stray bytes between segments are skipped, as decoders do (a jump to the next 0xFF, not a byte loop)."""
    i, n = 2, len(data)
    while i + 1 < n:
        if data[i] != 0xFF:
            i = data.find(b"\xff", i)
            if i < 0:
                return
            continue
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if i + 4 > n:
            break
        (seg_len,) = struct.unpack(">H", data[i + 2 : i + 4])
        if seg_len < 2 or i + 2 + seg_len > n:
            break
        yield marker, i, i + 2 + seg_len
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return
        i += 2 + seg_len


def _jpeg(data: bytes) -> _Header | None:
    if not data.startswith(b"\xff\xd8"):
        return None
    for marker, start, end in _jpeg_segments(data):
        if marker in _SOF_MARKERS and end - start >= 9:
            h, w = struct.unpack(">HH", data[start + 5 : start + 9])
            return _Header("jpeg", w, h)
    return _Header("jpeg", 0, 0)


def _vp8_size(fourcc: bytes, payload: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 / VP8L bitstream's own header (None when it is too short)."""
    if fourcc == b"VP8 " and len(payload) >= 10:
        w, h = struct.unpack("<HH", payload[6:10])
        return w & 0x3FFF, h & 0x3FFF
    if fourcc == b"VP8L" and len(payload) >= 5:
        bits = int.from_bytes(payload[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _webp(data: bytes) -> _Header | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    if len(data) < 30:
        return _Header("webp", 0, 0)
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = 1 + int.from_bytes(data[24:27], "little")
        h = 1 + int.from_bytes(data[27:30], "little")
        return _Header("webp", w, h)
    size = _vp8_size(chunk, data[20:30])
    return _Header("webp", *size) if size else _Header("webp", 0, 0)


def _gif(data: bytes) -> _Header | None:
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    if len(data) < 10:
        return _Header("gif", 0, 0)
    w, h = struct.unpack("<HH", data[6:10])
    return _Header("gif", w, h)


def _bmp(data: bytes) -> _Header | None:
    if not data.startswith(b"BM") or len(data) < 14:
        return None
    if len(data) < 26:
        return _Header("bmp", 0, 0)
    if int.from_bytes(data[14:18], "little") == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
        w, h = struct.unpack("<HH", data[18:22])
        return _Header("bmp", w, h)
    w, h = struct.unpack("<ii", data[18:26])
    return _Header("bmp", abs(w), abs(h))


def _tiff_order(data: bytes) -> str:
    return "<" if data[:2] == b"II" else ">"


def _tiff(data: bytes) -> _Header | None:
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    try:
        (ifd,) = struct.unpack(_tiff_order(data) + "I", data[4:8])
        page = _tiff_page(data, ifd)
    except (struct.error, ImageError):
        return _Header("tiff", 0, 0)
    return _Header("tiff", page.width, page.height)


_HEADER_READERS = (_png, _jpeg, _webp, _gif, _bmp, _tiff)


def header_size(data: bytes) -> tuple[str, int, int]:
    """Format and (width, height) read from the file header alone; ``ImageError`` if not an image."""
    for reader in _HEADER_READERS:
        header = reader(data)
        if header is not None:
            if header.width <= 0 or header.height <= 0:
                raise _damaged(header.kind, "header is damaged or truncated")
            return header.kind, header.width, header.height
    raise ImageError("not an image (PNG, JPEG, WebP, GIF, BMP or TIFF expected)", code="not_image")


# --------------------------------------------------------------------------- every frame, and the first alone

_PNG_ANIMATION = frozenset({b"acTL", b"fcTL", b"fdAT"})


def _png_first(data: bytes, width: int, height: int) -> bytes:
    """Check every chunk (APNG frames included); the file without its animation chunks (the default image)."""
    budget = _Budget("png")
    pos, n, keep, animated = 8, len(data), [data[:8]], False
    while True:
        if pos + 12 > n:
            raise _damaged("png", "is truncated (no IEND chunk)")
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > n:
            raise _damaged("png", "is truncated")
        budget.spend()
        if ctype == b"fcTL":
            if length < 26:
                raise _damaged("png", "has a damaged animation frame header")
            _seq, w, h, x, y = struct.unpack(">IIIII", data[pos + 8 : pos + 28])
            _check_dimensions(max(width, x + w), max(height, y + h), "an animation frame")
        if ctype in _PNG_ANIMATION:
            animated = True
        else:
            keep.append(data[pos:end])
        pos = end
        if ctype == b"IEND":
            break
    return b"".join(keep) if animated else data[:pos]


def _skip_subblocks(data: bytes, pos: int, budget: _Budget) -> int:
    """The position after a chain of GIF data sub-blocks (ended by a zero-length block)."""
    n = len(data)
    while True:
        if pos >= n:
            raise _damaged("gif", "is truncated")
        size = data[pos]
        budget.spend()
        pos += 1 + size
        if size == 0:
            return pos


def _gif_first(data: bytes, width: int, height: int) -> bytes:
    """Check every image descriptor; a GIF of the first image alone, its screen grown to hold that image."""
    budget = _Budget("gif")
    flags = data[10] if len(data) > 10 else 0
    pos = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    first_end = 0
    first_extent = (0, 0)
    n = len(data)
    while True:
        if pos >= n:
            raise _damaged("gif", "is truncated (no trailer)")
        block = data[pos]
        if block == 0x3B:
            break
        if block == 0x21:
            pos = _skip_subblocks(data, pos + 2, budget)
        elif block == 0x2C:
            if pos + 11 > n:
                raise _damaged("gif", "is truncated")
            left, top, w, h, f = struct.unpack("<HHHHB", data[pos + 1 : pos + 10])
            _check_dimensions(max(width, left + w), max(height, top + h), "a frame")
            pos += 10 + (3 * (2 << (f & 7)) if f & 0x80 else 0) + 1  # local colour table, LZW code size
            pos = _skip_subblocks(data, pos, budget)
            if not first_end:
                if w == 0 or h == 0:
                    raise _damaged("gif", "has an empty first frame")
                first_end, first_extent = pos, (left + w, top + h)
        elif first_end:  # stray bytes after an image: decoders stop there too, and only the first is read
            break
        else:
            raise _damaged("gif", f"has an unknown block 0x{block:02x}")
    if not first_end:
        raise _damaged("gif", "holds no image")
    screen = struct.pack("<HH", max(width, first_extent[0]), max(height, first_extent[1]))
    return data[:6] + screen + data[10:first_end] + b";"


def _webp_first(data: bytes, width: int, height: int) -> bytes:
    """Check the canvas, every animation frame and every bitstream; an animation becomes its first frame alone."""
    budget = _Budget("webp")
    riff_end = 8 + int.from_bytes(data[4:8], "little")
    if riff_end > len(data):
        raise _damaged("webp", "is truncated")
    first: bytes | None = None
    animated = False
    pos = 12
    while pos + 8 <= riff_end:
        fourcc = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        payload = pos + 8
        if payload + size > riff_end:
            raise _damaged("webp", "is truncated")
        budget.spend()
        if fourcc == b"ANMF":
            animated = True
            if size < 16:
                raise _damaged("webp", "has a damaged animation frame")
            f = data[payload : payload + 16]
            x, y = 2 * int.from_bytes(f[0:3], "little"), 2 * int.from_bytes(f[3:6], "little")
            w, h = 1 + int.from_bytes(f[6:9], "little"), 1 + int.from_bytes(f[9:12], "little")
            _check_dimensions(max(width, x + w), max(height, y + h), "an animation frame")
            frame = _webp_frame(data, payload + 16, payload + size, budget)
            if first is None:
                first = frame
        elif fourcc in (b"VP8 ", b"VP8L"):
            _webp_bitstream(fourcc, data[payload : payload + size])
        pos = payload + size + (size & 1)
    if not animated:
        return data[:riff_end]
    if first is None:
        raise _damaged("webp", "animation holds no frame")
    return b"RIFF" + struct.pack("<I", 4 + len(first)) + b"WEBP" + first


def _webp_bitstream(fourcc: bytes, payload: bytes) -> None:
    size = _vp8_size(fourcc, payload)
    if size is None or 0 in size:
        raise _damaged("webp", "has a damaged image header")
    _check_dimensions(*size, "a frame")


def _webp_frame(data: bytes, start: int, end: int, budget: _Budget) -> bytes:
    """The VP8/VP8L chunk inside an ANMF frame (its alpha is dropped: barcodes are read in grey)."""
    pos = start
    found = b""
    while pos + 8 <= end:
        fourcc = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if pos + 8 + size > end:
            raise _damaged("webp", "has a truncated animation frame")
        budget.spend()
        if fourcc in (b"VP8 ", b"VP8L"):
            _webp_bitstream(fourcc, data[pos + 8 : pos + 8 + size])
            found = found or data[pos : pos + 8 + size] + (b"\x00" if size & 1 else b"")
        pos += 8 + size + (size & 1)
    if not found:
        raise _damaged("webp", "has an animation frame without image data")
    return found


@dataclass(frozen=True)
class _TiffPage:
    width: int
    height: int
    next_offset: int
    sub_offsets: tuple[int, ...]
    samples: int
    tile: tuple[int, int]


_TIFF_SHORT, _TIFF_LONG, _TIFF_IFD = 3, 4, 13


def _tiff_page(data: bytes, offset: int, budget: _Budget | None = None) -> _TiffPage:
    """One image file directory: its size, layout and the directories it points to."""
    order = _tiff_order(data)
    if offset < 8 or offset + 2 > len(data):
        raise _damaged("tiff", "points to a directory outside the file")
    (count,) = struct.unpack(order + "H", data[offset : offset + 2])
    end = offset + 2 + 12 * count
    if end + 4 > len(data):
        raise _damaged("tiff", "is truncated")
    if budget is not None:
        budget.spend(count + 1)
    values: dict[int, int] = {}
    subs: tuple[int, ...] = ()
    for k in range(count):
        entry = data[offset + 2 + 12 * k : offset + 14 + 12 * k]
        tag, typ, n = struct.unpack(order + "HHI", entry[:8])
        if tag == 330 and typ in (_TIFF_LONG, _TIFF_IFD) and n:
            if n == 1:
                subs = struct.unpack(order + "I", entry[8:12])
            else:
                (at,) = struct.unpack(order + "I", entry[8:12])
                if at + 4 * n > len(data) or n > MAX_PARTS:
                    raise _damaged("tiff", "has a damaged sub-image list")
                subs = struct.unpack(order + f"{n}I", data[at : at + 4 * n])
        elif typ == _TIFF_SHORT:
            values[tag] = struct.unpack(order + "H", entry[8:10])[0]
        elif typ == _TIFF_LONG:
            values[tag] = struct.unpack(order + "I", entry[8:12])[0]
    (next_offset,) = struct.unpack(order + "I", data[end : end + 4])
    return _TiffPage(
        values.get(256, 0),
        values.get(257, 0),
        next_offset,
        subs,
        values.get(277, 1),
        (values.get(322, 0), values.get(323, 0)),
    )


def _tiff_first(data: bytes, width: int, height: int) -> bytes:
    """Check every page and sub-image (loops refused); decoders read only the first page."""
    budget = _Budget("tiff")
    (first,) = struct.unpack(_tiff_order(data) + "I", data[4:8])
    queue, seen = [first], set()
    while queue:
        offset = queue.pop()
        if offset in seen:
            raise _damaged("tiff", "has a loop in its page chain")
        seen.add(offset)
        page = _tiff_page(data, offset, budget)
        if page.width == 0 or page.height == 0:
            raise _damaged("tiff", "has a page without a size")
        _check_dimensions(page.width, page.height, "a page")
        if not 1 <= page.samples <= 5:
            raise ImageError(f"tiff with {page.samples} samples per pixel is not supported", code="not_image")
        tw, th = page.tile
        if tw > page.width + 16 or th > page.height + 16:
            raise _damaged("tiff", f"has {tw}×{th} tiles larger than its {page.width}×{page.height} page")
        queue.extend(o for o in (page.next_offset, *page.sub_offsets) if o)
    return data


def _jpeg_first(data: bytes, width: int, height: int) -> bytes:
    """Check the frame header (one SOF, before the scan); the stream up to its end-of-image marker."""
    sofs, scan_start = 0, 0
    for marker, start, end in _jpeg_segments(data):
        if marker in _SOF_MARKERS:
            sofs += 1
            if end - start < 10:
                raise _damaged("jpeg", "has a damaged frame header")
            components = data[start + 9]
            if not 1 <= components <= 4:
                raise ImageError(f"jpeg with {components} colour components is not supported", code="not_image")
        elif marker == 0xDE:  # DHP: a hierarchical frame of its own size
            h, w = struct.unpack(">HH", data[start + 5 : start + 9])
            _check_dimensions(w, h, "a hierarchical frame")
        elif marker == 0xDA:
            scan_start = end
    if sofs != 1:
        raise _damaged("jpeg", "has no frame header" if not sofs else "has more than one frame header")
    if not scan_start:
        raise _damaged("jpeg", "is truncated (no image data)")
    eoi = data.find(b"\xff\xd9", scan_start)
    if eoi < 0:
        raise _damaged("jpeg", "is truncated (no end-of-image marker)")
    return data[: eoi + 2]


_BMP_BITS = frozenset({1, 4, 8, 16, 24, 32})
_BMP_RLE = frozenset({1, 2})
_BMP_COMPRESSIONS = frozenset({0, 1, 2, 3, 6})  # RGB, RLE8, RLE4, bit fields, alpha bit fields


def _bmp_first(data: bytes, width: int, height: int) -> bytes:
    """Check the pixel layout and that an uncompressed file holds all its rows."""
    header = int.from_bytes(data[14:18], "little")
    if header == 12:
        bits, compression = int.from_bytes(data[24:26], "little"), 0
    elif header >= 40 and len(data) >= 54:
        bits, compression = struct.unpack("<HI", data[28:34])
    else:
        raise _damaged("bmp", "header is damaged or truncated")
    if bits not in _BMP_BITS or compression not in _BMP_COMPRESSIONS:
        raise ImageError(
            f"bmp with {bits} bits per pixel and compression {compression} is not supported", code="not_image"
        )
    if compression not in _BMP_RLE:
        offset = int.from_bytes(data[10:14], "little")
        stride = (width * bits + 31) // 32 * 4
        if offset + stride * height > len(data):
            raise _damaged("bmp", "is truncated")
    return data


_FIRST_FRAME: dict[str, Callable[[bytes, int, int], bytes]] = {
    "png": _png_first,
    "gif": _gif_first,
    "webp": _webp_first,
    "tiff": _tiff_first,
    "jpeg": _jpeg_first,
    "bmp": _bmp_first,
}


def first_frame(data: bytes) -> tuple[str, int, int, bytes]:
    """Format, canvas size and a file of the first frame alone, after every frame and page has been bounded.

    ``ImageError`` (``too_large``, ``truncated`` or ``not_image``) for anything a decoder should not see.
    """
    if not data:
        raise ImageError("empty file", code="not_image")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(
            f"file is {len(data) / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB", code="too_large"
        )
    kind, width, height = header_size(data)
    _check_dimensions(width, height)
    try:
        return kind, width, height, _FIRST_FRAME[kind](data, width, height)
    except (struct.error, IndexError):
        raise _damaged(kind) from None


# --------------------------------------------------------------------------- decoding

_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP", "tiff": "TIFF"}


def _opencv(data: bytes) -> Gray | None:
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    except cv2.error:
        return None
    return None if img is None or img.size == 0 else img


def _pillow(kind: str, data: bytes) -> Gray | None:
    """Pillow decodes a few valid files OpenCV refuses (e.g. tiny WebP); only the format already recognised."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[kind]]) as im:
            _check_dimensions(im.width, im.height)
            return np.asarray(im.convert("L"), dtype=np.uint8)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{kind} file is a decompression bomb", code="too_large") from None
    except ImageError:
        raise
    except Exception:  # damaged data makes Pillow raise many kinds of error; each means "cannot decode"
        return None


def _decode_bytes(data: bytes) -> Gray:
    kind, _width, _height, frame = first_frame(data)
    img = _opencv(frame)
    if img is None:
        img = _pillow(kind, frame)
    if img is None:
        raise _damaged(kind, "data could not be decoded (damaged file)")
    _check_dimensions(img.shape[1], img.shape[0])
    return np.ascontiguousarray(img, dtype=np.uint8)


def _from_array(arr: npt.NDArray[Any]) -> Gray:
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ImageError(f"array of shape {arr.shape} is not an image", code="not_image")
    _check_dimensions(arr.shape[1], arr.shape[0])
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype != np.uint8:
        raise ImageError(f"unsupported pixel type {arr.dtype}", code="not_image")
    if arr.ndim == 3:
        channels = arr.shape[2]
        if channels == 1:
            arr = arr[:, :, 0]
        elif channels == 3:
            arr = cv2.cvtColor(arr, cv2.COLOR_BGR2GRAY)
        elif channels == 4:
            arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2GRAY)
        else:
            raise ImageError(f"array with {channels} channels is not an image", code="not_image")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def load_gray(image: ImageInput) -> Gray:
    """Load bytes, a path or an array as an 8-bit grayscale image, refusing bombs and damaged files."""
    if isinstance(image, np.ndarray):
        return _from_array(image)
    if isinstance(image, bytes | bytearray | memoryview):
        return _decode_bytes(bytes(image))
    path = Path(image)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageError(
                f"file is {size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB", code="too_large"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc.strerror or exc}", code="unreadable") from exc
    return _decode_bytes(data)
