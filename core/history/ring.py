"""``MemoryHistory``: the last results of each target, in memory, for live graphs."""

from __future__ import annotations

import bisect
import itertools
import math
import struct
from array import array
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from types import MappingProxyType

from ..errors import ErrorKind
from ..probes.base import ProbeResult
from ..stats import percentile_sorted

__all__ = ["MemoryHistory", "PackedPhases", "Point"]


class PackedPhases(Mapping[str, float]):
    """Read-only phases of a kept result: the step names shared by every result with the
    same steps, the milliseconds packed as doubles (see ``_pack``)."""

    __slots__ = ("_names", "_packed")

    def __init__(self, names: tuple[str, ...], packed: bytes) -> None:
        self._names = names
        self._packed = packed

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


#: One kept result, as the ring holds it: an exact tuple of atomic values (str, float, bool,
#: None, datetime, bytes, the shared tuple of phase names), which the garbage collector stops
#: tracking after its first pass (a ProbeResult and its phases are two objects it walks on
#: every full collection: 1,000 targets x 720 results made each one take ~0.5 s).
#: (checked_at, ok, latency_ms, error kind value, kind, error, degraded, phase names, packed)
_Entry = tuple[datetime, bool, float | None, str | None, str, str | None, bool,
               tuple[str, ...], bytes]

#: What ``MemoryHistory.points`` gives per result: (checked_at, ok, latency_ms, error kind
#: value); an ``ErrorKind`` is a ``StrEnum``, so the value compares equal to it.
Point = tuple[datetime, bool, float | None, str | None]

_NO_NAMES: tuple[str, ...] = ()


#: Per tuple of phase names: the one tuple every result with those steps shares, and the
#: ``struct`` that packs their milliseconds.
_LAYOUTS: dict[tuple[str, ...], tuple[tuple[str, ...], struct.Struct]] = {}


def _pack(phases: Mapping[str, float]) -> tuple[tuple[str, ...], bytes]:
    """The phase names (one tuple shared by every result with the same steps) and the
    milliseconds as packed little-endian doubles: about 110 bytes, where a dict of four
    phases and its floats take about 330 (the ring holds hundreds of thousands)."""
    if not phases:
        return _NO_NAMES, b""
    if type(phases) is PackedPhases:  # not isinstance: an ABC's check costs a call
        return phases._names, phases._packed
    names = tuple(phases)
    layout = _LAYOUTS.get(names)
    if layout is None:
        layout = _LAYOUTS[names] = (names, struct.Struct(f"<{len(names)}d"))
    return layout[0], layout[1].pack(*phases.values())


def _entry(result: ProbeResult) -> _Entry:
    """What the ring keeps of ``result``: everything but ``details`` (they can be
    kilobytes), the phases packed by ``_pack``."""
    names, packed = _pack(result.phases)
    kind = result.error_kind
    return (result.checked_at, result.ok, result.latency_ms,
            None if kind is None else kind.value, result.kind, result.error,
            result.degraded, names, packed)


#: Entries per sealed chunk of a ring: a full collection visits the chunks (tuples of
#: untracked entries are untracked themselves) and the open chunk, ~75 objects per ring of
#: 720 instead of 720.
CHUNK = 64


class _Ring:
    """The entries of one target, oldest first, at most ``maxlen``: sealed chunks (tuples)
    and the open chunk being filled (a list); and the latencies ``MemoryHistory`` keeps
    beside them."""

    __slots__ = ("_chunks", "_open", "_size", "_skip", "latencies", "maxlen")

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        # sorted, successful results only; doubles in an array, which the collector never
        # visits (a list of floats is 720 visits per target per full collection)
        self.latencies: array[float] = array("d")
        self._chunks: deque[tuple[_Entry, ...]] = deque()
        self._open: list[_Entry] = []
        self._skip = 0  # entries of the first chunk that fell out
        self._size = 0

    def append(self, entry: _Entry) -> _Entry | None:
        """Add ``entry``; returns the oldest one when it fell out (the ring was full)."""
        dropped = None
        if self._size < self.maxlen:
            self._size += 1
        elif self._chunks:
            first = self._chunks[0]
            dropped = first[self._skip]
            self._skip += 1
            if self._skip == len(first):
                self._chunks.popleft()
                self._skip = 0
        else:
            dropped = self._open.pop(0)
        self._open.append(entry)
        if len(self._open) == CHUNK:
            self._chunks.append(tuple(self._open))
            self._open = []
        return dropped

    def last(self) -> _Entry:
        """The newest entry (the ring is not empty)."""
        return self._open[-1] if self._open else self._chunks[-1][-1]

    def __iter__(self) -> Iterator[_Entry]:
        kept = itertools.chain(itertools.chain.from_iterable(self._chunks), self._open)
        return itertools.islice(kept, self._skip, None) if self._skip else kept

    def __len__(self) -> int:
        return self._size


