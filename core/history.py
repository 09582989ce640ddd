"""Probe history: a bounded in-memory ring per target, and a SQLite store with tiers.

``MemoryHistory`` keeps the last ``maxlen`` results of each target for live graphs.

``HistoryStore`` keeps results in one SQLite file (WAL mode), by default
``<platformdirs user data dir>/history.sqlite3``:

- **One worker thread** owns the connection; every SQLite call runs there, so the asyncio
  loop never blocks on the database. ``add()`` only appends to a bounded in-memory queue;
  the worker writes a batch every ``flush_interval`` seconds or as soon as ``batch_size``
  results wait, one transaction per batch. Queries are jobs for the same thread, run after
  everything added before them has been written (read-your-writes).
- **Tiers**: raw results are kept 48 h, 1-minute aggregates 30 days, 1-hour aggregates
  400 days. Completed minutes are rolled up from raw rows (p95 exact, nearest-rank, over
  the minute's latencies); completed hours from the minute rows (counts summed, min of
  mins, max of maxes, avg weighted by the number of latencies, and p95 = the largest minute
  p95, an *upper bound* of the true hourly p95). Latency figures cover every result that
  has a latency, failed ones included. A result that arrives late for a minute already
  rolled up makes that minute (and its hour) be rolled up again while its raw rows exist.
  Rollups and retention run on the worker at most once a minute, and on ``maintain()``.
  "Completed" and retention are judged on the injected clock, never on wall time.
- **Never a crash, never a silently lost file**: a corrupt database is renamed to
  ``<name>.corrupt-<UTC stamp>`` (with its ``-wal``/``-shm``/``-journal`` side files) and a
  fresh one started; a database that stays locked is renamed to ``<name>.locked-<stamp>``
  the same way, and when it cannot be renamed (Windows cannot rename an open file) a fresh
  ``<stem>-<pid><suffix>`` next to it is used instead. Each case logs a ``RESILIENT:``
  warning on ``netmon.history``; ``store.path`` and ``store.moved_aside`` tell what happened.
- No secrets: only the columns below are stored (error text is redacted again on write;
  result ``details`` are never stored).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import csv
import dataclasses
import io
import json
import logging
import math
import os
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final, Literal, TypeVar, overload

import platformdirs

from .clock import Clock, SystemClock
from .errors import ErrorKind
from .log import PREFIX_RESILIENT, redact
from .probes.base import ProbeResult, iso_utc

__all__ = [
    "HOUR_RETENTION",
    "MINUTE_RETENTION",
    "RAW_RETENTION",
    "AggregateRow",
    "ExportFormat",
    "HistoryRow",
    "HistoryStore",
    "MaintenanceReport",
    "MemoryHistory",
    "Resolution",
    "default_history_path",
]

_log = logging.getLogger("netmon.history")

T = TypeVar("T")

Resolution = Literal["auto", "raw", "1m", "1h"]
ExportFormat = Literal["csv", "json"]

RAW_RETENTION: Final = timedelta(hours=48)
MINUTE_RETENTION: Final = timedelta(days=30)
HOUR_RETENTION: Final = timedelta(days=400)

_RESOLUTIONS: Final = ("auto", "raw", "1m", "1h")
_FORMATS: Final = ("csv", "json")
_MAINTAIN_EVERY_S: Final = 60.0
_WARN_EVERY_S: Final = 60.0
_SIDE_SUFFIXES: Final = ("-wal", "-shm", "-journal")
_ENVIRONMENT_ERRORS: Final = ("SQLITE_CANTOPEN", "SQLITE_FULL", "SQLITE_PERM", "SQLITE_IOERR",
                              "SQLITE_NOMEM")


def default_history_path() -> Path:
    """``<user data dir>/history.sqlite3`` (e.g. ``%LOCALAPPDATA%\\netmon\\history.sqlite3``)."""
    return Path(platformdirs.user_data_dir("netmon", appauthor=False)) / "history.sqlite3"


# --------------------------------------------------------------------------- memory ring


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
        ring = self._rings.get(result.target)
        if ring is None:
            ring = self._rings[result.target] = deque(maxlen=self.maxlen)
        ring.append(result)

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

    def __len__(self) -> int:
        return sum(len(ring) for ring in self._rings.values())


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One stored probe result (``ts`` is aware UTC; ``phases`` in milliseconds)."""

    target: str
    kind: str
    ts: datetime
    ok: bool
    degraded: bool
    latency_ms: float | None
    error_kind: ErrorKind | None
    error: str | None
    phases: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (timestamps ISO-8601 UTC with ``Z``)."""
        return {
            "target": self.target,
            "kind": self.kind,
            "ts": iso_utc(self.ts),
            "ok": self.ok,
            "degraded": self.degraded,
            "latency_ms": self.latency_ms,
            "error_kind": str(self.error_kind) if self.error_kind is not None else None,
            "error": self.error,
            "phases": dict(self.phases),
        }


@dataclass(frozen=True, slots=True)
class AggregateRow:
    """A 1-minute or 1-hour bucket of one target (``bucket`` is its aware UTC start).

    Latency figures cover the results that had a latency (``None`` if none had one). In
    1-hour rows ``latency_p95`` is the largest minute p95: an upper bound of the true p95.
    """

    target: str
    bucket: datetime
    count: int
    failures: int
    latency_min: float | None
    latency_avg: float | None
    latency_max: float | None
    latency_p95: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (timestamps ISO-8601 UTC with ``Z``)."""
        return {
            "target": self.target,
            "bucket": iso_utc(self.bucket),
            "count": self.count,
            "failures": self.failures,
            "latency_min": self.latency_min,
            "latency_avg": self.latency_avg,
            "latency_max": self.latency_max,
            "latency_p95": self.latency_p95,
        }


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one ``maintain()`` pass did (rows upserted / deleted per tier)."""

    minutes_rolled: int = 0
    hours_rolled: int = 0
    raw_deleted: int = 0
    minutes_deleted: int = 0
    hours_deleted: int = 0


_RAW_FIELDS: Final = tuple(f.name for f in dataclasses.fields(HistoryRow))
_AGG_FIELDS: Final = tuple(f.name for f in dataclasses.fields(AggregateRow))

# --------------------------------------------------------------------------- schema

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS results (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        kind TEXT NOT NULL,
        ts REAL NOT NULL,
        ok INTEGER NOT NULL,
        degraded INTEGER NOT NULL,
        latency_ms REAL,
        error_kind TEXT,
        error TEXT,
        phases TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX IF NOT EXISTS results_target_ts ON results (target, ts)",
    "CREATE INDEX IF NOT EXISTS results_ts ON results (ts)",
    *(
        f"""CREATE TABLE IF NOT EXISTS {table} (
            target TEXT NOT NULL,
            bucket INTEGER NOT NULL,
            count INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            latency_n INTEGER NOT NULL,
            latency_min REAL,
            latency_avg REAL,
            latency_max REAL,
            latency_p95 REAL,
            PRIMARY KEY (target, bucket)
        ) WITHOUT ROWID"""
        for table in ("agg_1m", "agg_1h")
    ),
    "CREATE INDEX IF NOT EXISTS agg_1m_bucket ON agg_1m (bucket)",
    "CREATE INDEX IF NOT EXISTS agg_1h_bucket ON agg_1h (bucket)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value REAL NOT NULL)",
    """CREATE TABLE IF NOT EXISTS audit (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        action TEXT NOT NULL,
        origin TEXT NOT NULL,
        subject TEXT,
        ok INTEGER NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    )""",
)

# Minute rollup: count/failures/min/avg/max per (target, minute) and the exact nearest-rank
# p95: the ceil(0.95 * n)-th smallest latency, i.e. row number (95 * n + 99) / 100.
_ROLLUP_MINUTES: Final = """
WITH r AS (
    SELECT target, CAST(ts / 60 AS INTEGER) * 60 AS bucket, ok, latency_ms
    FROM results WHERE ts >= ? AND ts < ?
),
g AS (
    SELECT target, bucket, COUNT(*) AS n, SUM(ok = 0) AS failures, COUNT(latency_ms) AS nl,
           MIN(latency_ms) AS mn, AVG(latency_ms) AS av, MAX(latency_ms) AS mx
    FROM r GROUP BY target, bucket
),
ranked AS (
    SELECT target, bucket, latency_ms,
           ROW_NUMBER() OVER (PARTITION BY target, bucket ORDER BY latency_ms) AS rn
    FROM r WHERE latency_ms IS NOT NULL
)
INSERT OR REPLACE INTO agg_1m
    (target, bucket, count, failures, latency_n, latency_min, latency_avg, latency_max,
     latency_p95)
