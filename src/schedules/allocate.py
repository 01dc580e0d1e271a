"""Packing engine: spread each point's batches over its days within the vehicle's daily capacity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import add, le, mul

UNLIMITED = 1 << 40
VISITS = -1  # index of the points-per-day dimension in a capacity vector
GOLDEN = 0.6180339887498949  # phase step between points: successive points land far apart in a segment
LOAD_STEPS = 10  # day loads compare in tenths of capacity; within a step, spacing decides


@dataclass(slots=True)
class Demand:
    """What one point still needs: batches per category index, over candidate day indices."""

    route: int
    days: list[int]  # candidate day indices, ascending
    visits: int  # visits to spread the batches over (1 <= visits <= len(days))
    quota: dict[int, int]  # category index -> batches


@dataclass(slots=True)
class Engine:
    """Daily capacity ledger plus the batches placed per (point, day).

    Capacity vectors are [samples, channels of each family..., points per day]; `usage[c]` is what one
    batch of category c takes in every dimension but the last.
    """

    cap: list[int]
    usage: list[list[int]]
    n_days: int
    used: list[list[int]] = field(init=False)
    placed: dict[tuple[int, int], dict[int, int]] = field(init=False, default_factory=dict)
    _inv: list[float] = field(init=False)
    _no_zero_cap: bool = field(init=False)
    _uses: list[list[tuple[int, int]]] = field(init=False)  # per category: (dimension, units) where units > 0

    def __post_init__(self) -> None:
        self.used = [[0] * len(self.cap) for _ in range(self.n_days)]
        self._inv = [0.0 if c >= UNLIMITED else (1.0 / c if c else float("inf")) for c in self.cap]
        self._no_zero_cap = all(self.cap)
        self._uses = [[(k, u) for k, u in enumerate(usage) if u] for usage in self.usage]

    def occupy(self, day: int, counts: dict[int, int], visit: bool = True) -> None:
        """Charge work done outside the engine (completed tasks) against a day's capacity."""
        row = self.used[day]
        for cat, n in counts.items():
            for k, u in enumerate(self.usage[cat]):
                row[k] += u * n
        row[VISITS] += int(visit)

    def _need(self, counts: dict[int, int]) -> list[int]:
        need = [0] * len(self.cap)
        uses = self._uses
        for cat, n in counts.items():
            if n:
                for k, u in uses[cat]:
                    need[k] += u * n
        need[VISITS] = 1
        return need

    def _load(self, day: int, need: Sequence[int] | None = None) -> float:
        """Fullest dimension of the day as a fraction of capacity (after adding `need` if given)."""
        row, worst = self.used[day], 0.0
        for k, inv in enumerate(self._inv):
            if inv:
                value = row[k] + (need[k] if need is not None else 0)
                if value and value * inv > worst:
                    worst = value * inv
        return worst

    def _room(self, route: int, day: int, cat: int) -> int:
        """How many more batches of `cat` this point can take on `day`."""
        row, cap = self.used[day], self.cap
        if (route, day) not in self.placed and row[VISITS] >= cap[VISITS]:
            return 0
        room = UNLIMITED
        for k, u in enumerate(self.usage[cat]):
            if u:
                room = min(room, (cap[k] - row[k]) // u)
        return max(room, 0)

    def _put(self, route: int, day: int, cat: int, n: int) -> None:
        bundle = self.placed.get((route, day))
        if bundle is None:
            bundle = self.placed[(route, day)] = {}
            self.used[day][VISITS] += 1
        bundle[cat] = bundle.get(cat, 0) + n
        row = self.used[day]
        for k, u in enumerate(self.usage[cat]):
            row[k] += u * n

    def _put_all(self, route: int, day: int, counts: dict[int, int]) -> None:
        """`_put` of every category of `counts` that has batches, in order."""
        key = (route, day)
        bundle = self.placed.get(key)
        row = self.used[day]
        uses = self._uses
        for cat, n in counts.items():
            if n:
                if bundle is None:
                    bundle = self.placed[key] = {}
                    row[VISITS] += 1
                bundle[cat] = bundle.get(cat, 0) + n
                for k, u in uses[cat]:
                    row[k] += u * n

    def _fill(self, route: int, days: Sequence[int], counts: dict[int, int]) -> dict[int, int]:
        """Put as many batches as fit on the days, in the given order; return what is left."""
        left: dict[int, int] = {}
        for cat, n in counts.items():
            for day in days:
                if n <= 0:
                    break
                take = min(n, self._room(route, day, cat))
                if take:
                    self._put(route, day, cat, take)
                    n -= take
            if n:
                left[cat] = n
        return left

    def place_visit(self, route: int, segment: Sequence[int], counts: dict[int, int]) -> dict[int, int]:
        """Put one visit's batches on a day of its segment that holds them all.

        Among such days the least loaded wins (load counted in tenths of capacity), then the one nearest
        the point's own phase in the segment, so each point keeps a steady spacing between visits and
        points spread across the segment. When no day holds them all, the least-loaded day takes what
        fits; the rest is returned.
        """
        need = self._need(counts)
        ideal = int(((route * GOLDEN) % 1.0) * len(segment))
        if self._no_zero_cap:  # the same choice as `_choose`, looking only at the days that hold the visit
            cap, inv, used = self.cap, self._inv, self.used
            best, best_step, best_distance = -1, 0, 0
            for j, day in enumerate(segment):
                values = list(map(add, used[day], need))
                if all(map(le, values, cap)):
                    step, distance = int(max(map(mul, values, inv)) * LOAD_STEPS), abs(j - ideal)
                    if best < 0 or step < best_step or (step == best_step and distance < best_distance):
                        best, best_step, best_distance = day, step, distance
            if best >= 0:
                self._put_all(route, best, counts)
                return {}
        best, fits = self._choose(segment, need, ideal)
        if fits:
            for cat, n in counts.items():
                if n:
                    self._put(route, best, cat, n)
            return {}
        return self._fill(route, [best], counts)

    def _choose(self, segment: Sequence[int], need: list[int], ideal: int) -> tuple[int, bool]:
        """The day of the segment `place_visit` takes, and whether it holds the visit."""
        cap, inv, dims = self.cap, self._inv, range(len(self.cap))
        best, best_key = segment[0], (2, 0.0, 0)
        for j, day in enumerate(segment):
            row = self.used[day]
            fits, after, now = True, 0.0, 0.0
            for k in dims:
                value = row[k] + need[k]
                if value > cap[k]:
                    fits = False
                if inv[k]:
                    if value and value * inv[k] > after:
                        after = value * inv[k]
                    if row[k] and row[k] * inv[k] > now:
                        now = row[k] * inv[k]
            key = (0, float(int(after * LOAD_STEPS)), abs(j - ideal)) if fits else (1, now, abs(j - ideal))
            if key < best_key:
                best, best_key = day, key
        return best, best_key[0] == 0

    def place_rest(self, route: int, days: Sequence[int], counts: dict[int, int]) -> dict[int, int]:
        """Put left-over batches anywhere the point can go: its visit days first, then the least loaded."""
        own = [d for d in days if (route, d) in self.placed]
        other = sorted((d for d in days if (route, d) not in self.placed), key=lambda d: (self._load(d), d))
        return self._fill(route, own + other, counts)


def split(quota: int, visits: int, offset: int) -> list[int]:
    """Split a quota over visits as evenly as possible; the odd batches go to spread-out visits."""
    base, extra = divmod(quota, visits)
    out = [base] * visits
    for t in range(extra):
        out[(offset + (t * visits) // extra) % visits] += 1
    return out


def segments(days: Sequence[int], visits: int) -> list[list[int]]:
    """Cut the days into `visits` consecutive runs of near-equal length, one per visit."""
    n = len(days)
    return [list(days[(i * n) // visits : ((i + 1) * n) // visits]) for i in range(visits)]


def allocate(engine: Engine, demands: Sequence[Demand]) -> dict[int, dict[int, int]]:
    """Place every demand, most constrained points first; return what is left per point and category."""
    order = sorted(demands, key=lambda d: (len(d.days), -sum(d.quota.values()), d.route))
    pending: dict[int, dict[int, int]] = {}
    for demand in order:
        if not demand.days or demand.visits < 1:
            continue
        per_visit: list[dict[int, int]] = [{} for _ in range(demand.visits)]
        for j, (cat, q) in enumerate(demand.quota.items()):
            if q:
                for i, n in enumerate(split(q, demand.visits, demand.route + j)):
                    if n:
                        per_visit[i][cat] = n
        for segment, counts in zip(segments(demand.days, demand.visits), per_visit, strict=True):
            if counts:
                for cat, n in engine.place_visit(demand.route, segment, counts).items():
                    pending.setdefault(demand.route, {})
                    pending[demand.route][cat] = pending[demand.route].get(cat, 0) + n
    left: dict[int, dict[int, int]] = {}
    for demand in sorted(demands, key=lambda d: d.route):
        rest = pending.get(demand.route)
        if not demand.days or demand.visits < 1:
            rest = {c: n for c, n in demand.quota.items() if n}
        elif rest:
            rest = engine.place_rest(demand.route, demand.days, dict(sorted(rest.items())))
        if rest:
            left[demand.route] = rest
    return left
