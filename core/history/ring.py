"""``MemoryHistory``: the last results of each target, in memory, for live graphs."""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable
from datetime import datetime

from ..probes.base import ProbeResult
from ..stats import percentile_sorted

__all__ = ["MemoryHistory"]


class MemoryHistory:
    """The last ``maxlen`` results of each target, in arrival order (for live graphs).

    Beside each ring it keeps the latencies of the ring's successful results in sorted
    order (updated as results come in and fall out), so latency percentiles over the ring
    cost O(1) instead of a sort of up to ``maxlen`` values per target per snapshot.

    Not thread-safe: use it from the event loop (the monitor keeps one).
    """

    def __init__(self, maxlen: int = 720) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self.maxlen = maxlen
        self._rings: dict[str, deque[ProbeResult]] = {}
        self._latencies: dict[str, list[float]] = {}  # sorted, successful results only

    def add(self, result: ProbeResult) -> None:
        """Append ``result`` to its target's ring (the oldest falls out when full)."""
        target = result.target
        ring = self._ring(target)
        latencies = self._latencies[target]
        if len(ring) == self.maxlen:
            _forget_latency(latencies, ring[0])
        ring.append(result)
        if result.ok and result.latency_ms is not None:
            bisect.insort(latencies, result.latency_ms)

    def extend(self, target: str, results: Iterable[ProbeResult]) -> None:
        """Append ``results`` (oldest first) to ``target``'s ring, e.g. from stored history."""
        ring = self._ring(target)
        ring.extend(results)
        self._latencies[target] = sorted(
            r.latency_ms for r in ring if r.ok and r.latency_ms is not None)

    def recent(self, target: str, since: datetime | None = None) -> list[ProbeResult]:
        """The target's results, oldest first (only those checked at or after ``since``)."""
        ring = self._rings.get(target)
        if ring is None:
            return []
        if since is None:
            return list(ring)
        return [r for r in ring if r.checked_at >= since]

    def latest(self, target: str) -> ProbeResult | None:
        """The target's newest result, if any."""
        ring = self._rings.get(target)
        return ring[-1] if ring else None

    def latency_percentile(self, target: str, pct: float) -> float | None:
        """Nearest-rank percentile of the latencies of the target's successful results in
        the ring, rounded to 0.001 (None when there are none): what
        ``core.stats.percentile`` gives for them, without sorting."""
        return percentile_sorted(self._latencies.get(target, ()), pct)

    def targets(self) -> list[str]:
        """Targets with results, in the order they were first seen."""
        return list(self._rings)

    def forget(self, target: str) -> None:
        """Drop the target's ring (unknown targets are ignored)."""
        self._rings.pop(target, None)
        self._latencies.pop(target, None)

    def clear(self) -> None:
        """Drop every ring."""
        self._rings.clear()
        self._latencies.clear()

    def _ring(self, target: str) -> deque[ProbeResult]:
        ring = self._rings.get(target)
        if ring is None:
            ring = self._rings[target] = deque(maxlen=self.maxlen)
            self._latencies[target] = []
        return ring

    def __len__(self) -> int:
        return sum(len(ring) for ring in self._rings.values())


def _forget_latency(latencies: list[float], result: ProbeResult) -> None:
    """Remove ``result``'s latency (one equal value) from the sorted list."""
    if result.ok and result.latency_ms is not None:
        index = bisect.bisect_left(latencies, result.latency_ms)
        if index < len(latencies) and latencies[index] == result.latency_ms:
            del latencies[index]