SELECT g.target, g.bucket, g.n, g.failures, g.nl, g.mn, g.av, g.mx, ranked.latency_ms
FROM g LEFT JOIN ranked
    ON ranked.target = g.target AND ranked.bucket = g.bucket
    AND ranked.rn = (95 * g.nl + 99) / 100
"""

# Hour rollup from minute rows: sums, min of mins, max of maxes, avg weighted by the number
# of latencies, p95 = max of minute p95s (an upper bound).
_ROLLUP_HOURS: Final = """
INSERT OR REPLACE INTO agg_1h
    (target, bucket, count, failures, latency_n, latency_min, latency_avg, latency_max,
     latency_p95)
SELECT target, (bucket / 3600) * 3600, SUM(count), SUM(failures), SUM(latency_n),
       MIN(latency_min), SUM(latency_avg * latency_n) / NULLIF(SUM(latency_n), 0),
       MAX(latency_max), MAX(latency_p95)
FROM agg_1m WHERE bucket >= ? AND bucket < ?
GROUP BY target, bucket / 3600
"""

_INSERT: Final = (
    "INSERT INTO results (target, kind, ts, ok, degraded, latency_ms, error_kind, error, phases)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class _CorruptError(sqlite3.DatabaseError):
    """``PRAGMA quick_check`` did not answer ``ok``."""


def _is_locked(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text


def _cannot_open(exc: BaseException) -> bool:
    """Errors of the surroundings (folder, permissions, full disk), not of the file itself."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return (name.startswith(_ENVIRONMENT_ERRORS)
            or "unable to open" in str(exc).lower())


