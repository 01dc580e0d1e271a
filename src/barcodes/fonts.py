"""Find fonts on the host: one with Chinese glyphs for labels and glyph comparison, one for Latin text."""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["CJK_FONT_CANDIDATES", "LATIN_FONT_CANDIDATES", "cjk_font_path", "latin_font_path"]

# Fonts with Chinese glyphs, most common locations first (Debian/Ubuntu, Fedora, Windows, macOS).
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)


@cache
def cjk_font_path(preferred: str | None = None) -> str | None:
    """``preferred`` if it exists, else the first installed candidate with Chinese glyphs, else None."""
    for candidate in (preferred, *CJK_FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


# Latin fonts for label digits and text, most common locations first (Debian/Ubuntu, Fedora, Windows, macOS).
LATIN_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "C:/Windows/Fonts/arial.ttf",
    "/System/Library/Fonts/Helvetica.ttc",
)


@cache
def latin_font_path() -> str | None:
    """The first installed Latin font of the candidates, else None (Pillow's own font is used then)."""
    return next((c for c in LATIN_FONT_CANDIDATES if Path(c).is_file()), None)
