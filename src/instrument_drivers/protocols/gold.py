"""The colloidal gold card reader's E1394 message: one message per card, one R record per item.

Layout (docs/protocols/gold-astm.md has annotated examples)::

    H|\\^&|||GR-200^<serial>^<firmware>|||||||P|1394-97|<YYYYMMDDHHMMSS>
    P|1
    O|1|<sample label id>|<test number>|^^^CLB\\^^^RAC|R||<YYYYMMDDHHMMSS>|||||||||||||||||||F
    R|<n>|^^^<item>^<kit lot>|<T/C>^<T>^<C>|T/C|<cut-off>|<N or A>||<F or X>||<operator>|<start>|<end>|<serial>
    L|1|N

The reading's sequence number is ``test number × 10 + n`` (a card has at most 9 lines).
Judgement: result status X = invalid (no C line); else abnormal flag A = positive, N = negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from instrument_drivers.protocols import astm

MODEL = "GR-200"
UNIT = "T/C"
MAX_LINES = 9
TIME_FORMAT = "%Y%m%d%H%M%S"


class MessageError(ValueError):
    """A message whose frames checked but whose records do not make a card test."""


@dataclass(frozen=True, slots=True)
class LineResult:
    position: int  # 1…9, the R record's sequence number
    item_code: str
    kit_lot: str
    t: float
    c: float
    ratio: float
    cutoff: float
    judgement: str  # negative | positive | invalid
    started: datetime
    completed: datetime


@dataclass(frozen=True, slots=True)
class CardTest:
    serial: str
    test_no: int
    sample_id: str
    operator: str
    time: datetime
    results: tuple[LineResult, ...]
    firmware: str = "1.4.2"

    def sequence(self, position: int) -> int:
        return self.test_no * 10 + position


def _ts(value: datetime) -> str:
    return value.strftime(TIME_FORMAT)


def _parse_ts(value: str, what: str) -> datetime:
    try:
        return datetime.strptime(value, TIME_FORMAT)
    except ValueError:
        raise MessageError(f"{what} is not a YYYYMMDDHHMMSS time: {value!r}") from None


def _num(value: str, what: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise MessageError(f"{what} is not a number: {value!r}") from None


def message_records(test: CardTest) -> list[str]:
    """The E1394 records (without CR) for one card test."""
    e = astm.escape
    items = astm.REPEAT.join(f"^^^{e(r.item_code)}" for r in test.results)
    records = [
        astm.join_record(
            "H",
            astm.DELIMITERS[1:],
            "",
            "",
            f"{MODEL}^{e(test.serial)}^{e(test.firmware)}",
            "",
            "",
            "",
            "",
            "",
            "",
            "P",
            "1394-97",
            _ts(test.time),
        ),
        "P|1",
        astm.join_record(
            "O", "1", e(test.sample_id), str(test.test_no), items, "R", "", _ts(test.time), *[""] * 17, "F"
        ),
    ]
    for r in test.results:
        if r.judgement == "invalid":
            flag, status = "", "X"
        else:
            flag, status = ("A" if r.judgement == "positive" else "N"), "F"
        records.append(
            astm.join_record(
                "R",
                str(r.position),
                f"^^^{e(r.item_code)}^{e(r.kit_lot)}",
                f"{r.ratio:.3f}^{r.t:.3f}^{r.c:.3f}",
                UNIT,
                f"{r.cutoff:.3f}",
                flag,
                "",
                status,
                "",
                e(test.operator),
                _ts(r.started),
                _ts(r.completed),
                e(test.serial),
            )
        )
    records.append("L|1|N")
    return records


def parse_message(records: list[str]) -> CardTest:
    """Rebuild the card test from its records, checking everything the reading depends on."""
    if len(records) < 4 or not records[0].startswith("H") or not records[-1].startswith("L"):
        raise MessageError("a message must run H … L with an O and at least one R record")
    header = astm.split_record(records[0])
    if header[1] != astm.DELIMITERS[1:]:
        raise MessageError(f"unsupported delimiters {header[1]!r}")
    sender = astm.components(astm.field_at(header, 5))
    if len(sender) < 2 or not sender[1]:
        raise MessageError("the header names no instrument serial")
    serial, firmware = sender[1], sender[2] if len(sender) > 2 else ""
    when = _parse_ts(astm.field_at(header, 14), "header time")
    orders = [astm.split_record(r) for r in records if r.startswith("O|")]
    results = [astm.split_record(r) for r in records if r.startswith("R|")]
    if len(orders) != 1 or not results:
        raise MessageError(f"expected one O record and R records, got {len(orders)} O and {len(results)} R")
    order = orders[0]
    test_no_text = astm.field_at(order, 4)
    if not test_no_text.isdigit():
        raise MessageError(f"test number is not a number: {test_no_text!r}")
    lines = []
    operator = ""
    for fields in results:
        pos_text = astm.field_at(fields, 2)
        if not pos_text.isdigit() or not 1 <= int(pos_text) <= MAX_LINES:
            raise MessageError(f"R sequence number must be 1…{MAX_LINES}: {pos_text!r}")
        test_id = astm.components(astm.field_at(fields, 3))
        values = astm.components(astm.field_at(fields, 4))
        if len(test_id) < 4 or not test_id[3] or len(values) != 3:
            raise MessageError(f"R record {pos_text} lacks the item code or the T/C^T^C values")
        if astm.unescape(astm.field_at(fields, 14)) != serial:
            raise MessageError(f"R record {pos_text} names another instrument")
        status, flag = astm.field_at(fields, 9), astm.field_at(fields, 7)
        if status == "X":
            judgement = "invalid"
        elif status == "F" and flag in ("N", "A"):
            judgement = "positive" if flag == "A" else "negative"
        else:
            raise MessageError(f"R record {pos_text}: status {status!r} with flag {flag!r} is no judgement")
        operator = astm.unescape(astm.field_at(fields, 11))
        lines.append(
            LineResult(
                position=int(pos_text),
                item_code=test_id[3],
                kit_lot=test_id[4] if len(test_id) > 4 else "",
                ratio=_num(values[0], "T/C"),
                t=_num(values[1], "T intensity"),
                c=_num(values[2], "C intensity"),
                cutoff=_num(astm.field_at(fields, 6), "cut-off"),
                judgement=judgement,
                started=_parse_ts(astm.field_at(fields, 12), "start time"),
                completed=_parse_ts(astm.field_at(fields, 13), "completion time"),
            )
        )
    if len({line.position for line in lines}) != len(lines):
        raise MessageError("two R records with the same sequence number")
    return CardTest(
        serial=serial,
        test_no=int(test_no_text),
        sample_id=astm.unescape(astm.field_at(order, 3)),
        operator=operator,
        time=when,
        results=tuple(lines),
        firmware=firmware,
    )