def _is_corrupt(exc: BaseException) -> bool:
    """The file itself is damaged (not merely locked or unreachable)."""
    if isinstance(exc, _CorruptError):
        return True
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in str(exc)


def _rename(src: Path, dst: Path) -> None:
    """Rename without replacing (a separate function so tests can make it fail)."""
    os.rename(src, dst)


def _epoch(when: datetime) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _floor(ts: float, step: int) -> int:
    return math.floor(ts / step) * step


def _ceil(ts: float, step: int) -> int:
    return math.ceil(ts / step) * step


def _row(r: ProbeResult) -> tuple[Any, ...]:
    return (
        str(r.target), str(r.kind), _epoch(r.checked_at), int(bool(r.ok)), int(bool(r.degraded)),
        None if r.latency_ms is None else float(r.latency_ms),
        str(r.error_kind) if r.error_kind is not None else None,
        redact(str(r.error)) if r.error else None,
        json.dumps({str(k): float(v) for k, v in r.phases.items()}),
    )


def _error_kind(value: str | None) -> ErrorKind | None:
    if value is None:
        return None
    try:
        return ErrorKind(value)
    except ValueError:
        return ErrorKind.UNKNOWN


@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: concurrent.futures.Future[Any]


_STOP: Final = object()


# --------------------------------------------------------------------------- the store


