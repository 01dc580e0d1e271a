"""A bounded, scan-resistant cache: at most N entries and B bytes, in two LRU segments.

New entries enter *probation*; an entry asked for again (if it may be promoted) moves to *protected*.
Eviction takes probation's oldest first, so a flood of one-off keys (random codes, every spelling of
one code) only churns probation and never evicts what is in use. Thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, NamedTuple, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

ENTRY_OVERHEAD = 200  # bytes per entry for the key, the tuple and the dictionaries' slots


class _Entry(NamedTuple, Generic[V]):
    value: V
    size: int
    protectable: bool


def _no_size(_value: object) -> int:
    return 0


class SegmentedCache(Generic[K, V]):
    """An LRU cache bounded by entries and bytes, protected from floods of keys seen once."""

    def __init__(
        self,
        max_entries: int,
        max_bytes: int,
        *,
        size_of: Callable[[V], int] = _no_size,
        protected_share: float = 0.8,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_protected = int(max_entries * protected_share)
        self.max_entry_bytes = max_bytes // 16
        self._size_of = size_of
        self._probation: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._protected: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._probation) + len(self._protected)

    def get(self, key: K) -> V | None:
        """The value for ``key`` (refreshing it), or None."""
        with self._lock:
            entry = self._protected.get(key)
            if entry is not None:
                self._protected.move_to_end(key)
                return entry.value
            entry = self._probation.get(key)
            if entry is None:
                return None
            if not entry.protectable:
                self._probation.move_to_end(key)
                return entry.value
            del self._probation[key]
            self._protected[key] = entry
            while len(self._protected) > self.max_protected:
                old_key, old = self._protected.popitem(last=False)
                self._probation[old_key] = old
            return entry.value

    def put(self, key: K, value: V, *, protectable: bool = True) -> None:
        """Store ``value`` (one over 1/16 of the byte bound is not kept); only protectable ones get promoted."""
        entry = _Entry(value, self._size_of(value) + ENTRY_OVERHEAD, protectable)
        with self._lock:
            old = self._protected.pop(key, None)
            was_protected = old is not None
            old = old or self._probation.pop(key, None)
            if old is not None:
                self.bytes -= old.size
            if entry.size > self.max_entry_bytes:
                return
            (self._protected if was_protected and protectable else self._probation)[key] = entry
            self.bytes += entry.size
            while len(self) > self.max_entries or self.bytes > self.max_bytes:
                _key, victim = (self._probation or self._protected).popitem(last=False)
                self.bytes -= victim.size

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._probation.clear()
            self._protected.clear()
            self.bytes = 0
