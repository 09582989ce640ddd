"""Small statistics: success-rate windows in fixed memory, and percentiles."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["COARSE_SLOT_S", "FINE_SLOT_S", "SuccessWindows", "percentile", "percentile_sorted",
           "rounded"]

#: Slot widths of ``SuccessWindows``: minutes serve 5 min and 1 h, ten minutes serve 24 h.
FINE_SLOT_S = 60
COARSE_SLOT_S = 600


_SCALES = (1.0, 10.0, 100.0, 1000.0, 10000.0)  # 10 ** places, exact
_TO_EVEN = 6755399441055744.0  # 2**52 + 2**51: adding and subtracting it rounds to an integer


def rounded(x: float, places: int) -> float:
    """``round(x, places)`` for ``places`` 0 to 4: the very same float, mostly without
    ``round``'s trip through a decimal string (~1.2k instructions a call in this build).

    ``x * 10**places`` is rounded to an integer ``n`` in binary (ties to even). The product
    is within half an ulp (< 1e-7 below 1e9) of the exact one, so when it lies farther than
    that from a half, the exact product rounds to ``n`` too, and ``round`` returns the float
    nearest ``n / 10**places``, which the (correctly rounded) division gives. Near a half,
    at or below zero (``round`` keeps the sign of a zero), past 1e9 or not finite: ``round``.
    """
    scale = _SCALES[places]
    y = x * scale
    n = y + _TO_EVEN - _TO_EVEN
    if 0.0 < y < 1e9 and -0.4999 < y - n < 0.4999:
        return n / scale
    return round(x, places)


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when empty), rounded to 0.001."""
    return percentile_sorted(sorted(values), pct)


def percentile_sorted(ordered: Sequence[float], pct: float) -> float | None:
    """``percentile`` of values already in ascending order (no sort: O(1))."""
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return rounded(ordered[rank - 1], 3)


_NEVER = -(1 << 62)  # the stamp of a slot never used (monotonic times can be negative)


