"""The monthly report as a spreadsheet (openpyxl): one sheet per table, integers, percentages and dates formatted."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from lims import i18n
from lims.i18n import _N, terms
from lims.services.core import clock
from lims.services.reports.month import MonthReport

INTEGER, PERCENT, POINTS, KG, DAY = "#,##0", "0.0%", '+0.0" pp";-0.0" pp";0.0" pp"', "#,##0.0", "yyyy-mm-dd"
CHANGE = "+0.0%;-0.0%;0.0%"
HEAD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="E3F4EA")
# The heat sheet's cell colours, by positive rate (at least this rate: this fill).
HEAT_FILLS = ((0.2, "F4A6A6"), (0.1, "F8C9C9"), (0.05, "FBE3E3"), (0.0, "FFFFFF"))

SHEETS = {
    "summary": _N("Summary"),
    "trend": _N("By month"),
    "items": _N("By test item"),
    "points": _N("By sampling point"),
    "heat": _N("Point × item"),
    "foods": _N("Failing foods"),
    "coverage": _N("Plan coverage"),
    "cases": _N("Cases and disposal"),
    "urgent": _N("Urgent complaint tests"),
    "warnings": _N("Warnings issued"),
    "qc": _N("Quality control"),
    "stock": _N("Kit stock used"),
}


class _Sheets:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.book = Workbook()
        self.first = True

    def t(self, msgid: str) -> str:
        return i18n.gettext(msgid, self.lang)

    def sheet(
        self, key: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], formats: Sequence[str]
    ) -> Worksheet:
        """A sheet with a bold header row, the rows, and a number format per column ("" for text)."""
        ws = self.book.active if self.first else self.book.create_sheet()
        assert ws is not None
        self.first = False
        ws.title = self.t(SHEETS[key])[:31]
        ws.append([self.t(h) for h in headers])
        for cell in ws[1]:
            cell.font, cell.fill = HEAD, HEAD_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in rows:
            ws.append(list(row))
        for index, fmt in enumerate(formats, start=1):
            letter = get_column_letter(index)
            if fmt:
                for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = fmt
            width = max(
                (len(str(c.value)) for (c,) in ws.iter_rows(min_col=index, max_col=index) if c.value), default=6
            )
            ws.column_dimensions[letter].width = min(max(8, width * (2 if self.lang == "zh" else 1.1)), 48)
        ws.freeze_panes = "A2"
        return ws


def _name(lang: str, zh: str, en: str) -> str:
    return i18n.localized(lang, zh, en)


def workbook(report: MonthReport, lang: str) -> bytes:
    """The report as .xlsx bytes, its headers and names in `lang`."""
    s = _Sheets(lang)
    summary = s.sheet(
        "summary",
        [_N("Figure"), _N("This month"), _N("Month before"), _N("Month on month"), _N("Same month last year"),
         _N("Year on year"), _N("Year so far"), _N("Year so far, last year"), _N("Year so far, year on year")],
        [
            [s.t(f.label), f.value, f.previous, f.mom, f.last_year, f.yoy, f.ytd, f.ytd_last_year, f.ytd_yoy]
            for f in report.figures
        ],
        ["", INTEGER, INTEGER, CHANGE, INTEGER, CHANGE, INTEGER, INTEGER, CHANGE],
    )  # fmt: skip
    for row_number, f in enumerate(report.figures, start=2):  # a rate and its changes: percent and points
        value_format = PERCENT if f.kind == "rate" else KG if f.kind == "kg" else INTEGER
        for column in (2, 3, 5, 7, 8):
            summary.cell(row_number, column).number_format = value_format
        if f.kind == "rate":
            for column in (4, 6, 9):  # the change of a rate is in percentage points
                cell = summary.cell(row_number, column)
                cell.value = None if cell.value is None else float(cell.value) * 100
                cell.number_format = POINTS
    summary.append([])
    summary.append([s.t(_N("Month")), report.month])
    summary.append([s.t(_N("From")), report.month_start])
    summary.append([s.t(_N("To")), report.month_end])
    summary.append([s.t(_N("Districts")), ", ".join(report.districts)])
    summary.append([s.t(_N("Made at")), clock.local_time(report.generated_at, report.zone).replace(tzinfo=None)])
    for row in summary.iter_rows(min_row=summary.max_row - 2, max_row=summary.max_row - 1, min_col=2, max_col=2):
        row[0].number_format = DAY
    summary.cell(summary.max_row, 2).number_format = "yyyy-mm-dd hh:mm"
    s.sheet(
        "trend",
        [_N("Month"), _N("Batches sampled"), _N("Tests"), _N("Passed"), _N("Pass rate"), _N("Screening positives"),
         _N("Confirmed by a laboratory"), _N("Cleared by a laboratory"), _N("Batches disposed of"),
         _N("Urgent complaint tests"), _N("Warnings issued"), _N("Failed control runs")],
        [[key, t.batches, t.tests, t.passed, t.pass_rate, t.positives, t.confirmed, t.cleared, t.disposed, t.urgent,
          t.warnings, t.qc_failed] for key, t in report.trend],
        ["", INTEGER, INTEGER, INTEGER, PERCENT, *[INTEGER] * 7],
    )  # fmt: skip
    for key, rows in (("items", report.items), ("points", report.points)):
        s.sheet(
            key,
            [_N("Code"), _N("Name"), _N("Tests"), _N("Passed"), _N("Pass rate"), _N("Screening positives"),
             _N("Positive rate"), _N("Tests, year so far"), _N("Positives, year so far"),
             _N("Positive rate, year so far")],
            [[r.key, _name(lang, r.name_zh, r.name_en), r.tests, r.passed, r.pass_rate, r.positives, r.rate,
              r.ytd_tests, r.ytd_positives, r.ytd_rate] for r in rows],
            ["", "", INTEGER, INTEGER, PERCENT, INTEGER, PERCENT, INTEGER, INTEGER, PERCENT],
        )  # fmt: skip
    points = sorted({p for p, _i in report.heat})
    items = sorted({i for _p, i in report.heat})
    heat = s.sheet(
        "heat",
        [_N("Sampling point"), *items],
        [
            [p, *[(report.heat[(p, i)][1] / report.heat[(p, i)][0]) if report.heat.get((p, i), (0, 0))[0] else None
                  for i in items]]
            for p in points
        ],
        ["", *[PERCENT] * len(items)],
    )  # fmt: skip
    for row in heat.iter_rows(min_row=2, min_col=2):
        for cell in row:
            if isinstance(cell.value, float):
                fill = next(colour for floor, colour in HEAT_FILLS if cell.value >= floor)
                cell.fill = PatternFill("solid", fgColor=fill)
    s.sheet(
        "foods",
        [_N("Product"), _N("Food category"), _N("Tests"), _N("Screening positives"), _N("Positive rate")],
        [[r.key, _name(lang, r.name_zh, r.name_en), r.tests, r.positives, r.rate] for r in report.foods],
        ["", "", INTEGER, INTEGER, PERCENT],
    )
    s.sheet(
        "coverage",
        [_N("Sampling point"), _N("Food category"), _N("Test item"), _N("Tests planned"), _N("Tests done"),
         _N("Short")],
        [[f"{r.point} {r.point_name}", _name(lang, r.category_zh, r.category_en), _name(lang, r.item_zh, r.item_en),
          r.planned, r.tested, r.shortfall] for r in report.coverage.rows],
        ["", "", "", INTEGER, INTEGER, INTEGER],
    )  # fmt: skip
    cases = s.sheet(
        "cases",
        [_N("Where it stands"), _N("Cases")],
        [[terms.case_state_name(state, lang), n] for state, n in sorted(report.cases.items())],
        ["", INTEGER],
    )
    cases.append([])
    cases.append([s.t(_N("Disposal")), s.t(_N("Batches")), s.t(_N("Quantity (kg)")), s.t(_N("Other units"))])
    for d in report.disposals:
        others = ", ".join(f"{amount:g} {unit}" for unit, amount in sorted(d.other_units.items()))
        cases.append([i18n.gettext(DISPOSALS.get(d.action, d.action), lang), d.batches, d.kg, others])
        cases.cell(cases.max_row, 2).number_format = INTEGER
        cases.cell(cases.max_row, 3).number_format = KG
    s.sheet(
        "urgent",
        [_N("Area"), _N("Target (minutes)"), _N("Complaints received"), _N("On site in time"), _N("Late"),
         _N("Not arrived")],
        [[s.t(AREAS.get(u.area, u.area)), u.target_minutes, u.received, u.met, u.late, u.not_arrived]
         for u in report.urgent],
        ["", INTEGER, INTEGER, INTEGER, INTEGER, INTEGER],
    )  # fmt: skip
    s.sheet(
        "warnings",
        [_N("Published"), _N("Title"), _N("Withdrawn")],
        [[w.day, _name(lang, w.title_zh, w.title_en), s.t(_N("yes")) if w.withdrawn else ""] for w in report.warnings],
        [DAY, "", ""],
    )
    s.sheet(
        "qc",
        [_N("Test item"), _N("Control runs"), _N("Failed"), _N("Results held")],
        [[_name(lang, q.item_zh, q.item_en), q.runs, q.failed, q.held] for q in report.qc],
        ["", INTEGER, INTEGER, INTEGER],
    )
    s.sheet(
        "stock",
        [_N("Test item"), _N("Kit lot"), _N("Unit"), _N("Units received"), _N("Used by tests"), _N("Quality control"),
         _N("Written off")],
        [[r.item, r.lot, r.unit, r.received, r.by_tests, r.qc, r.written_off] for r in report.stock],
        ["", "", "", INTEGER, INTEGER, INTEGER, INTEGER],
    )  # fmt: skip
    out = io.BytesIO()
    s.book.save(out)
    return out.getvalue()


AREAS = {"urban": _N("Town (20 minutes)"), "rural": _N("Rural township (40 minutes)")}
DISPOSALS = {
    "suspend_sale": _N("Sale suspended"),
    "removal": _N("Removal from sale"),
    "seal": _N("Sealed up"),
    "return_recall": _N("Return or recall"),
    "destruction": _N("Destruction"),
    "harmless_treatment": _N("Harmless treatment"),
}
