"""Export files as instruments write them, generated for the tests: a GBK CSV with a title row, a header merged
over two rows and a totals line, and a minimal .xlsx workbook."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

PESTICIDE_TITLE = ["农药残留快速检测仪 检测数据", "", "", "", "", "", "", "", "", "", "", ""]
PESTICIDE_HEADER = [
    ["序号", "通道", "样品编号", "样品名称", "检测项目", "对照", "", "样品", "", "抑制率(%)", "结果", "检测时间"],
    ["", "", "", "", "", "A0", "A3", "A0", "A3", "", "", ""],
]


def pesticide_row(number: int, label: str, when: str, *, inhibited: bool = False, channel: int = 1) -> list[str]:
    """One channel's record: control ΔA 0.609; the sample's 0.500 (17.9 %) or 0.150 (75.4 %)."""
    sample_a3 = "0.648" if inhibited else "0.998"
    value, result = ("75.4", "阳性") if inhibited else ("17.9", "阴性")
    return [
        str(number),
        str(channel),
        label,
        "小白菜",
        "有机磷和氨基甲酸酯类",
        "0.512",
        "1.121",
        "0.498",
        sample_a3,
        value,
        result,
        when,
    ]


def pesticide_csv(rows: list[list[str]], *, totals: bool = True, encoding: str = "gbk") -> bytes:
    """The analyser's CSV export of `rows` (GBK by default, CRLF lines)."""
    lines = [PESTICIDE_TITLE, *PESTICIDE_HEADER, *rows]
    if totals:
        lines.append(["合计", "", "", "", "", "", "", "", "", "", f"共{len(rows)}条", ""])
    text = "\r\n".join(",".join(cells) for cells in lines) + "\r\n"
    return text.encode(encoding)


GOLD_HEADER = ["记录号", "检测时间", "样品编号", "样品名称", "检测项目", "试剂批号", "T值", "C值", "T/C", "判定结果"]


def gold_row(number: int, label: str, when: str, *, t: float = 1.10, c: float = 1.00) -> list[object]:
    """One card: T/C above the CLB lot's cut-off 0.90 is negative (competitive format)."""
    ratio = round(t / c, 2)
    return [number, when, label, "猪肉", "克伦特罗", "CLB-2611A", t, c, ratio, "阴性" if ratio > 0.9 else "阳性"]


def _column(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def xlsx(rows: list[list[object]], *, title: str | None = "胶体金读卡仪检测记录导出") -> bytes:
    """A workbook whose first sheet holds `rows` (strings as shared strings, numbers as numbers), under a
    title row merged over the columns."""
    all_rows = ([[title]] if title else []) + rows
    strings: list[str] = []
    sheet_rows = []
    for r, cells in enumerate(all_rows, start=1):
        out = []
        for c, value in enumerate(cells):
            ref = f"{_column(c)}{r}"
            if isinstance(value, int | float):
                out.append(f'<c r="{ref}"><v>{value}</v></c>')
            else:
                strings.append(str(value))
                out.append(f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>')
        sheet_rows.append(f'<row r="{r}">{"".join(out)}</row>')
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    merge = '<mergeCells count="1"><mergeCell ref="A1:J1"/></mergeCells>' if title else ""
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}>'
        f"<sheetData>{''.join(sheet_rows)}</sheetData>{merge}</worksheet>"
    )
    shared = (
        f'<?xml version="1.0" encoding="UTF-8"?><sst {ns} count="{len(strings)}">'
        + "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
        + "</sst>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0"?><workbook {ns}><sheets><sheet name="检测记录" sheetId="1"/></sheets></workbook>',
        )
        archive.writestr("xl/sharedStrings.xml", shared)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue()
