"""Simulated card-photo camera: photographs the scenario's cards (one photo per group of intents, up to three
cards side by side) and sends its oldest photo until the host acknowledges it, with the faults a frame stream can
suffer; or, with ``--listen folder:///path``, drops the photo files into a watched folder.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from instrument_drivers.card_photo import codec
from instrument_drivers.card_photo.driver import readings_from_photo
from instrument_drivers.reading import Reading
from simulators.base import Simulator
from simulators.card_photo.cards import Card, photo, realistic_shot
from simulators.gold import KITS, PANELS
from simulators.link import Line, Pacing
from simulators.scenario import Scenario, ScenarioError

PHOTO_SIZE = (480, 360)  # small enough to send quickly, large enough to measure (the measurement needs ~1 px/unit)
CARDS_PER_PHOTO = 3
_TAKEN: dict[tuple[object, ...], list[codec.Photo]] = {}


@dataclass
class CardPhotoSimulator(Simulator):
    family = "card-photo"
    response_timeout = codec.RESEND
    response_floor = 0.1

    @classmethod
    def generate(cls, scenario: Scenario) -> list[codec.Photo]:
        """The photos the camera takes: a group of intents is one photo, else up to three cards at a time."""
        key = (scenario.serial, scenario.first_sequence, scenario.seed, scenario.start, tuple(scenario.intents))
        if key not in _TAKEN:  # drawing a photo takes ~0.1 s: the oracle and the camera share one set
            _TAKEN.clear()
            _TAKEN[key] = cls._take(scenario)
        return _TAKEN[key]

    @classmethod
    def _take(cls, scenario: Scenario) -> list[codec.Photo]:
        rng = random.Random(f"values:card-photo:{scenario.seed}")
        photos = []
        for n, group in enumerate(scenario.groups(CARDS_PER_PHOTO, rng)):
            if len(group) > codec.MAX_CARDS:
                raise ScenarioError(f"a card photo holds at most {codec.MAX_CARDS} cards")
            panel = rng.choice(PANELS)
            cards = []
            for i, it in enumerate(group):
                item = it.item or panel[i % len(panel)]
                lot, cutoff = KITS.get(item, (f"{item}-LOT", 0.9))
                c = 0.0 if it.result == "invalid" else round(rng.uniform(0.7, 1.2), 3)
                ratio = rng.uniform(0.1, 0.7 * cutoff) if it.result == "positive" else rng.uniform(1.2 * cutoff, 1.4)
                t = round(min(1.4, ratio * c), 3) if c else round(rng.uniform(0.3, 0.8), 3)
                cards.append(Card(item, lot, t=t, c=c, angle=rng.uniform(-8, 8)))
            shot = realistic_shot(rng, *PHOTO_SIZE)
            photos.append(
                codec.Photo(scenario.serial, scenario.first_sequence + n, group[0].sample or "", photo(cards, shot))
            )
        return photos

    @classmethod
    def expected(cls, scenario: Scenario) -> list[Reading]:
        """One reading per card of each photo, as measured from the photo the camera sends."""
        return [reading for shot in cls.generate(scenario) for reading in readings_from_photo(shot)]

    @classmethod
    def write_folder(cls, scenario: Scenario, folder: Path) -> list[Path]:
        """The scenario's photos as files in `folder` as a phone app saves them (``<sample>_<number>.jpg``, or
        ``<number>.jpg`` without a sample): each written under a temporary name and renamed, so a watcher never
        reads half a photo."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for shot in cls.generate(scenario):
            path = folder / (f"{shot.sample}_{shot.seq:06d}.jpg" if shot.sample else f"{shot.seq:06d}.jpg")
            part = path.with_name(path.name + ".part")
            part.write_bytes(shot.image)
            os.replace(part, path)
            paths.append(path)
        return paths

    def __post_init__(self) -> None:
        super().__post_init__()
        self.photos = self.generate(self.scenario)
        self.head = 0
        self.reset_link_state()

    def pending(self) -> int:
        return len(self.photos) - self.head

    def reset_link_state(self) -> None:
        self._inbox = b""
        self._sent_at: float | None = None

    def serve(self, line: Line) -> None:
        line.pacing = Pacing(None)  # USB CDC-ACM: no UART in the way, the bytes go at USB speed
        while not self.stopping():
            if self.exit_when_done and self.done():
                return
            due = self._sent_at is None or time.monotonic() - self._sent_at >= self.answer_timeout()
            if self.pending() and due:
                self.link_faults()
                frame = codec.encode(self.photos[self.head])
                self.faults.send(line, frame, checksum=codec.checksum_span(frame), slow=self.slow_delay())
                self._sent_at = time.monotonic()
            *lines, self._inbox = (self._inbox + line.read(0.01)).split(b"\n")
            self._inbox = self._inbox[-64:]
            for text in lines:
                self.heard(text)

    def heard(self, text: bytes) -> None:
        seq = codec.acked(text)
        if seq is None or self.faults.hit("corrupt"):  # garbled on its way in: as if never heard
            return
        if self.pending() and seq == self.photos[self.head].seq:
            self.head += 1
            self.released_one(seq)
            self._sent_at = None
