"""ASTM E1381 (low-level link) and E1394 (records) codec, shared by the gold driver and its simulator.

E1381 frames: ``STX FN text (ETB|ETX) C1 C2 CR LF``. FN is the frame number 1…7,0,1… (the first frame
after ENQ is 1); C1 C2 are the two upper-case hex digits of the sum of every byte from FN through
ETB/ETX, modulo 256. At most 240 text characters per frame: a record is sent in its own frame(s), the
last of which ends with ETX and every earlier one with ETB. See docs/protocols/gold-astm.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

ENQ = 0x05
ACK = 0x06
NAK = 0x15
EOT = 0x04
STX = 0x02
ETX = 0x03
ETB = 0x17
CR = 0x0D
LF = 0x0A

MAX_TEXT = 240  # characters of text per frame
MAX_FRAME = MAX_TEXT + 7  # STX FN … ETX C1 C2 CR LF
DEFAULT_BAUD = 9600

# The standard's timers, in seconds (scale them with instrument_drivers.timers.scaled).
SENDER_REPLY_TIMEOUT = 15.0  # sender waits this long for ACK/NAK after ENQ or a frame
RECEIVER_FRAME_TIMEOUT = 30.0  # receiver waits this long for the next frame or EOT
BUSY_RETRY_DELAY = 10.0  # after a NAK to its ENQ the sender waits at least this long
CONTENTION_DELAY_INSTRUMENT = 1.0  # after ENQ/ENQ contention the instrument waits at least 1 s
CONTENTION_DELAY_COMPUTER = 20.0  # … and the computer system at least 20 s
MAX_TRANSMISSIONS = 6  # a frame is sent at most six times, then the sender gives up (EOT)

FIELD, REPEAT, COMPONENT, ESCAPE = "|", "\\", "^", "&"
DELIMITERS = FIELD + REPEAT + COMPONENT + ESCAPE


def checksum(body: bytes) -> bytes:
    """Two upper-case hex digits of sum(body) mod 256; `body` runs from FN through ETX/ETB."""
    return b"%02X" % (sum(body) & 0xFF)


def build_frame(fn: int, text: bytes, final: bool) -> bytes:
    """One frame; `text` is at most 240 bytes and, for a final frame, normally ends with CR."""
    if len(text) > MAX_TEXT:
        raise ValueError(f"frame text longer than {MAX_TEXT} characters")
    body = b"%d" % (fn % 8) + text + bytes((ETX if final else ETB,))
    return bytes((STX,)) + body + checksum(body) + b"\r\n"


def record_frames(records: Iterable[str], first_fn: int = 1, encoding: str = "latin-1") -> list[bytes]:
    """The frames that carry `records` (each record text without its CR), numbered from `first_fn`."""
    frames: list[bytes] = []
    fn = first_fn
    for record in records:
        text = record.encode(encoding) + b"\r"
        pieces = [text[i : i + MAX_TEXT] for i in range(0, len(text), MAX_TEXT)]
        for n, piece in enumerate(pieces):
            frames.append(build_frame(fn, piece, final=n == len(pieces) - 1))
            fn = (fn + 1) % 8
    return frames


@dataclass(frozen=True, slots=True)
class Token:
    """One unit seen on the line by a receiver: a control character, a good frame or a bad frame."""

    kind: str  # "ENQ" | "EOT" | "ACK" | "NAK" | "frame" | "bad"
    fn: int = -1
    text: bytes = b""
    final: bool = True
    raw: bytes = b""


_CONTROLS = {ENQ: "ENQ", EOT: "EOT", ACK: "ACK", NAK: "NAK"}


def looks_like_frame(raw: bytes) -> bool:
    """STX, a frame number digit, …, LF: a transmission the sender waits for an answer to.

    A receiver NAKs only these; bytes that merely start with STX (noise, a frame cut short) get no
    answer, so that every transmission is answered at most once and the sender never takes one
    frame's answer for the next one's."""
    return len(raw) >= 3 and raw[0] == STX and 0x30 <= raw[1] <= 0x37 and raw[-1] == LF


def check_frame(raw: bytes) -> Token:
    """Validate one complete frame (STX … LF) and return a `frame` or `bad` token."""
    bad = Token("bad", raw=raw)
    if len(raw) < 7 or raw[0] != STX or raw[-2:] != b"\r\n":
        return bad
    body, cs = raw[1:-4], raw[-4:-2]
    if not body[:1].isdigit() or int(body[:1]) > 7 or body[-1] not in (ETX, ETB):
        return bad
    if checksum(body) != cs.upper() or len(body) - 2 > MAX_TEXT:
        return bad
    text = body[1:-1]
    if any(b in (STX, ETX, ETB, ENQ, EOT, ACK, NAK, LF) for b in text):
        return bad
    return Token("frame", fn=int(body[:1]), text=text, final=body[-1] == ETX, raw=raw)


@dataclass(slots=True)
class LinkReader:
    """Splits the incoming byte stream into `Token`s.

    Outside a frame, ENQ/EOT/ACK/NAK are tokens and any other byte is line noise (counted, skipped).
    STX opens a frame that ends at LF; a frame interrupted by another STX, by ENQ or EOT (which can never
    be frame text), or longer than a frame can be, is a `bad` token, and the interrupting control
    character is then handled on its own.
    """

    _frame: bytearray | None = None
    noise: int = 0
    _out: list[Token] = field(default_factory=list)

    def feed(self, data: bytes) -> list[Token]:
        out = self._out
        out.clear()
        for b in data:
            frame = self._frame
            if frame is None:
                if b == STX:
                    self._frame = bytearray((STX,))
                elif b in _CONTROLS:
                    out.append(Token(_CONTROLS[b]))
                else:
                    self.noise += 1
                continue
            if b == STX:
                out.append(Token("bad", raw=bytes(frame)))
                self._frame = bytearray((STX,))
            elif b in (ENQ, EOT):
                out.append(Token("bad", raw=bytes(frame)))
                self._frame = None
                out.append(Token(_CONTROLS[b]))
            else:
                frame.append(b)
                if b == LF:
                    out.append(check_frame(bytes(frame)))
                    self._frame = None
                elif len(frame) > MAX_FRAME + 8:
                    out.append(Token("bad", raw=bytes(frame)))
                    self._frame = None
        return list(out)

    def in_frame(self) -> bool:
        return self._frame is not None

    def reset(self) -> None:
        self._frame = None


class RecordAssembler:
    """Joins frame texts into records: ETB frames are continued, an ETX frame completes the record(s)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def add(self, text: bytes, final: bool) -> list[bytes]:
        self._parts.append(text)
        if not final:
            return []
        whole = b"".join(self._parts)
        self._parts.clear()
        return [r for r in whole.split(b"\r") if r]

    def reset(self) -> None:
        self._parts.clear()

    @property
    def partial(self) -> bool:
        return bool(self._parts)


