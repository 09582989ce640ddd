"""Small statistics: success-rate windows in fixed memory, and percentiles."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["SuccessWindows", "percentile"]


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when empty), rounded to 0.001."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return round(ordered[rank - 1], 3)


class _Ring:
    """Counts per time slot for the last ``slots`` slots of ``width`` seconds each."""

    __slots__ = ("failures", "slots", "stamps", "totals", "width")

    def __init__(self, width: float, slots: int) -> None:
        self.width = width
        self.slots = slots
        self.stamps = [-1] * slots
        self.totals = [0] * slots
        self.failures = [0] * slots

    def add(self, now: float, ok: bool) -> None:
        index = int(now // self.width)
        slot = index % self.slots
        if self.stamps[slot] != index:
            self.stamps[slot] = index
            self.totals[slot] = 0
            self.failures[slot] = 0
        self.totals[slot] += 1
        if not ok:
            self.failures[slot] += 1

    def rate(self, now: float, seconds: float) -> float | None:
        current = int(now // self.width)
        oldest = current - max(1, math.ceil(seconds / self.width)) + 1
        total = failed = 0
        for slot in range(self.slots):
            if oldest <= self.stamps[slot] <= current:
                total += self.totals[slot]
                failed += self.failures[slot]
        return None if total == 0 else round((total - failed) / total, 4)


class SuccessWindows:
    """Success rates over 5 min, 1 h and 24 h in fixed memory.

    Minute slots serve the 5-minute and 1-hour windows; ten-minute slots serve 24 hours
    (so that window's edge moves in ten-minute steps). Time is monotonic seconds.
    """

    __slots__ = ("_minutes", "_tens")

    def __init__(self) -> None:
        self._minutes = _Ring(60.0, 60)
        self._tens = _Ring(600.0, 144)

    def add(self, now: float, ok: bool) -> None:
        """Count one result at monotonic time ``now``."""
        self._minutes.add(now, ok)
        self._tens.add(now, ok)

    def rates(self, now: float) -> dict[str, float | None]:
        """``{"5m", "1h", "24h"}`` success ratios (None where nothing was probed)."""
        return {
            "5m": self._minutes.rate(now, 300),
            "1h": self._minutes.rate(now, 3600),
            "24h": self._tens.rate(now, 86400),
        }
