"""Wire format of the card-photo family: the printed card layout the measurement relies on, and the frames a
camera (a phone on its USB cable, a camera dock, a watched folder's files) sends photos in.

A photo frame is one header line, the image bytes, and LF::

    CPH1 <serial> <seq> <sample|-> <length> <crc32>\\n<length bytes of JPEG or PNG>\\n

`crc32` is the CRC-32 (zlib) of the header's fields before it and of the image bytes, as eight hex digits. The
host answers ``ACK <seq>\\n`` once the readings of the photo are stored; until then the camera sends its oldest
photo again every `RESEND` seconds. Bytes before ``CPH1 `` are noise and skipped.

The card (a colloidal-gold cassette as printed for the project's kits) is described in card units: 100 wide and
300 high. A QR code at the top holds ``CP1:<item>:<kit lot>``; the result window below it holds the C (control)
line and, under it, the T (test) line; the sample well is at the bottom.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass

MAGIC = b"CPH1 "
BAUD = 115200  # a phone's USB link is CDC-ACM: the figure is nominal, the bytes go at USB speed
RESEND = 2.0  # seconds the camera waits for an acknowledgement before it sends the photo again
MAX_PHOTO_BYTES = 8 * 1024 * 1024  # a phone photo is 2-6 MB (the LIMS bounds uploads the same way)
MAX_HEADER = 160
MAX_CARDS = 4  # cards measured in one photo; one more is refused rather than guessed at
UNIT = "T/C"
_HEADER = re.compile(
    rb"CPH1 (?P<serial>[A-Za-z0-9_.-]{1,32}) (?P<seq>[0-9]{1,9}) (?P<sample>[A-Za-z0-9_.-]{1,40}) "
    rb"(?P<length>[0-9]{1,8}) (?P<crc>[0-9a-f]{8})\n"
)
_ACK = re.compile(rb"ACK (?P<seq>[0-9]{1,9})\n")

# --- the printed card, in card units ---------------------------------------------------------------------

CARD_W, CARD_H = 100.0, 300.0
QR_BOX = (15.0, 12.0, 85.0, 82.0)  # x0, y0, x1, y1 of the printed code
WINDOW = (32.0, 105.0, 68.0, 215.0)  # the result window's opening (inside its bevel)
BEVEL = 4.0  # width of the window's moulded bevel, darker than the card
C_LINE_Y = 135.0  # where the kit prints the C line (card units from the top)
T_LINE_Y = 180.0  # … and the T line
LINE_WIDTH = 5.0  # printed width of a line
WELL = (50.0, 255.0, 16.0)  # sample well: centre x, centre y, radius
CODE_PREFIX = "CP1"


def card_code(item_code: str, kit_lot: str) -> str:
    """The text of a card's printed code."""
    return f"{CODE_PREFIX}:{item_code}:{kit_lot}"


def parse_code(text: str) -> tuple[str, str] | None:
    """(item code, kit lot) from a card's printed code, or None for any other text."""
    parts = text.strip().split(":")
    if len(parts) != 3 or parts[0] != CODE_PREFIX or not re.fullmatch(r"[A-Z0-9_]{1,16}", parts[1]):
        return None
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", parts[2]):
        return None
    return parts[1], parts[2]


# --- frames ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Photo:
    """One photo as the camera sends it: who took it, its number, the sample it shows, the image file."""

    serial: str
    seq: int
    sample: str
    image: bytes

    def sequence(self, card: int) -> int:
        """The sequence number of the reading of card `card` (1-based, left to right) of this photo."""
        return self.seq * 10 + card


def photo_number(image: bytes) -> int:
    """The number of a photo that comes as a file (a watched folder's, an upload): from its SHA-256, so the same
    photo sent twice is one photo, stored once. 56 bits: two different photos share a number with a chance of
    about n² / 2⁵⁷ among n photos, and its readings' sequence numbers (`Photo.sequence`) fit a signed 64-bit
    column."""
    return int(hashlib.sha256(image).hexdigest()[:14], 16)


def _crc(serial: str, seq: int, sample: str, image: bytes) -> bytes:
    fields = f"{serial} {seq} {sample or '-'} {len(image)}".encode("ascii")
    return b"%08x" % zlib.crc32(image, zlib.crc32(fields))


def encode(photo: Photo) -> bytes:
    """The frame of one photo."""
    head = f"CPH1 {photo.serial} {photo.seq} {photo.sample or '-'} {len(photo.image)} ".encode("ascii")
    return head + _crc(photo.serial, photo.seq, photo.sample, photo.image) + b"\n" + photo.image + b"\n"


def checksum_span(frame: bytes) -> slice:
    """Where the checksum digits of `frame` are (for fault injection)."""
    end = frame.index(b"\n")
    return slice(end - 8, end)


class FrameReader:
    """Takes bytes as they arrive and returns whole, intact photos; noise and damaged frames are dropped."""

    def __init__(self) -> None:
        self.buffer = b""
        self.damaged = 0

    def feed(self, data: bytes) -> list[Photo]:
        """The photos completed by `data`."""
        self.buffer += data
        out: list[Photo] = []
        while True:
            start = self.buffer.find(MAGIC)
            if start < 0:
                self.buffer = self.buffer[-(len(MAGIC) - 1) :]
                return out
            self.buffer = self.buffer[start:]
            head = _HEADER.match(self.buffer)
            if head is None:
                if b"\n" in self.buffer[:MAX_HEADER] or len(self.buffer) >= MAX_HEADER:
                    self.damaged += 1
                    self.buffer = self.buffer[1:]  # not a header: look for the next one
                    continue
                return out
            length = int(head["length"])
            end = head.end() + length
            if length > MAX_PHOTO_BYTES:
                self.damaged += 1
                self.buffer = self.buffer[1:]
                continue
            if len(self.buffer) < end + 1:
                # a frame whose bytes never come (dropped tail) is ended by the next header's arrival
                later = self.buffer.find(MAGIC, head.end())
                if later < 0:
                    return out
                self.damaged += 1
                self.buffer = self.buffer[later:]
                continue
            image, tail = self.buffer[head.end() : end], self.buffer[end : end + 1]
            serial, seq, sample = head["serial"].decode(), int(head["seq"]), head["sample"].decode()
            sample = "" if sample == "-" else sample
            if tail != b"\n" or _crc(serial, seq, sample, image) != head["crc"]:
                self.damaged += 1
                self.buffer = self.buffer[1:]
                continue
            self.buffer = self.buffer[end + 1 :]
            out.append(Photo(serial, seq, sample, image))


def ack(seq: int) -> bytes:
    """The host's acknowledgement of photo `seq`."""
    return b"ACK %d\n" % seq


def acked(line: bytes) -> int | None:
    """The photo number an acknowledgement line names, or None."""
    m = _ACK.search(line + b"\n") if not line.endswith(b"\n") else _ACK.search(line)
    return None if m is None else int(m["seq"])
