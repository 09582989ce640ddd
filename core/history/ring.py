"""``MemoryHistory``: the last results of each target, in memory, for live graphs."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime

from ..probes.base import ProbeResult

__all__ = ["MemoryHistory"]


class MemoryHistory:
    """The last ``maxlen`` results of each target, in arrival order (for live graphs).

    Not thread-safe: use it from the event loop (the monitor keeps one).
    """

    def __init__(self, maxlen: int = 720) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self.maxlen = maxlen
        self._rings: dict[str, deque[ProbeResult]] = {}

    def add(self, result: ProbeResult) -> None:
        """Append ``result`` to its target's ring (the oldest falls out when full)."""
        self._ring(result.target).append(result)

    def extend(self, target: str, results: Iterable[ProbeResult]) -> None:
        """Append ``results`` (oldest first) to ``target``'s ring, e.g. from stored history."""
        self._ring(target).extend(results)

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

    def targets(self) -> list[str]:
        """Targets with results, in the order they were first seen."""
        return list(self._rings)

    def forget(self, target: str) -> None:
        """Drop the target's ring (unknown targets are ignored)."""
        self._rings.pop(target, None)

    def clear(self) -> None:
        """Drop every ring."""
        self._rings.clear()

    def _ring(self, target: str) -> deque[ProbeResult]:
        ring = self._rings.get(target)
        if ring is None:
            ring = self._rings[target] = deque(maxlen=self.maxlen)
        return ring

    def __len__(self) -> int:
        return sum(len(ring) for ring in self._rings.values())
