"""Driver of the card-photo family: receives photos of colloidal-gold cards, measures each card, and
acknowledges a photo once the readings of all its cards are stored.

Two links: a byte stream (`codec` frames over a serial device, ``socket://`` or a pty: a phone on its USB
cable, a camera dock) or a watched folder (``folder:///path`` or the folder's path): every JPEG or PNG file put
into the folder is one photo, taken in the order the files were written and numbered by its content's hash
(`codec.photo_number`: the same photo dropped twice is stored once); it is moved into ``done/`` once stored, and
into ``refused/`` (with a ``.txt`` giving the reason) when it cannot be measured (a file over the photo bound
without being read). At most `MAX_FOLDER_FILES` files are looked at per pass. The folder's camera serial is
``?serial=`` of the URL, else the folder's name when it is a serial (``CPH-…``), else ``CPH-`` and the name.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import time
import zlib
from collections import deque
from pathlib import Path
from urllib.parse import parse_qs

from instrument_drivers.base import Driver, Unit
from instrument_drivers.card_photo import codec
from instrument_drivers.card_photo.measure import PhotoRefused, measure
from instrument_drivers.errors import BadUrlError, LinkError
from instrument_drivers.reading import Reading
from instrument_drivers.transport import SerialLink

FOLDER = "folder://"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
_SERIAL = re.compile(r"[A-Za-z0-9_.-]{1,32}")
MAX_FOLDER_FILES = 1000  # directory entries looked at per pass: a folder flooded with files is taken in slices


def readings_from_photo(photo: codec.Photo, item_code: str | None = None, kit_lot: str | None = None) -> list[Reading]:
    """The readings of one photo, one per card; `PhotoRefused` when the photo cannot be measured.

    The item and kit lot come from each card's printed code, else from `item_code` / `kit_lot` (the tester's
    choice); a card with neither is refused."""
    measured = measure(photo.image)
    digest = hashlib.sha256(photo.image).hexdigest()
    out = []
    for card in measured.cards:
        item = card.item_code or item_code
        lot = card.kit_lot or kit_lot
        if not item:
            raise PhotoRefused("no_item", card=card.position)
        raw = {
            "photo": photo.seq,
            **card.as_raw(),
            "item_code": item,
            "kit_lot": lot,
            "item_from": "card" if card.item_code else "tester",
            "photo_sha256": digest,
            "photo_size": [measured.width, measured.height],
        }
        out.append(
            Reading(
                instrument_serial=photo.serial,
                family=CardPhotoDriver.family,
                sequence=photo.sequence(card.position),
                item_code=item,
                sample_label_id=photo.sample or None,
                raw=raw,
                value=card.tc,
                unit=codec.UNIT,
                evidence=photo.image,
            )
        )
    return out


class CardPhotoDriver(Driver):
    family = "card-photo"
    default_baud = codec.BAUD

    def __init__(self, url: str, **options: object) -> None:
        super().__init__(url, **options)  # type: ignore[arg-type]
        self._link: SerialLink | None = None
        self._frames = codec.FrameReader()
        self._queue: deque[codec.Photo] = deque()
        self.folder, self.serial = _folder_of(url)
        self.rejected: deque[tuple[str, int]] = deque(maxlen=100)  # (reason code, photo number) kept for a human
        self._measured_before: dict[tuple[str, int, int], list[Reading]] = {}
        self._paths: dict[int, Path] = {}  # the folder's files handed out, by photo number, until released

    def _connect(self) -> None:
        if self.folder is not None:
            if not self.folder.is_dir():
                raise LinkError(f"{self.url}: no such folder")
            for sub in ("done", "refused"):
                (self.folder / sub).mkdir(exist_ok=True)
            self.serial = self.serial or _folder_serial(self.folder)
            return
        if not self.url:
            raise BadUrlError("empty URL")
        self._link = SerialLink(self.url, self.default_baud)
        self._frames = codec.FrameReader()
        self._queue.clear()

    def _disconnect(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def _fetch(self, timeout: float) -> Unit | None:
        deadline = time.monotonic() + timeout
        while True:
            photo = self._queue.popleft() if self._queue else self._next_file()
            if photo is not None:
                unit = self._measured(photo)
                if unit is not None:
                    return unit
                continue
            if time.monotonic() >= deadline:
                return None
            if self._link is None:
                if self.folder is None:
                    raise LinkError("not connected")
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
                continue
            data = self._link.read_bulk(deadline)
            if data:
                for photo in self._frames.feed(data):
                    if not any(queued.seq == photo.seq for queued in self._queue):  # copies of one waiting photo
                        self._queue.append(photo)
                self.stats["damaged_frames"] = self._frames.damaged

    def _measured(self, photo: codec.Photo) -> Unit | None:
        self.serial = photo.serial
        if (photo.serial, photo.sequence(1)) in self._acked:
            # a photo sent again after its acknowledgement was lost: release it without measuring it again
            self.stats["resent_known"] += 1
            self._release_quietly(Unit([], token=photo))
            return None
        key = (photo.serial, photo.seq, zlib.crc32(photo.image))
        try:
            readings = self._measured_before.get(key) or readings_from_photo(photo)
        except PhotoRefused as exc:
            self.stats["refused_photos"] += 1
            self.log.error("photo %s refused (%s)", photo.seq, exc.code)
            self.rejected.append((exc.code, photo.seq))
            self._refuse_file(photo, exc)  # a file goes to refused/ with its reason, not to done/
            self._release_quietly(Unit([], token=photo))  # nothing to store: the camera may forget it
            return None
        self._measured_before = {key: readings}  # the camera re-sends this photo until it is acknowledged
        return Unit(readings, token=photo)

    def _release(self, unit: Unit) -> None:
        photo: codec.Photo = unit.token
        if self.folder is not None:
            path = self._paths.pop(photo.seq, None)
            if path is not None and path.exists():
                os.replace(path, self.folder / "done" / path.name)
            return
        if self._link is None:
            raise LinkError("not connected")
        self._link.write(codec.ack(photo.seq))

    def _fetch_window(self) -> float:
        return 0.5

    # --- the watched folder -------------------------------------------------------------------------

    def _next_file(self) -> codec.Photo | None:
        """The oldest photo file in the folder not handed out yet on this connection."""
        if self.folder is None:
            return None
        given = set(self._paths.values())
        found = []
        with os.scandir(self.folder) as entries:
            for entry in itertools.islice(entries, MAX_FOLDER_FILES):
                path = Path(entry.path)
                if path.suffix.lower() in PHOTO_SUFFIXES and entry.is_file() and path not in given:
                    try:
                        found.append((entry.stat().st_mtime_ns, entry.name, path))
                    except OSError:
                        continue
        for _mtime, _name, path in sorted(found):
            try:
                if path.stat().st_size > codec.MAX_PHOTO_BYTES:
                    self._refuse_path(path, "too_large")
                    continue
                image = path.read_bytes()
            except OSError:
                continue  # still being written or gone: try again on the next look
            seq = codec.photo_number(image)
            if seq in self._paths:  # the same photo twice in the folder: the copy is taken once the first is stored
                continue
            self._paths[seq] = path
            sample = path.stem.split("_")[0] if "_" in path.stem else ""
            return codec.Photo(self.serial or _folder_serial(self.folder), seq, sample, image)
        return None

    def _refuse_file(self, photo: codec.Photo, exc: PhotoRefused) -> None:
        if self.folder is None:
            return
        path = self._paths.pop(photo.seq, None)
        if path is not None:
            self._refuse_path(path, exc.code)

    def _refuse_path(self, path: Path, code: str) -> None:
        assert self.folder is not None
        if path.exists():
            os.replace(path, self.folder / "refused" / path.name)
            (self.folder / "refused" / f"{path.name}.txt").write_text(code + "\n", encoding="utf-8")


def _folder_serial(folder: Path) -> str:
    """A watched folder's instrument serial: its name when that is a camera's serial, else CPH- and its name (the
    folder is the camera)."""
    name = "".join(ch for ch in folder.resolve().name.upper() if ch.isalnum() or ch in "-_")[:24] or "FOLDER"
    return name if name.startswith("CPH-") and len(name) > 4 else f"CPH-{name}"


def _folder_of(url: str) -> tuple[Path | None, str | None]:
    """(folder, serial given in the URL) of a watched folder's URL or path; (None, None) for a byte stream's URL."""
    if url.startswith(FOLDER):
        path, _, query = url[len(FOLDER) :].partition("?")
        serial = parse_qs(query).get("serial", [""])[0]
        if serial and not _SERIAL.fullmatch(serial):
            raise BadUrlError(f"{url}: a serial is 1-32 letters, digits, '_', '.' or '-'")
        return Path(path), serial or None
    if url and "://" not in url and os.path.isdir(url):
        return Path(url), None
    return None, None
