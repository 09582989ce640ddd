"""``MemoryHistory``: the last results of each target, in memory, for live graphs."""

from __future__ import annotations

import bisect
import struct
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import ClassVar

from ..probes.base import ProbeResult
from ..stats import percentile_sorted

__all__ = ["MemoryHistory", "PackedPhases"]


class PackedPhases(Mapping[str, float]):
    """Read-only phases of a kept result: the step names shared by every result with the
    same steps, the milliseconds packed as doubles (about 110 bytes, where a dict of four
    phases and its floats take about 330; the ring holds hundreds of thousands)."""

    __slots__ = ("_names", "_packed")

    _shared: ClassVar[dict[tuple[str, ...], tuple[str, ...]]] = {}
    _formats: ClassVar[dict[int, struct.Struct]] = {}

    def __init__(self, phases: Mapping[str, float]) -> None:
        names = tuple(phases)
        self._names = self._shared.setdefault(names, names)
        form = self._formats.get(len(names))
        if form is None:
            form = self._formats[len(names)] = struct.Struct(f"<{len(names)}d")
        self._packed = form.pack(*phases.values())

    def __getitem__(self, name: str) -> float:
        try:
            index = self._names.index(name)
        except ValueError:
            raise KeyError(name) from None
        value: float = struct.unpack_from("<d", self._packed, 8 * index)[0]
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"PackedPhases({dict(self)!r})"


def kept_copy(result: ProbeResult) -> ProbeResult:
    """What the ring keeps of ``result``: no ``details`` (they can be kilobytes) and packed
    phases; built directly (``dataclasses.replace`` costs three times as much, per result)."""
    phases = result.phases
    if phases and not isinstance(phases, PackedPhases):
        phases = PackedPhases(phases)
    elif not result.details:
        return result
    return ProbeResult(result.target, result.kind, result.ok, result.latency_ms,
                       result.checked_at, phases, result.error_kind, result.error,
                       result.degraded)


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
        """Append ``result``'s ``kept_copy`` to its target's ring (the oldest falls out when
        full)."""
        result = kept_copy(result)
        target = result.target
        ring = self._ring(target)
        latencies = self._latencies[target]
        if len(ring) == self.maxlen:
            _forget_latency(latencies, ring[0])
        ring.append(result)
        if result.ok and result.latency_ms is not None:
            bisect.insort(latencies, result.latency_ms)

    def extend(self, target: str, results: Iterable[ProbeResult]) -> None:
        """Append the ``kept_copy`` of ``results`` (oldest first) to ``target``'s ring, e.g.
        from stored history."""
        ring = self._ring(target)
        ring.extend(map(kept_copy, results))
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
