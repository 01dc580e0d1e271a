"""Colloidal-gold cards measured from photos: T/C error and judgement agreement on generated card photos, and
the photos that must be refused.

Two sets are drawn from the generator (`simulators.card_photo.cards`): ``tuning`` (seeds the measurement's
constants were set on) and ``evaluation`` (other seeds, never looked at while tuning), each with 1-3 cards per
photo, true T/C from 0.05 to 1.6 and the realistic phone effects (light level and fall-off, colour cast, blur
up to 1 px, tilt, sensor noise, JPEG 70-95). For every card found: |measured T/C - true T/C|, and whether the
kit-lot judgement (`lims.judgement.gold.judge_gold`, the reader's) of the measured figures equals that of the
true ones when the true T/C is more than 0.1 from the cut-off. Then the invalid photos: blurred, over-exposed,
under-exposed (each must be refused with that reason) and cards without a C line (must be judged invalid).
Time per photo is printed next to the baseline of decoding the same JPEG alone (cv2.imdecode).

    .venv/bin/python bench/cards.py [--photos 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter

import cv2
import numpy as np

from instrument_drivers.card_photo.measure import PhotoRefused, measure
from lims.judgement.gold import GoldKit, judge_gold
from simulators.card_photo.cards import Card, Shot, photo, realistic_shot
from simulators.gold import KITS, MIN_C

GOAL_ERROR = 0.05
MARGIN = 0.1


def _cards(rng: random.Random, n: int, *, c_line: bool = True) -> list[Card]:
    out = []
    for _ in range(n):
        item = rng.choice(sorted(KITS))
        c = rng.uniform(0.6, 1.3) if c_line else 0.0
        ratio = rng.uniform(0.05, 1.6)
        out.append(
            Card(
                item,
                KITS[item][0],
                t=min(1.5, ratio * c) if c_line else rng.uniform(0.2, 0.9),
                c=c,
                angle=rng.uniform(-12, 12),
            )
        )
    return out


def run_set(name: str, first_seed: int, photos: int) -> tuple[list[float], int, int, int, float, float]:
    """Errors, agreements, cards compared, cards missed, and mean ms per photo (ours, decode only)."""
    errors: list[float] = []
    agree = compared = missed = 0
    ours: list[float] = []
    base: list[float] = []
    for k in range(photos):
        rng = random.Random(f"{name}:{first_seed + k}")
        cards = _cards(rng, rng.randint(1, 3))
        data = photo(cards, realistic_shot(rng))
        started = time.perf_counter()
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        base.append(time.perf_counter() - started)
        started = time.perf_counter()
        try:
            found = measure(data).cards
        except PhotoRefused as exc:
            print(f"  {name} photo {k}: refused ({exc.code})", file=sys.stderr)
            missed += len(cards)
            continue
        finally:
            ours.append(time.perf_counter() - started)
        if len(found) != len(cards):
            missed += len(cards)
            continue
        for card, got in zip(cards, found, strict=True):
            true_tc = card.t / card.c
            if got.tc is None:
                missed += 1
                continue
            errors.append(abs(got.tc - true_tc))
            cutoff = KITS[card.item_code][1]
            if abs(true_tc - cutoff) > MARGIN:
                kit = GoldKit(cutoff_tc=cutoff, min_c_intensity=MIN_C)
                compared += 1
                agree += (
                    judge_gold(t_intensity=got.t, c_intensity=got.c, kit=kit).outcome
                    == judge_gold(t_intensity=card.t, c_intensity=card.c, kit=kit).outcome
                )
    return errors, agree, compared, missed, 1000 * statistics.fmean(ours), 1000 * statistics.fmean(base)


def invalid_photos(count: int) -> Counter[str]:
    """How each kind of bad photo came out: 'refused:<code>', 'invalid' (judged), or 'ACCEPTED'."""
    outcome: Counter[str] = Counter()
    for k in range(count):
        rng = random.Random(f"invalid:{k}")
        good = realistic_shot(rng)
        cases = {
            "blurred": (_cards(rng, 2), Shot(**{**good.__dict__, "blur": rng.uniform(3.0, 6.0)})),
            "overexposed": (_cards(rng, 2), Shot(**{**good.__dict__, "gain": rng.uniform(1.6, 2.5)})),
            "underexposed": (_cards(rng, 2), Shot(**{**good.__dict__, "gain": rng.uniform(0.06, 0.16)})),
            "no_c_line": (_cards(rng, 2, c_line=False), good),
        }
        for kind, (cards, shot) in cases.items():
            try:
                found = measure(photo(cards, shot)).cards
            except PhotoRefused as exc:
                outcome[f"{kind} -> refused:{exc.code}"] += 1
                continue
            kit = GoldKit(cutoff_tc=0.9, min_c_intensity=MIN_C)
            judged = {judge_gold(t_intensity=c.t, c_intensity=c.c, kit=kit).outcome.value for c in found}
            outcome[f"{kind} -> {'invalid' if judged == {'invalid'} else 'ACCEPTED ' + ','.join(sorted(judged))}"] += 1
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--photos", type=int, default=200, help="photos per set (default 200)")
    parser.add_argument("--invalid", type=int, default=30, help="photos of each invalid kind (default 30)")
    args = parser.parse_args()
    print(
        f"{'set':<11} | cards | median |T/C err| | p95   | within ±{GOAL_ERROR} | "
        f"agreement (|true-cut-off|>{MARGIN}) | missed | ms/photo | ratio"
    )
    ok = True
    for name, seed in (("tuning", 0), ("evaluation", 100_000)):
        errors, agree, compared, missed, ms, base = run_set(name, seed, args.photos)
        median, p95 = statistics.median(errors), float(np.percentile(errors, 95))
        within = sum(e <= GOAL_ERROR for e in errors) / len(errors)
        print(
            f"{name:<11} | {len(errors):5d} | {median:17.4f} | {p95:.4f} | {within:11.1%} | "
            f"{agree}/{compared} = {agree / max(compared, 1):.1%}{'':>12} | {missed:6d} | {ms:8.1f} | {ms / base:5.1f}"
        )
        ok &= p95 <= GOAL_ERROR and agree == compared and missed == 0
    print("ratio = time to measure a photo / time to decode the same JPEG alone (cv2.imdecode), same run")
    print("invalid photos:")
    outcome = invalid_photos(args.invalid)
    for key in sorted(outcome):
        print(f"  {key:<40} {outcome[key]}")
    ok &= not any("ACCEPTED" in key for key in outcome)
    print("goals met" if ok else "GOALS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