# --- E1394 records ------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Escape delimiters inside a field value (E1394 §7.4): &F& &S& &R& &E&."""
    return text.replace(ESCAPE, "&E&").replace(FIELD, "&F&").replace(COMPONENT, "&S&").replace(REPEAT, "&R&")


def unescape(text: str) -> str:
    if ESCAPE not in text:
        return text
    out, i = [], 0
    table = {"F": FIELD, "S": COMPONENT, "R": REPEAT, "E": ESCAPE}
    while i < len(text):
        if text[i] == ESCAPE and i + 2 < len(text) and text[i + 2] == ESCAPE and text[i + 1] in table:
            out.append(table[text[i + 1]])
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def split_record(record: str) -> list[str]:
    """Fields of a record (escapes kept; split components with `components`). H keeps its delimiters."""
    if record.startswith("H" + FIELD):
        rest = record[len("H" + DELIMITERS) :]
        return ["H", DELIMITERS[1:], *rest.split(FIELD)[1:]] if rest.startswith(FIELD) else ["H", DELIMITERS[1:]]
    return record.split(FIELD)


def field_at(fields: list[str], n: int) -> str:
    """Field `n` counted as the standard counts (1 = record type), '' when absent."""
    return fields[n - 1] if 0 < n <= len(fields) else ""


def components(value: str) -> list[str]:
    return [unescape(c) for c in value.split(COMPONENT)]


def join_record(*fields: str) -> str:
    """A record from its fields; values must already be escaped (see `escape`)."""
    return FIELD.join(fields)


def iter_frames(data: bytes) -> Iterator[Token]:
    """Tokens of a captured byte stream (for tools and tests)."""
    yield from LinkReader().feed(data)