class MemoryHistory:
    """The last ``maxlen`` results of each target, in arrival order (for live graphs).

    Each result is kept as a tuple of atomic values (no ``details``; see ``_Entry``), so
    the garbage collector leaves the ring alone; ``recent`` and ``latest`` build
    ``ProbeResult`` objects from them, ``points`` gives what a graph draws without that.

    Beside each ring it keeps the latencies of the ring's successful results in sorted
    order (updated as results come in and fall out), so latency percentiles over the ring
    cost O(1) instead of a sort of up to ``maxlen`` values per target per snapshot.

    Not thread-safe: use it from the event loop (the monitor keeps one).
    """

    def __init__(self, maxlen: int = 720) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self.maxlen = maxlen
        self._rings: dict[str, _Ring] = {}
        self._versions: dict[str, int] = {}
        self._serial = 0

    def add(self, result: ProbeResult) -> None:
        """Keep ``result`` (without its details) in its target's ring (the oldest falls
        out when full)."""
        entry = _entry(result)
        target = result.target
        ring = self._rings.get(target)
        if ring is None:
            ring = self._ring(target)
        dropped = ring.append(entry)
        if dropped is not None:
            _forget_latency(ring.latencies, dropped)
        latency = _counted(entry)
        if latency is not None:
            bisect.insort(ring.latencies, latency)
        self._changed(target)

    def extend(self, target: str, results: Iterable[ProbeResult]) -> None:
        """Keep ``results`` (oldest first) in ``target``'s ring, e.g. from stored history."""
        ring = self._ring(target)
        for result in results:
            ring.append(_entry(result))
        ring.latencies = array("d", sorted(
            latency for e in ring if (latency := _counted(e)) is not None))
        self._changed(target)

    def recent(self, target: str, since: datetime | None = None) -> list[ProbeResult]:
        """The target's results, oldest first (only those checked at or after ``since``),
        with empty ``details``."""
        return [_result(target, e) for e in self._entries(target, since)]

    def points(self, target: str, since: datetime | None = None) -> list[Point]:
        """(checked_at, ok, latency_ms, error kind value) of the target's results, oldest
        first (only those checked at or after ``since``): what graphs draw, without
        building a ``ProbeResult`` per result."""
        return [e[:4] for e in self._entries(target, since)]

    def latest(self, target: str) -> ProbeResult | None:
        """The target's newest result, if any (a new object each call: compare
        ``version`` to see whether there is a newer one)."""
        ring = self._rings.get(target)
        return _result(target, ring.last()) if ring else None

    def version(self, target: str) -> int:
        """A number that changes whenever results are added to the target's ring, and is
        never the same for two different contents (0 while it has none)."""
        return self._versions.get(target, 0)

    def latency_percentile(self, target: str, pct: float) -> float | None:
        """Nearest-rank percentile of the latencies of the target's successful results in
        the ring, rounded to 0.001 (None when there are none): what
        ``core.stats.percentile`` gives for them, without sorting."""
        ring = self._rings.get(target)
        return percentile_sorted(ring.latencies, pct) if ring is not None else None

    def targets(self) -> list[str]:
        """Targets with results, in the order they were first seen."""
        return list(self._rings)

    def forget(self, target: str) -> None:
        """Drop the target's ring (unknown targets are ignored)."""
        self._rings.pop(target, None)
        self._versions.pop(target, None)

    def clear(self) -> None:
        """Drop every ring."""
        self._rings.clear()
        self._versions.clear()

    def _ring(self, target: str) -> _Ring:
        ring = self._rings.get(target)
        if ring is None:
            ring = self._rings[target] = _Ring(self.maxlen)
        return ring

    def _changed(self, target: str) -> None:
        self._serial += 1
        self._versions[target] = self._serial

    def _entries(self, target: str, since: datetime | None) -> Iterable[_Entry]:
        ring: Iterable[_Entry] = self._rings.get(target, ())
        if since is None:
            return ring
        return [e for e in ring if e[0] >= since]

    def __len__(self) -> int:
        return sum(len(ring) for ring in self._rings.values())


_KINDS = {kind.value: kind for kind in ErrorKind}
_NO_PHASES: Mapping[str, float] = MappingProxyType({})


def _result(target: str, entry: _Entry) -> ProbeResult:
    """The ``ProbeResult`` a ring entry of ``target`` keeps."""
    at, ok, latency, error_kind, kind, error, degraded, names, packed = entry
    return ProbeResult(target, kind, ok, latency, at,
                       PackedPhases(names, packed) if names else _NO_PHASES,
                       None if error_kind is None else _KINDS[error_kind], error, degraded)


def _counted(entry: _Entry) -> float | None:
    """The latency ``entry`` adds to the percentiles: a successful result's, when it is a
    number (a NaN cannot be ordered, so it could never be found again to be removed)."""
    latency = entry[2]
    return latency if entry[1] and latency is not None and math.isfinite(latency) else None


def _forget_latency(latencies: array[float], entry: _Entry) -> None:
    """Remove ``entry``'s latency (one equal value) from the sorted list."""
    latency = _counted(entry)
    if latency is not None:
        index = bisect.bisect_left(latencies, latency)
        if index < len(latencies) and latencies[index] == latency:
            del latencies[index]
