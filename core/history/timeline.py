"""Timelines for the console: one target's success and latency over a range, its outages,
its breaker's open periods, and compact uptime bars for many targets.

Each range reads the finest tier that covers it (``RANGES``): raw points for 15 min and
1 h, 1-minute rollups for 24 h, 10-minute buckets of them for 7 d, 1-hour rollups for 30 d.
Minutes (hours) not rolled up yet are taken from the raw rows, so the newest part of a
coarse range is never missing. All functions take the connection: the store runs them on
its worker thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from .ring import Point

__all__ = [
    "RANGES",
    "BreakerPeriod",
    "TimelineSeries",
    "read_breaker_periods",
    "read_series",
    "read_uptime",
    "series_from_points",
]

#: Range name -> (seconds, bucket seconds (0: raw points), tier the buckets come from).
RANGES: Final[dict[str, tuple[int, int, str]]] = {
    "15m": (900, 0, "raw"),
    "1h": (3600, 0, "raw"),
    "24h": (86400, 60, "1m"),
    "7d": (7 * 86400, 600, "1m"),
    "30d": (30 * 86400, 3600, "1h"),
}

@dataclass(frozen=True, slots=True)
class BreakerPeriod:
    """The breaker was ``state`` (open, half_open, forced_open) from ``start`` to ``end``
    (epoch seconds; ``end`` is the range's end while it still lasts)."""

    start: float
    end: float
    state: str


@dataclass(slots=True)
class TimelineSeries:
    """One target over ``[since, until)`` (epoch seconds).

    Per point (a raw result when ``step`` is 0, else a bucket starting at ``ts``): results,
    failures, average and worst latency of the successful ones (``None`` when none had a
    latency). ``outages``: spans where every result failed, merged; ``breaker``: the
    breaker's non-closed periods.
    """

    target: str
    since: float
    until: float
    step: int
    ts: list[float] = field(default_factory=list)
    count: list[int] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    latency: list[float | None] = field(default_factory=list)
    latency_max: list[float | None] = field(default_factory=list)
    outages: list[tuple[float, float]] = field(default_factory=list)
    breaker: list[BreakerPeriod] = field(default_factory=list)

    @property
    def ever_succeeded(self) -> bool:
        """Whether any result in the range succeeded."""
        return any(c > f for c, f in zip(self.count, self.failures, strict=True))

    def success_rate(self) -> list[float]:
        """Per point: the share of results that succeeded, 0..1."""
        return [(c - f) / c if c else 0.0 for c, f in zip(self.count, self.failures,
                                                          strict=True)]


_RAW_POINTS: Final = """
SELECT ts, 1, 1 - ok, CASE WHEN ok THEN latency_ms END, CASE WHEN ok THEN latency_ms END
FROM results WHERE target = ? AND ts >= ? AND ts < ? ORDER BY ts, id
"""
# Buckets of ``step`` seconds from raw rows (for the part not rolled up yet).
_RAW_BUCKETS: Final = """
SELECT CAST(ts / :step AS INTEGER) * :step AS b, COUNT(*), SUM(ok = 0),
       AVG(CASE WHEN ok THEN latency_ms END), MAX(CASE WHEN ok THEN latency_ms END)
FROM results WHERE target = :target AND ts >= :lo AND ts < :hi GROUP BY b ORDER BY b
"""
# Buckets of ``step`` seconds from a rollup tier (averages weighted by latency counts).
_AGG_BUCKETS: Final = """
SELECT (bucket / :step) * :step AS b, SUM(count), SUM(failures),
       SUM(latency_avg * latency_n) / NULLIF(SUM(latency_n), 0), MAX(latency_max)
FROM {table} WHERE target = :target AND bucket >= :lo AND bucket < :hi GROUP BY b ORDER BY b
"""


def read_series(conn: sqlite3.Connection, target: str, range_name: str, until: float,
                breaker: str | None = None) -> TimelineSeries:
    """``target``'s timeline over the range ``range_name`` (a ``RANGES`` key) ending at
    ``until``, with the periods of ``breaker`` (its name, if it has one)."""
    seconds, step, tier = RANGES[range_name]
    since = until - seconds
    series = TimelineSeries(target, since, until, step)
    if step == 0:
        rows = conn.execute(_RAW_POINTS, (target, since, until)).fetchall()
    else:
        mark_key = "rolled_1m" if tier == "1m" else "rolled_1h"
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (mark_key,)).fetchone()
        mark = float(row[0]) if row else since
        lo = int(since // step * step)
        split = max(lo, min(int(mark // step * step), int(until)))
        args = {"step": step, "target": target, "lo": lo, "hi": split}
        rows = conn.execute(_AGG_BUCKETS.format(table=f"agg_{tier}"), args).fetchall()
        rows += conn.execute(_RAW_BUCKETS, {**args, "lo": split, "hi": until}).fetchall()
    for ts, count, failures, latency, worst in rows:
        series.ts.append(float(ts))
        series.count.append(int(count))
        series.failures.append(int(failures))
        series.latency.append(None if latency is None else float(latency))
        series.latency_max.append(None if worst is None else float(worst))
    series.outages = _outages(series)
    if breaker:
        series.breaker = read_breaker_periods(conn, breaker, since, until)
    return series


def _outages(s: TimelineSeries) -> list[tuple[float, float]]:
    """Spans where every result failed: a raw failure lasts until the next result; a
    failed bucket covers its step. Touching spans are merged."""
    spans: list[tuple[float, float]] = []
    n = len(s.ts)
    for i in range(n):
        if s.failures[i] < s.count[i]:
            continue
        start = s.ts[i]
        end = (s.ts[i] + s.step if s.step else s.ts[i + 1] if i + 1 < n else s.until)
        if spans and start <= spans[-1][1] + 1e-9:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def read_breaker_periods(conn: sqlite3.Connection, breaker: str, since: float,
                         until: float) -> list[BreakerPeriod]:
    """The non-closed periods of ``breaker`` overlapping ``[since, until)``."""
    try:
        return _breaker_periods(conn, breaker, since, until)
    except sqlite3.OperationalError:  # a file from before breaker events were kept
        return []


def _breaker_periods(conn: sqlite3.Connection, breaker: str, since: float,
                     until: float) -> list[BreakerPeriod]:
    before = conn.execute(
        "SELECT new FROM breaker_events WHERE breaker = ? AND ts < ? ORDER BY ts DESC, id DESC"
        " LIMIT 1", (breaker, since)).fetchone()
    state, start = (str(before[0]), since) if before else ("closed", since)
    periods: list[BreakerPeriod] = []
    for ts, new in conn.execute(
            "SELECT ts, new FROM breaker_events WHERE breaker = ? AND ts >= ? AND ts < ? "
            "ORDER BY ts, id", (breaker, since, until)):
        if state != "closed" and ts > start:
            periods.append(BreakerPeriod(start, float(ts), state))
        state, start = str(new), float(ts)
    if state != "closed":
        periods.append(BreakerPeriod(start, until, state))
    return periods


def read_uptime(conn: sqlite3.Connection, targets: Iterable[str], since: float, until: float,
                segments: int) -> dict[str, list[tuple[int, int]]]:
    """Per target, ``segments`` equal slices of ``[since, until)``: (results, failures)
    each, from the raw rows (kept 48 h by default: enough for the table's 24 h bars)."""
    names: Sequence[str] = list(targets)
    width = (until - since) / segments
    out: dict[str, list[tuple[int, int]]] = {}
    for name in names:
        bars = out[name] = [(0, 0)] * segments
        for slot, count, failures in conn.execute(
                "SELECT CAST((ts - ?) / ? AS INTEGER) AS s, COUNT(*), SUM(ok = 0) FROM results "
                "WHERE target = ? AND ts >= ? AND ts < ? GROUP BY s",
                (since, width, name, since, until)):
            if 0 <= slot < segments:
                bars[int(slot)] = (int(count), int(failures))
    return out


def series_from_points(target: str, points: Iterable[Point], since: float,
                       until: float) -> TimelineSeries:
    """A raw-point series from the memory ring's ``points`` (when no history file is kept)."""
    series = TimelineSeries(target, since, until, 0)
    for at, ok, latency_ms, _ in points:
        ts = at.timestamp()
        if not since <= ts < until:
            continue
        latency = float(latency_ms) if ok and latency_ms is not None else None
        series.ts.append(ts)
        series.count.append(1)
        series.failures.append(0 if ok else 1)
        series.latency.append(latency)
        series.latency_max.append(latency)
    series.outages = _outages(series)
    return series
