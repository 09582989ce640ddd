"""Small statistics: success-rate windows in fixed memory, and percentiles."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["COARSE_SLOT_S", "FINE_SLOT_S", "SuccessWindows", "percentile"]

#: Slot widths of ``SuccessWindows``: minutes serve 5 min and 1 h, ten minutes serve 24 h.
FINE_SLOT_S = 60
COARSE_SLOT_S = 600


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when empty), rounded to 0.001."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return round(ordered[rank - 1], 3)


_NEVER = -(1 << 62)  # the stamp of a slot never used (monotonic times can be negative)


class _Ring:
    """Counts per time slot for the last ``slots`` slots of ``width`` seconds each."""

    __slots__ = ("failures", "slots", "stamps", "totals", "width")

    def __init__(self, width: float, slots: int) -> None:
        self.width = width
        self.slots = slots
        self.stamps = [_NEVER] * slots
        self.totals = [0] * slots
        self.failures = [0] * slots

    def add(self, now: float, total: int, failures: int) -> None:
        index = int(now // self.width)
        slot = index % self.slots
        if self.stamps[slot] > index:
            return  # older than what the slot holds now: outside the window already
        if self.stamps[slot] != index:
            self.stamps[slot] = index
            self.totals[slot] = 0
            self.failures[slot] = 0
        self.totals[slot] += total
        self.failures[slot] += failures

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
        self._minutes = _Ring(FINE_SLOT_S, 60)
        self._tens = _Ring(COARSE_SLOT_S, 144)

    def add(self, now: float, ok: bool) -> None:
        """Count one result at monotonic time ``now``."""
        self.add_counts(now, 1, 0 if ok else 1)

    def add_counts(self, now: float, total: int, failures: int) -> None:
        """Count ``total`` results, ``failures`` of them failed, at monotonic time ``now``.

        Counts older than the window are ignored, whatever order they come in.
        """
        self._minutes.add(now, total, failures)
        self._tens.add(now, total, failures)

    def rates(self, now: float) -> dict[str, float | None]:
        """``{"5m", "1h", "24h"}`` success ratios (None where nothing was probed)."""
        return {
            "5m": self._minutes.rate(now, 300),
            "1h": self._minutes.rate(now, 3600),
            "24h": self._tens.rate(now, 86400),
        }