class HistoryStore:
    """Probe history in SQLite with tiered retention; all SQLite work on one worker thread.

    ``await start()`` opens (or repairs) the database; ``add()`` is a cheap, non-blocking
    enqueue callable from the event loop; ``await close()`` writes what is pending and stops.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Clock | None = None,
        flush_interval: float = 0.5,
        batch_size: int = 500,
        busy_timeout: float = 2.0,
        max_pending: int = 200_000,
        close_timeout: float = 10.0,
    ) -> None:
        if flush_interval <= 0 or batch_size < 1 or max_pending < batch_size:
            raise ValueError("need flush_interval > 0 and 1 <= batch_size <= max_pending")
        self._requested = Path(path) if path is not None else default_history_path()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._busy_timeout = busy_timeout
        self._close_timeout = close_timeout
        #: The database file actually in use (differs from the requested one after a fallback).
        self.path: Path = self._requested
        #: Where a corrupt or locked database was moved, if it was.
        self.moved_aside: Path | None = None
        #: False when no file could be used at all and history lives in memory only.
        self.persistent = True
        self._pending: deque[ProbeResult] = deque(maxlen=max_pending)
        self._dropped = 0
        self._jobs: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._started: concurrent.futures.Future[None] | None = None
        self._stopped: concurrent.futures.Future[None] | None = None
        self._closing = False
        self._warned_closed = False
        # worker-thread state
        self._conn: sqlite3.Connection | None = None
        self._marks: dict[str, float] = {}
        self._last_maintain: float | None = None
        self._last_write_warning = -math.inf

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the database on the worker thread (repairing it if needed); idempotent."""
        if self._closing:
            raise RuntimeError("HistoryStore is closed")
        if self._started is None:
            self._started = concurrent.futures.Future()
            self._thread = threading.Thread(target=self._run, name="netmon-history",
                                            daemon=True)
            self._thread.start()
        await asyncio.shield(asyncio.wrap_future(self._started))

    async def close(self) -> None:
        """Write everything pending, stop the worker and close the database.

        Idempotent and bounded by ``close_timeout`` (a warning is logged if it runs out).
        """
        if self._started is None:
            if not self._pending or self._closing:
                self._closing = True
                return
            await self.start()  # rows were added before start(): write them, then stop
        self._closing = True
        if self._stopped is None:
            self._stopped = concurrent.futures.Future()
            self._jobs.put(_STOP)
            self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._stopped)),
                                   self._close_timeout)
        except TimeoutError:
            _log.warning("%s history writer did not stop within %.1f s; %d pending results "
                         "may be lost", PREFIX_RESILIENT, self._close_timeout,
                         len(self._pending))

    async def __aenter__(self) -> HistoryStore:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ writing

    def add(self, result: ProbeResult) -> None:
        """Queue ``result`` for the next batch (never blocks; thread-safe).

        If the writer falls ``max_pending`` results behind, the oldest queued ones are
        dropped (and counted in a warning) rather than growing memory without bound.
        """
        if self._closing:
            if not self._warned_closed:
                self._warned_closed = True
                _log.warning("%s history store is closed; results are no longer stored",
                             PREFIX_RESILIENT)
            return
        pending = self._pending
        if len(pending) == pending.maxlen:
            self._dropped += 1
        pending.append(result)
        if len(pending) >= self._batch_size:
            self._wake.set()

    def add_many(self, results: Iterable[ProbeResult]) -> None:
        """``add`` each result."""
        for result in results:
            self.add(result)

    @property
    def pending(self) -> int:
        """Results queued but not yet written."""
        return len(self._pending)

    async def flush(self) -> None:
        """Write everything added so far and wait until it is committed."""
        await self._submit(lambda conn: None)

    async def maintain(self) -> MaintenanceReport:
        """Roll up completed minutes and hours, then apply retention (on the worker)."""
        return await self._submit(self._maintain)

    # ------------------------------------------------------------------ queries

    @overload
    async def query(self, target: str | None = ..., since: datetime | None = ...,
                    until: datetime | None = ..., *,
                    resolution: Literal["raw"]) -> list[HistoryRow]: ...

    @overload
    async def query(self, target: str | None = ..., since: datetime | None = ...,
                    until: datetime | None = ..., *,
                    resolution: Literal["1m", "1h"]) -> list[AggregateRow]: ...

    @overload
    async def query(self, target: str | None = ..., since: datetime | None = ...,
                    until: datetime | None = ..., resolution: Resolution = ...,
                    ) -> list[HistoryRow] | list[AggregateRow]: ...

    async def query(
        self,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        resolution: Resolution = "auto",
    ) -> list[HistoryRow] | list[AggregateRow]:
        """Rows with ``since <= time < until``, oldest first.

        ``"raw"`` gives ``HistoryRow``s; ``"1m"`` / ``"1h"`` give ``AggregateRow``s (buckets
        that overlap the range). ``"auto"`` picks the finest tier that still holds the start
        of the range: raw if it lies within 48 h of now, 1m within 30 days, else 1h; with no
        ``since`` the start is the oldest stored data.
        """
        _check_resolution(resolution)
        return await self._submit(lambda conn: self._query(conn, target, since, until,
                                                           resolution))

    async def count(self, target: str | None = None) -> int:
        """Number of raw rows stored (for one target, or all)."""
        def run(conn: sqlite3.Connection) -> int:
            if target is None:
                row = conn.execute("SELECT COUNT(*) FROM results").fetchone()
            else:
                row = conn.execute("SELECT COUNT(*) FROM results WHERE target = ?",
                                   (target,)).fetchone()
            return int(row[0])
        return await self._submit(run)

    async def targets(self) -> list[str]:
        """Targets with stored history in any tier, sorted."""
        def run(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT target FROM results UNION SELECT target FROM agg_1m "
                "UNION SELECT target FROM agg_1h ORDER BY 1").fetchall()
            return [str(r[0]) for r in rows]
        return await self._submit(run)

    async def success_rate(self, target: str, since: datetime | None = None) -> float | None:
        """Share of ok results of ``target`` since ``since`` (tier as for ``"auto"``).

        ``None`` when there is nothing in the range.
        """
        def run(conn: sqlite3.Connection) -> float | None:
            resolution = self._auto(conn, target, since)
            lo = _epoch(since) if since is not None else -math.inf
            if resolution == "raw":
                row = conn.execute(
                    "SELECT COUNT(*), SUM(ok) FROM results WHERE target = ? AND ts >= ?",
                    (target, lo)).fetchone()
            else:
                step = 60 if resolution == "1m" else 3600
                row = conn.execute(
                    f"SELECT SUM(count), SUM(count - failures) FROM agg_{resolution} "
                    "WHERE target = ? AND bucket >= ?",
                    (target, _floor(lo, step) if since is not None else lo)).fetchone()
            total, good = row
            if not total:
                return None
            return float(good) / float(total)
        return await self._submit(run)

    async def export(
        self,
        fp_or_path: str | os.PathLike[str] | IO[str],
        fmt: ExportFormat = "csv",
        *,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        resolution: Resolution = "auto",
    ) -> int:
        """Write the rows ``query`` would return as CSV or JSON; returns the row count.

        CSV has a header row; JSON is a list of objects. Timestamps are ISO-8601 UTC with
        ``Z``; ``phases`` is a JSON object (a JSON string in CSV). The file is written on
        the worker thread.
        """
        if fmt not in _FORMATS:
            raise ValueError(f"unknown export format {fmt!r}: use 'csv' or 'json'")
        _check_resolution(resolution)

        def run(conn: sqlite3.Connection) -> int:
            tier, rows = self._query_tier(conn, target, since, until, resolution)
            fields = _RAW_FIELDS if tier == "raw" else _AGG_FIELDS
            if isinstance(fp_or_path, str | os.PathLike):
                with open(fp_or_path, "w", encoding="utf-8", newline="") as fp:
                    return _write(fp, rows, fmt, fields)
            return _write(fp_or_path, rows, fmt, fields)
        return await self._submit(run)

    async def add_audit(self, entry: Mapping[str, Any]) -> None:
        """Keep one recovery-audit record (``ts`` aware datetime, ``action``, ``origin``,
        ``subject``, ``ok`` and a JSON-able ``detail``) beside the probe history."""
        row = (_epoch(entry["ts"]), str(entry["action"]), str(entry["origin"]),
               entry.get("subject"), int(bool(entry["ok"])),
               redact(json.dumps(entry.get("detail", {}), default=str)))

        def run(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("INSERT INTO audit (ts, action, origin, subject, ok, detail) "
                             "VALUES (?, ?, ?, ?, ?, ?)", row)

        await self._submit(run)

    async def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest recovery-audit records first."""

        def run(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute("SELECT ts, action, origin, subject, ok, detail FROM audit "
                                "ORDER BY ts DESC, id DESC LIMIT ?", (limit,)).fetchall()
            return [{"ts": iso_utc(datetime.fromtimestamp(ts, UTC)), "action": action,
                     "origin": origin, "subject": subject, "ok": bool(ok),
                     "detail": json.loads(detail)}
                    for ts, action, origin, subject, ok, detail in rows]

        return await self._submit(run)

    # ------------------------------------------------------------------ worker side

    async def _submit(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._started is None:
            raise RuntimeError("HistoryStore is not started: await store.start() first")
        if self._stopped is not None:
            raise RuntimeError("HistoryStore is closed")
        await self.start()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put(_Job(fn, future))
        self._wake.set()
        return await asyncio.wrap_future(future)

    def _run(self) -> None:
        assert self._started is not None
        try:
            self._open()
        except BaseException as exc:  # pragma: no cover - _open falls back to memory
            self._started.set_exception(exc)
            return
        self._started.set_result(None)
        stopping = False
        while not stopping:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            try:
                self._write_pending()
                self._maybe_maintain()
            except Exception:  # never let the writer die
                _log.exception("%s history writer error", PREFIX_RESILIENT)
            while True:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    continue
                assert isinstance(item, _Job)
                if stopping:
                    item.future.set_exception(RuntimeError("HistoryStore is closed"))
                    continue
                self._run_job(item)
        self._shutdown()

    def _run_job(self, job: _Job) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            self._write_pending()
            assert self._conn is not None
            job.future.set_result(job.fn(self._conn))
        except BaseException as exc:
            job.future.set_exception(exc)

    def _shutdown(self) -> None:
        try:
            self._write_pending()
            if self._pending:
                _log.warning("%s history closed with %d results unwritten", PREFIX_RESILIENT,
                             len(self._pending))
        except Exception:
            _log.exception("%s history writer error on close", PREFIX_RESILIENT)
        finally:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None
            assert self._stopped is not None
            self._stopped.set_result(None)

    def _write_pending(self) -> None:
        """Write queued results in transactions of at most ``batch_size`` rows."""
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            _log.warning("%s history writer fell behind; dropped %d oldest results",
                         PREFIX_RESILIENT, dropped)
        pending = self._pending
        while pending:
            batch: list[ProbeResult] = []
            while pending and len(batch) < self._batch_size:
                batch.append(pending.popleft())
            try:
                self._insert(batch)
            except sqlite3.Error as exc:
                pending.extendleft(reversed(batch))
                self._write_failed(exc)
                return

    def _insert(self, batch: list[ProbeResult]) -> None:
        conn = self._conn
        assert conn is not None
        rows = []
        for result in batch:
            try:
                rows.append(_row(result))
            except Exception as exc:  # one malformed result must not sink the batch
                _log.warning("%s history skipped a malformed result of %r: %s",
                             PREFIX_RESILIENT, getattr(result, "target", "?"), exc)
        if not rows:
            return
        oldest = min(row[2] for row in rows)
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(_INSERT, rows)
            self._rewind(conn, oldest)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._load_marks(conn)
            raise

    def _write_failed(self, exc: sqlite3.Error) -> None:
        now = time.monotonic()
        if now - self._last_write_warning >= _WARN_EVERY_S:
            self._last_write_warning = now
            _log.warning("%s history write failed (%s); %d results kept for retry",
                         PREFIX_RESILIENT, exc, len(self._pending))
        if _is_corrupt(exc) and self.persistent:
            # the file went bad under us: move it aside and carry on with a fresh one
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None
            self._requested = self.path
            self._open(first_error=exc)

    # ------------------------------------------------------------------ open / repair

    def _connect(self, path: Path | str) -> sqlite3.Connection:
        conn = sqlite3.connect(str(path), timeout=self._busy_timeout, isolation_level=None)
        try:
            row = conn.execute("PRAGMA quick_check").fetchone()
            if row is None or row[0] != "ok":
                raise _CorruptError(f"quick_check: {row[0] if row else 'no answer'}")
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")  # proves we can write (a held lock shows here)
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("COMMIT")
            self._load_marks(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _open(self, first_error: sqlite3.Error | None = None) -> None:
        wanted = self._requested
        error = first_error
        if error is None:
            try:
                wanted.parent.mkdir(parents=True, exist_ok=True)
                self._conn = self._connect(wanted)
                self.path = wanted
                return
            except (sqlite3.Error, OSError) as exc:
                error = exc if isinstance(exc, sqlite3.Error) else sqlite3.OperationalError(
                    f"unable to open database file: {exc}")
        problem = "locked" if _is_locked(error) else "corrupt"
        if not _cannot_open(error) and wanted.is_file():
            moved, clean = self._move_aside(wanted, problem, error)
            if moved is not None:
                self.moved_aside = moved
                if clean:
                    try:
                        self._conn = self._connect(wanted)
                    except sqlite3.Error as exc:
                        error = exc
                    else:
                        self.path = wanted
                        _log.warning("%s history database %s was %s (%s); moved it aside to "
                                     "%s and started a fresh one", PREFIX_RESILIENT, wanted,
                                     problem, error, moved)
                        return
        for candidate in self._fallback_names(wanted):
            try:
                self._conn = self._connect(candidate)
            except (sqlite3.Error, OSError):
                continue
            self.path = candidate
            _log.warning("%s history database %s is unusable (%s: %s)%s; using %s instead",
                         PREFIX_RESILIENT, wanted, problem, error,
                         f", its old file is at {self.moved_aside}" if self.moved_aside
                         else "", candidate)
            return
        self._conn = self._connect(":memory:")
        self.persistent = False
        _log.warning("%s history database %s is unusable (%s); keeping history in memory "
                     "only until restart", PREFIX_RESILIENT, wanted, error)

    def _move_aside(self, path: Path, problem: str,
                    error: BaseException) -> tuple[Path | None, bool]:
        """Rename ``path`` and its side files; returns (new name, whether path is now clear)."""
        stamp = self._clock.now().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        dest = path.with_name(f"{path.name}.{problem}-{stamp}")
        n = 1
        while any(os.path.lexists(f"{dest}{s}") for s in ("", *_SIDE_SUFFIXES)):
            dest = path.with_name(f"{path.name}.{problem}-{stamp}-{n}")
            n += 1
        try:
            _rename(path, dest)
        except OSError as exc:
            _log.warning("%s history database %s is %s (%s) and cannot be moved aside to %s: "
                         "%s", PREFIX_RESILIENT, path, problem, error, dest, exc)
            return None, False
        clear = True
        for suffix in _SIDE_SUFFIXES:
            side = Path(f"{path}{suffix}")
            if not os.path.lexists(side):
                continue
            try:
                _rename(side, Path(f"{dest}{suffix}"))
            except OSError as exc:
                clear = False  # a stale -wal must never meet a fresh database
                _log.warning("%s cannot move %s aside: %s", PREFIX_RESILIENT, side, exc)
        return dest, clear

    @staticmethod
    def _fallback_names(path: Path) -> list[Path]:
        pid = os.getpid()
        names = [path.with_name(f"{path.stem}-{pid}{path.suffix}")]
        names += [path.with_name(f"{path.stem}-{pid}-{n}{path.suffix}") for n in range(1, 4)]
        return names

    # ------------------------------------------------------------------ rollups

    def _load_marks(self, conn: sqlite3.Connection) -> None:
        self._marks = {str(k): float(v) for k, v in conn.execute("SELECT key, value FROM meta")}

    def _set_mark(self, conn: sqlite3.Connection, key: str, value: float) -> None:
        self._marks[key] = value
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _rewind(self, conn: sqlite3.Connection, oldest: float) -> None:
        """A late result for a minute already rolled up: roll that minute up again."""
        rolled = self._marks.get("rolled_1m", 0.0)
        if oldest < rolled:
            now = _epoch(self._clock.now())
            floor = _ceil(now - RAW_RETENTION.total_seconds(), 60)  # raw rows still complete
            start = float(max(_floor(oldest, 60), floor))
            if start < rolled:
                self._set_mark(conn, "rolled_1m", start)

    def _maybe_maintain(self) -> None:
        now = self._clock.monotonic()
        if self._last_maintain is None or now - self._last_maintain >= _MAINTAIN_EVERY_S:
            try:
                self._maintain(self._conn)
            except sqlite3.Error as exc:
                self._write_failed(exc)

    def _maintain(self, conn: sqlite3.Connection | None) -> MaintenanceReport:
        assert conn is not None
        self._last_maintain = self._clock.monotonic()
        now = _epoch(self._clock.now())
        conn.execute("BEGIN IMMEDIATE")
        try:
            report = self._rollup_and_prune(conn, now)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._load_marks(conn)
            raise
        return report

    def _rollup_and_prune(self, conn: sqlite3.Connection, now: float) -> MaintenanceReport:
        minutes = hours = 0
        m_start, m_end = self._marks.get("rolled_1m", 0.0), float(_floor(now, 60))
        h_start = self._marks.get("rolled_1h", 0.0)
        if m_start < m_end:
            minutes = conn.execute(_ROLLUP_MINUTES, (m_start, m_end)).rowcount
            self._set_mark(conn, "rolled_1m", m_end)
            if m_start < h_start:  # minutes of a rolled hour changed: redo that hour
                h_floor = _ceil(now - MINUTE_RETENTION.total_seconds(), 3600)
                h_start = min(h_start, float(max(_floor(m_start, 3600), h_floor)))
        h_end = float(_floor(now, 3600))
        if h_start < h_end:
            hours = conn.execute(_ROLLUP_HOURS, (int(h_start), int(h_end))).rowcount
            self._set_mark(conn, "rolled_1h", h_end)
        raw = conn.execute("DELETE FROM results WHERE ts < ?",
                           (now - RAW_RETENTION.total_seconds(),)).rowcount
        m_del = conn.execute("DELETE FROM agg_1m WHERE bucket < ?",
                             (now - MINUTE_RETENTION.total_seconds(),)).rowcount
        h_del = conn.execute("DELETE FROM agg_1h WHERE bucket < ?",
                             (now - HOUR_RETENTION.total_seconds(),)).rowcount
        conn.execute("DELETE FROM audit WHERE ts < ?", (now - HOUR_RETENTION.total_seconds(),))
        return MaintenanceReport(minutes, hours, raw, m_del, h_del)

    # ------------------------------------------------------------------ reading

    def _auto(self, conn: sqlite3.Connection, target: str | None,
              since: datetime | None) -> Literal["raw", "1m", "1h"]:
        now = _epoch(self._clock.now())
        if since is not None:
            start: float | None = _epoch(since)
        else:
            where, args = ("WHERE target = ?", (target,)) if target is not None else ("", ())
            values = [conn.execute(f"SELECT MIN({col}) FROM {table} {where}", args).fetchone()[0]
                      for table, col in (("results", "ts"), ("agg_1m", "bucket"),
                                         ("agg_1h", "bucket"))]
            found = [float(v) for v in values if v is not None]
            start = min(found) if found else None
        if start is None or start >= now - RAW_RETENTION.total_seconds():
            return "raw"
        if start >= now - MINUTE_RETENTION.total_seconds():
            return "1m"
        return "1h"

    def _resolve(self, conn: sqlite3.Connection, resolution: Resolution, target: str | None,
                 since: datetime | None) -> Literal["raw", "1m", "1h"]:
        if resolution == "auto":
            return self._auto(conn, target, since)
        return resolution

    def _query(self, conn: sqlite3.Connection, target: str | None, since: datetime | None,
               until: datetime | None,
               resolution: Resolution) -> list[HistoryRow] | list[AggregateRow]:
        return self._query_tier(conn, target, since, until, resolution)[1]

    def _query_tier(
        self, conn: sqlite3.Connection, target: str | None, since: datetime | None,
        until: datetime | None, resolution: Resolution,
    ) -> tuple[str, list[HistoryRow] | list[AggregateRow]]:
        tier = self._resolve(conn, resolution, target, since)
        clauses: list[str] = []
        args: list[Any] = []
        if target is not None:
            clauses.append("target = ?")
            args.append(target)
        if tier == "raw":
            if since is not None:
                clauses.append("ts >= ?")
                args.append(_epoch(since))
            if until is not None:
                clauses.append("ts < ?")
                args.append(_epoch(until))
            where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
            cursor = conn.execute(
                "SELECT target, kind, ts, ok, degraded, latency_ms, error_kind, error, phases "
                f"FROM results {where} ORDER BY ts, target, id", args)
            return tier, [
                HistoryRow(target=t, kind=k, ts=_utc(ts), ok=bool(ok), degraded=bool(deg),
                           latency_ms=lat, error_kind=_error_kind(ek), error=err,
                           phases=json.loads(ph) if ph else {})
                for t, k, ts, ok, deg, lat, ek, err, ph in cursor
            ]
        step = 60 if tier == "1m" else 3600
        if since is not None:
            clauses.append("bucket >= ?")
            args.append(_floor(_epoch(since), step))
        if until is not None:
            clauses.append("bucket < ?")
            args.append(_epoch(until))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        cursor = conn.execute(
            "SELECT target, bucket, count, failures, latency_min, latency_avg, latency_max, "
            f"latency_p95 FROM agg_{tier} {where} ORDER BY bucket, target", args)
        return tier, [
            AggregateRow(target=t, bucket=_utc(b), count=int(n), failures=int(f),
                         latency_min=mn, latency_avg=av, latency_max=mx, latency_p95=p95)
            for t, b, n, f, mn, av, mx, p95 in cursor
        ]


def _check_resolution(resolution: str) -> None:
    if resolution not in _RESOLUTIONS:
        raise ValueError(f"unknown resolution {resolution!r}: use one of {', '.join(_RESOLUTIONS)}")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def _write(fp: IO[str], rows: Sequence[HistoryRow | AggregateRow], fmt: str,
           fields: tuple[str, ...]) -> int:
    if fmt == "csv":
        writer = csv.writer(fp, lineterminator="\n")
        writer.writerow(fields)
        for row in rows:
            data = row.as_dict()
            writer.writerow([_csv_value(data[name]) for name in fields])
    else:
        buffer = io.StringIO()
        buffer.write("[")
        for i, row in enumerate(rows):
            buffer.write(",\n" if i else "\n")
            buffer.write(json.dumps(row.as_dict(), ensure_ascii=False))
        buffer.write("\n]\n" if rows else "]\n")
        fp.write(buffer.getvalue())
    fp.flush()
    return len(rows)
