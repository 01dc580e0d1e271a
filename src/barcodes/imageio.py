"""Safe image loading: bound file size and pixel count from the header before decoding anything."""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "ImageError",
    "ImageInput",
    "header_size",
    "load_gray",
]

MAX_FILE_BYTES = 40 * 1024 * 1024
MAX_PIXELS = 50_000_000
MAX_SIDE = 30_000

Gray = npt.NDArray[Any]
ImageInput = bytes | bytearray | memoryview | str | os.PathLike[str] | npt.NDArray[Any]


class ImageError(ValueError):
    """An input that is not a usable image; ``code`` is machine-readable, ``reason`` says why."""

    def __init__(self, reason: str, *, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


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


def _jpeg(data: bytes) -> _Header | None:
    if not data.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        (seg_len,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF_MARKERS:
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return _Header("jpeg", w, h)
        i += 2 + seg_len
    return _Header("jpeg", 0, 0)


def _webp(data: bytes) -> _Header | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    if len(data) < 30:
        return _Header("webp", 0, 0)
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = 1 + int.from_bytes(data[24:27], "little")
        h = 1 + int.from_bytes(data[27:30], "little")
    elif chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        w, h = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    elif chunk == b"VP8 ":
        w, h = (v & 0x3FFF for v in struct.unpack("<HH", data[26:30]))
    else:
        return _Header("webp", 0, 0)
    return _Header("webp", w, h)


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
    w, h = struct.unpack("<ii", data[18:26])
    return _Header("bmp", abs(w), abs(h))


def _tiff(data: bytes) -> _Header | None:
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    end = "<" if data[:2] == b"II" else ">"
    try:
        (ifd,) = struct.unpack(end + "I", data[4:8])
        (count,) = struct.unpack(end + "H", data[ifd : ifd + 2])
        w = h = 0
        for k in range(count):
            tag, typ, _n, val = struct.unpack(end + "HHII", data[ifd + 2 + 12 * k : ifd + 14 + 12 * k])
            v = val if typ == 4 else (val >> 16 if end == ">" else val & 0xFFFF)
            if tag == 256:
                w = v
            elif tag == 257:
                h = v
    except struct.error:
        return _Header("tiff", 0, 0)
    return _Header("tiff", w, h)


_HEADER_READERS = (_png, _jpeg, _webp, _gif, _bmp, _tiff)


def header_size(data: bytes) -> tuple[str, int, int]:
    """Format and (width, height) read from the file header alone; ``ImageError`` if not an image."""
    for reader in _HEADER_READERS:
        header = reader(data)
        if header is not None:
            if header.width <= 0 or header.height <= 0:
                raise ImageError(f"{header.kind} header is damaged or truncated", code="truncated")
            return header.kind, header.width, header.height
    raise ImageError("not an image (PNG, JPEG, WebP, GIF, BMP or TIFF expected)", code="not_image")


def _check_dimensions(width: int, height: int) -> None:
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageError(
            f"image is {width}×{height} = {width * height / 1e6:.1f} MP; the limit is "
            f"{MAX_PIXELS / 1e6:.0f} MP and {MAX_SIDE} px a side",
            code="too_large",
        )


def _truncated(kind: str, data: bytes) -> bool:
    tail = data.rstrip(b"\x00")
    if kind == "png":
        return b"IEND" not in data[-64:]
    if kind == "jpeg":
        return b"\xff\xd9" not in tail[-max(2, len(tail) // 4) :]
    if kind == "webp":
        return len(data) < 8 + int.from_bytes(data[4:8], "little")
    if kind == "gif":
        return not tail.endswith(b";")
    return False


def _pillow_fallback(data: bytes) -> Gray | None:
    """Pillow decodes a few valid files OpenCV refuses (e.g. tiny WebP); size is already checked."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("L"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def _decode_bytes(data: bytes) -> Gray:
    if not data:
        raise ImageError("empty file", code="not_image")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(
            f"file is {len(data) / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB", code="too_large"
        )
    kind, width, height = header_size(data)
    _check_dimensions(width, height)
    if _truncated(kind, data):
        raise ImageError(f"{kind} file is truncated", code="truncated")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None or img.size == 0:
        img = _pillow_fallback(data)
    if img is None or img.size == 0:
        raise ImageError(f"{kind} data could not be decoded (damaged file)", code="truncated")
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
