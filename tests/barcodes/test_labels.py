"""Labels read back by independent decoders; ZPL checked command by command."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from pyzbar import pyzbar

from barcodes.labels import LabelData, LabelError, render_label, render_pdf_sheet, render_png, render_svg, render_zpl

LABEL = LabelData(
    sample_id="S2026000123",
    url="https://lims.example.cn/s/S2026000123?sig=Zx81kQ-_a",
    point="城东农贸市场 A区",
    date="2026-05-12",
    items=("NY448", "CLB"),
)


def _read_independently(gray: np.ndarray) -> set[str]:
    """Texts found by plain pyzbar and plain zxing-cpp (not our decoder)."""
    found = {r.data.decode() for r in pyzbar.decode(gray)}
    found |= {r.text for r in zxingcpp.read_barcodes(gray)}
    return found


def _gray(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert img is not None
    return img


def test_png_label_reads_back() -> None:
    found = _read_independently(_gray(render_png(LABEL)))
    assert {LABEL.sample_id, LABEL.url} <= found
    by_pyzbar = {r.data.decode() for r in pyzbar.decode(_gray(render_png(LABEL)))}
    assert {LABEL.sample_id, LABEL.url} <= by_pyzbar


def test_svg_label_rasterised_reads_back() -> None:
    cairosvg = pytest.importorskip("cairosvg")
    svg = render_svg(LABEL)
    assert "城东农贸市场" in svg
    png = cairosvg.svg2png(bytestring=svg.encode(), output_width=709, background_color="white")
    assert {LABEL.sample_id, LABEL.url} <= _read_independently(_gray(png))


@pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript not installed")
def test_pdf_sheet_rasterised_reads_back(tmp_path: Path) -> None:
    labels = [
        LabelData(f"S20260{i:05d}", f"https://lims.example.cn/s/S20260{i:05d}?sig=k{i}", date="2026-05-12")
        for i in range(23)
    ]
    pdf = tmp_path / "sheet.pdf"
    pdf.write_bytes(render_pdf_sheet(labels))
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(
        ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pnggray", "-r200", f"-sOutputFile={tmp_path}/p%d.png", str(pdf)],
        check=True,
        timeout=60,
    )
    pages = sorted(tmp_path.glob("p*.png"))
    assert len(pages) == 2  # 21 labels per A4 page
    found: set[str] = set()
    for page in pages:
        found |= {r.text for r in zxingcpp.read_barcodes(cv2.imread(str(page), cv2.IMREAD_GRAYSCALE))}
    for label in labels:
        assert {label.sample_id, label.url} <= found


def _commands(zpl: str) -> list[str]:
    return ["^" + c.strip() for c in zpl.split("^") if c.strip()]


def test_zpl_structure_and_fields() -> None:
    zpl = render_zpl(LABEL)
    cmds = _commands(zpl)
    assert cmds[0] == "^XA" and cmds[-1] == "^XZ"
    assert "^CI28" in cmds  # UTF-8 field data
    # Every field: ^FOx,y origin, then content, closed by ^FS.
    fields = re.findall(r"\^FO(\d+),(\d+)(.*?)\^FS", zpl, flags=re.S)
    assert len(fields) == 6
    width = int(re.search(r"\^PW(\d+)", zpl).group(1))  # type: ignore[union-attr]
    length = int(re.search(r"\^LL(\d+)", zpl).group(1))  # type: ignore[union-attr]
    for x, y, _ in fields:
        assert 0 <= int(x) < width and 0 <= int(y) < length
    # ^BCo,h,f,g,e: Code 128, normal orientation, no interpretation line; data is the id.
    code128 = re.search(r"\^BY(\d+),[\d.]+,(\d+)\^BCN,(\d+),N,N,N\^FD([^\^]*)\^FS", zpl)
    assert code128 is not None and code128.group(4) == LABEL.sample_id
    # ^BQa,b,c: QR, model 2, magnification 1–10; ^FD<ecc><input>,data with M level, automatic input.
    qr = re.search(r"\^BQN,2,(\d+)\^FDMA,([^\^]*)\^FS", zpl)
    assert qr is not None and 1 <= int(qr.group(1)) <= 10 and qr.group(2) == LABEL.url
    # ASCII lines use the scalable font ^A0; the Chinese point becomes a ^GFA graphic field.
    assert f"^A0N,34,34^FD{LABEL.sample_id}^FS" in zpl
    assert f"^FD{LABEL.date}^FS" in zpl and "^FDNY448 CLB^FS" in zpl
    gf = re.search(r"\^GFA,(\d+),(\d+),(\d+),([0-9A-F]+)\^FS", zpl)
    assert gf is not None
    total, field_count, per_row, data = int(gf.group(1)), int(gf.group(2)), int(gf.group(3)), gf.group(4)
    assert total == field_count == len(data) // 2 and total % per_row == 0
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(data), np.uint8))
    assert 0.02 < bits.mean() < 0.6  # ink, not an empty or solid box


def test_zpl_escapes_control_characters_in_text() -> None:
    zpl = render_zpl(LabelData("A1", "https://x.example/s/A1", point="Stall ^7 ~ a_b"))
    assert "^FH^FDStall _5E7 _7E a_5Fb^FS" in zpl
    assert _commands(zpl)[-1] == "^XZ"


def test_zpl_ascii_point_needs_no_graphic() -> None:
    zpl = render_zpl(LabelData("A1", "https://x.example/s/A1", point="Market 3"))
    assert "^GFA" not in zpl and "^FDMarket 3^FS" in zpl


@pytest.mark.parametrize(
    ("sample_id", "url"),
    [
        ("S20260001234567", "https://x.example/s"),
        ("", "https://x.example/s"),
        ("S 1", "https://x.example/s"),
        ("样品1", "https://x.example/s"),
        ("S1", "https://x.example/s/样品"),
        ("S1", "https://x.example/^XZ"),
        ("S1", ""),
    ],
)
def test_bad_label_data_is_refused(sample_id: str, url: str) -> None:
    with pytest.raises(LabelError):
        LabelData(sample_id, url)


def test_render_label_dispatch() -> None:
    assert render_label(LABEL, "png").startswith(b"\x89PNG")
    assert render_label(LABEL, "svg").startswith(b"<?xml")
    assert render_label(LABEL, "pdf").startswith(b"%PDF")
    assert render_label(LABEL, "zpl").startswith(b"^XA")
    with pytest.raises(LabelError):
        render_label(LABEL, "gif")  # type: ignore[arg-type]
