"""Link-layer timers: the standards' values, scaled by `LIMS_LINK_TIMER_SCALE`.

Drivers and simulators read every protocol timer through `scaled()`, so a test run can set
`LIMS_LINK_TIMER_SCALE=0.05` and see an ASTM 15 s reply timer expire after 0.75 s.
"""

from __future__ import annotations

import os

ENV_VAR = "LIMS_LINK_TIMER_SCALE"


def timer_scale() -> float:
    """The factor from `LIMS_LINK_TIMER_SCALE` (default 1.0); a bad value is an error, not ignored."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{ENV_VAR} must be a positive number, not {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{ENV_VAR} must be a positive number, not {raw!r}")
    return value


def scaled(seconds: float, scale: float | None = None, floor: float = 0.0) -> float:
    """`seconds` times the link timer scale (`scale` when given, else the environment's), at least `floor`.

    The floor keeps answer timeouts above what the host itself needs to read an answer."""
    return max(floor, seconds * (timer_scale() if scale is None else scale))