class _Ring:
    """Counts per time slot for the last ``slots`` slots of ``width`` seconds each.

    The sums over the whole ring are kept as slots are written and fall out of the window
    (``_cursor`` is the newest slot index they are valid for), so the rate of a window as
    wide as the ring costs O(1) instead of a scan: a snapshot asks it of every target
    every second.
    """

    __slots__ = ("_cursor", "_failed", "_total", "failures", "slots", "stamps", "totals",
                 "width")

    def __init__(self, width: float, slots: int) -> None:
        self.width = width
        self.slots = slots
        self.stamps = [_NEVER] * slots
        self.totals = [0] * slots
        self.failures = [0] * slots
        self._cursor = _NEVER  # the sums cover slots stamped cursor - slots + 1 .. cursor
        self._total = 0
        self._failed = 0

    def add(self, now: float, total: int, failures: int) -> int | None:
        """Count at ``now``; returns the slot index counted in, None when ``now`` is too
        old for the ring (nothing counted)."""
        index = int(now // self.width)
        if index > self._cursor:
            self._advance(index)
        slot = index % self.slots
        if self.stamps[slot] > index:
            return None  # older than what the slot holds now: outside the window already
        if self.stamps[slot] != index:
            # the slot's old stamp is at least a ring older than ``index``, which is not
            # newer than the cursor: it was already out of the sums
            self.stamps[slot] = index
            self.totals[slot] = 0
            self.failures[slot] = 0
        self.totals[slot] += total
        self.failures[slot] += failures
        if index > self._cursor - self.slots:
            self._total += total
            self._failed += failures
        return index

    def _advance(self, current: int) -> None:
        """Move the cursor forward to ``current``, dropping slots that leave the window."""
        if current - self._cursor >= self.slots:
            self._total, self._failed = self._scan(current - self.slots + 1, current)
        else:
            for index in range(self._cursor - self.slots + 1, current - self.slots + 1):
                slot = index % self.slots
                if self.stamps[slot] == index:
                    self._total -= self.totals[slot]
                    self._failed -= self.failures[slot]
        self._cursor = current

    def _scan(self, oldest: int, current: int) -> tuple[int, int]:
        total = failed = 0
        for stamp, count, fails in zip(self.stamps, self.totals, self.failures, strict=True):
            if oldest <= stamp <= current:
                total += count
                failed += fails
        return total, failed

    def counts(self, now: float, seconds: float) -> tuple[int, int]:
        """(results, failures) counted in the last ``seconds`` before ``now``."""
        current = int(now // self.width)
        span = max(1, math.ceil(seconds / self.width))
        oldest = current - span + 1
        if span == self.slots and current >= self._cursor:
            if current > self._cursor:
                self._advance(current)
            total, failed = self._total, self._failed
        elif span < self.slots:  # each index of the window has one slot: look only there
            total = failed = 0
            for index in range(oldest, current + 1):
                slot = index % self.slots
                if self.stamps[slot] == index:
                    total += self.totals[slot]
                    failed += self.failures[slot]
        else:  # a time before the cursor, or a window wider than the ring
            total, failed = self._scan(oldest, current)
        return total, failed


def _ratio(total: int, failed: int) -> float | None:
    """The share of ``total`` results that succeeded, to 4 places (None for no result);
    with no failure (every target up, the common case) 1.0 without a division and a
    rounding."""
    if not failed:
        return 1.0 if total else None
    return rounded((total - failed) / total, 4)


class SuccessWindows:
    """Success rates over 5 min, 1 h and 24 h in fixed memory.

    Minute slots serve the 5-minute and 1-hour windows; ten-minute slots serve 24 hours
    (so that window's edge moves in ten-minute steps). Time is monotonic seconds.

    The counts of the three windows last asked about are kept with the slots they were
    for. Counts added to those very slots while they are the newest of the rings (the
    common case: a result now, rates now) are held beside them, which every window holds,
    and written to the rings only when another slot is counted in or asked about (once a
    minute): a result costs two additions, ``rates`` after it three divisions, not two
    ring writes and three ring reads.
    """

    __slots__ = ("_added", "_added_failed", "_at", "_counts", "_head", "_key", "_minutes",
                 "_rates", "_tens", "revision")

    def __init__(self) -> None:
        self._minutes = _Ring(FINE_SLOT_S, 60)
        self._tens = _Ring(COARSE_SLOT_S, 144)
        self.revision = 0  # counts ``add_counts`` calls: what a cached rate depends on
        self._key: tuple[int, int] | None = None  # the slots ``_counts`` are for
        self._at = 0.0  # the time ``_key`` was computed from (a time in those slots)
        #: whether ``_key`` is the newest slot of both rings (counts for it may be held)
        self._head = False
        #: (results, failures) of the 5 min, 1 h and 24 h windows ending in ``_key``, as
        #: read from the rings, and the results and failures added to ``_key`` since,
        #: which are not in the rings yet
        self._counts = (0, 0, 0, 0, 0, 0)
        self._added = self._added_failed = 0
        self._rates: dict[str, float | None] | None = None  # from ``_counts``, when built

    @staticmethod
    def slot_key(now: float) -> tuple[int, int]:
        """What ``rates(now)`` depends on besides the counts: the current slot of each ring
        (a cached rate stays right until this or ``revision`` changes)."""
        return int(now // FINE_SLOT_S), int(now // COARSE_SLOT_S)

    def add(self, now: float, ok: bool) -> None:
        """Count one result at monotonic time ``now``."""
        self.add_counts(now, 1, 0 if ok else 1)

    def add_counts(self, now: float, total: int, failures: int) -> None:
        """Count ``total`` results, ``failures`` of them failed, at monotonic time ``now``.

        Counts older than the window are ignored, whatever order they come in.
        """
        self.revision += 1
        key = self._key
        if (self._head and key is not None and int(now // FINE_SLOT_S) == key[0]
                and int(now // COARSE_SLOT_S) == key[1]):
            # in the newest slot of each window asked about: each of them holds it
            self._added += total
            self._added_failed += failures
            self._rates = None
            return
        self._write_added()
        self._minutes.add(now, total, failures)
        self._tens.add(now, total, failures)
        self._key = None

    def rates(self, now: float) -> dict[str, float | None]:
        """``{"5m", "1h", "24h"}`` success ratios (None where nothing was probed); a new
        dict each call."""
        return dict(self.shared_rates(now))

    def shared_rates(self, now: float) -> dict[str, float | None]:
        """What ``rates(now)`` says, as the dict kept until a count is added or another
        slot is asked about (shared: read it, do not mutate it)."""
        key = int(now // FINE_SLOT_S), int(now // COARSE_SLOT_S)  # ``slot_key``
        if key != self._key:
            self._write_added()
            minutes, tens = self._minutes, self._tens
            self._counts = (*minutes.counts(now, 300), *minutes.counts(now, 3600),
                            *tens.counts(now, 86400))
            self._key, self._at = key, now
            self._head = minutes._cursor == key[0] and tens._cursor == key[1]
            self._rates = None
        rates = self._rates
        if rates is None:
            five, five_failed, hour, hour_failed, day, day_failed = self._counts
            added, failed = self._added, self._added_failed
            rates = self._rates = {
                "5m": _ratio(five + added, five_failed + failed),
                "1h": _ratio(hour + added, hour_failed + failed),
                "24h": _ratio(day + added, day_failed + failed)}
        return rates

    def _write_added(self) -> None:
        """Write the counts held for ``_key`` to the rings (in its slots: at ``_at``)."""
        if self._added or self._added_failed:
            self._minutes.add(self._at, self._added, self._added_failed)
            self._tens.add(self._at, self._added, self._added_failed)
            self._added = self._added_failed = 0
