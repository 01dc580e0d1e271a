"""Building a large plan or schedule without the cyclic garbage collector rescanning it as it grows."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Pause the cyclic collector while a province-sized plan or schedule is built.

    Every collection of the oldest generation walks every object alive, and building 5,000 points' worth of
    models, dicts and tasks triggers many: the time grows faster than the plan. What is built holds no
    reference cycles (reference counting frees it as usual); whatever cycle an error leaves is collected once
    the collector runs again. Nested uses leave the collector as the outermost found it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
