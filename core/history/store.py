"""``HistoryStore``: probe results in one SQLite file, with tiers; all SQLite on one thread.

The file is ``<platformdirs user data dir>/history.sqlite3`` unless another path is given.

- **One worker thread** owns the connection; every SQLite call runs there, so the asyncio
  loop never blocks on the database. ``add()`` only appends to a bounded in-memory queue;
  the worker writes a batch every ``flush_interval`` seconds or as soon as ``batch_size``
  results wait, one transaction per batch. Queries are jobs for the same thread, run after
  everything added before them has been written (read-your-writes).
- **Tiers** (see ``rollups``): raw results, 1-minute and 1-hour aggregates, each kept as
  long as ``retention`` says (by default 48 h, 30 days, 400 days; ``[history]`` sets them);
  rollups and retention run on the worker at most once a minute and on ``maintain()``,
  judged on the injected clock.
- **The file** (see ``db_file``): readers never lock, create, repair or move it; a writer
  shut out by another process's lock keeps new results in memory and retries, a corrupt
  file is moved aside, an unusable one leaves history in memory only.
- No secrets: only the result columns are stored (error text is redacted again on write;
  result ``details`` are never stored).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import math
import os
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final, Literal, TypeVar, overload

from ..breaker import BreakerTransition
from ..clock import Clock, SystemClock
from ..log import PREFIX_RESILIENT, redact
from ..probes.base import ProbeResult, iso_utc
from . import files
from .db_file import DbFile
from .export import FORMATS, check_resolution, write_rows
from .recall import Recall, read_recall
from .rollups import BREAKER_INSERT, INSERT, Marks, load_marks, rewind, rollup_and_prune
from .rows import (
    AGG_FIELDS,
    RAW_FIELDS,
    AggregateRow,
    ExportFormat,
    HistoryRow,
    MaintenanceReport,
    Resolution,
    Retention,
    default_history_path,
    epoch,
    to_row,
)
from .tiers import read_success_rate, read_tier
from .timeline import TimelineSeries, read_series, read_uptime

__all__ = ["HistoryStore"]

_log = logging.getLogger("netmon.history")

T = TypeVar("T")

_MAINTAIN_EVERY_S: Final = 60.0
_WARN_EVERY_S: Final = 60.0


@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: concurrent.futures.Future[Any]


_STOP: Final = object()


def _rows(results: Iterable[ProbeResult]) -> list[tuple[Any, ...]]:
    """The ``results`` rows of ``results``, skipping (and logging) malformed ones."""
    rows = []
    for result in results:
        try:
            rows.append(to_row(result))
        except Exception as exc:  # one malformed result must not sink the others
            _log.warning("%s history skipped a malformed result of %r: %s",
                         PREFIX_RESILIENT, getattr(result, "target", "?"), exc)
    return rows


class HistoryStore:
    """Probe history in SQLite with tiered retention; all SQLite work on one worker thread.

    ``await start()`` opens (or repairs) the database; ``add()`` is a cheap, non-blocking
    enqueue callable from the event loop; ``await close()`` writes what is pending and stops.
    ``busy_timeout`` is how long SQLite waits for another process's lock (with growing
    sleeps); ``lock_retry`` how often a writer shut out by a lock tries the file again.
    ``retention`` (settable while running) applies from the next maintenance.
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
        read_only: bool = False,
        lock_retry: float = 30.0,
        retention: Retention | None = None,
    ) -> None:
        if flush_interval <= 0 or batch_size < 1 or max_pending < batch_size:
            raise ValueError("need flush_interval > 0 and 1 <= batch_size <= max_pending")
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._close_timeout = close_timeout
        #: How long each tier is kept (read by the worker at each maintenance).
        self.retention = retention if retention is not None else Retention()
        #: Readers never write, create, repair or move the file.
        self.read_only = read_only
        self._file = DbFile(Path(path) if path is not None else default_history_path(),
                            clock=self._clock, busy_timeout=busy_timeout,
                            lock_retry=lock_retry, on_open=self._adopt)
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
        self._marks: Marks = {}
        self._last_maintain: float | None = None
        self._last_write_warning = -math.inf

    @property
    def path(self) -> Path:
        """The database file actually in use (differs from the requested one after a
        fallback)."""
        return self._file.path

    @property
    def moved_aside(self) -> Path | None:
        """Where a corrupt database was moved, if it was."""
        return self._file.moved_aside

    @property
    def persistent(self) -> bool:
        """False when no file could be used at all and history lives in memory only."""
        return self._file.persistent

    @property
    def locked(self) -> bool:
        """True while another process's lock keeps new results from the file."""
        return self._file.locked

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the database on the worker thread (repairing it if needed); idempotent.

        A reader raises ``HistoryUnavailableError`` when the file cannot be read.
        """
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
        started = self._started
        if started is not None and started.done() and started.exception() is not None:
            return  # the worker never opened anything
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
        if self.read_only:
            raise RuntimeError("a read-only HistoryStore does not store results")
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
        check_resolution(resolution)
        return await self._submit(lambda conn: read_tier(
            conn, target, since, until, resolution, now=epoch(self._clock.now()),
            retention=self.retention)[1])

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

    async def recall(self, targets: Iterable[str], clock: Clock, *, ring: int) -> Recall:
        """Success counts of the last 24 h and the newest ``ring`` results of ``targets``.

        ``clock`` is the monitor's: its ``monotonic() - now()`` maps stored times onto the
        monitor's timeline. Read on the worker thread, one query per part for all targets.
        """
        names = list(targets)
        wall_now, mono_now = epoch(clock.now()), clock.monotonic()
        return await self._submit(lambda conn: read_recall(
            conn, names, wall_now=wall_now, mono_now=mono_now, ring=ring))

    async def success_rate(self, target: str, since: datetime | None = None) -> float | None:
        """Share of ok results of ``target`` since ``since`` (tier as for ``"auto"``).

        ``None`` when there is nothing in the range.
        """
        return await self._submit(lambda conn: read_success_rate(
            conn, target, since, now=epoch(self._clock.now()), retention=self.retention))

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
        if fmt not in FORMATS:
            raise ValueError(f"unknown export format {fmt!r}: use 'csv' or 'json'")
        check_resolution(resolution)

        def run(conn: sqlite3.Connection) -> int:
            tier, rows = read_tier(conn, target, since, until, resolution,
                                   now=epoch(self._clock.now()), retention=self.retention)
            fields = RAW_FIELDS if tier == "raw" else AGG_FIELDS
            if isinstance(fp_or_path, str | os.PathLike):
                with open(fp_or_path, "w", encoding="utf-8", newline="") as fp:
                    return write_rows(fp, rows, fmt, fields)
            return write_rows(fp_or_path, rows, fmt, fields)
        return await self._submit(run)

    def add_transition(self, change: BreakerTransition) -> None:
        """Keep one breaker state change (for the timelines' breaker bands); never blocks.

        Connect it to ``CircuitBreaker.state_changed``; the row is written by the worker.
        """
        if self.read_only or self._closing or self._started is None:
            return
        row = (epoch(change.at), change.breaker, str(change.old), str(change.new),
               redact(change.reason))

        def run(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute(BREAKER_INSERT, row)

        self._jobs.put(_Job(run, concurrent.futures.Future()))
        self._wake.set()

    async def timeline(self, target: str, range_name: str, *, until: datetime | None = None,
                       breaker: str | None = None) -> TimelineSeries:
        """``target``'s success and latency over ``range_name`` (``"15m"``, ``"1h"``,
        ``"24h"``, ``"7d"``, ``"30d"``) ending at ``until`` (default now), with its outages
        and the non-closed periods of ``breaker`` (see ``core.history.timeline``)."""
        end = epoch(until if until is not None else self._clock.now())
        return await self._submit(lambda conn: read_series(conn, target, range_name, end,
                                                           breaker))

    async def uptime(self, targets: Iterable[str], *, hours: float = 24.0, segments: int = 48,
                     until: datetime | None = None) -> dict[str, list[tuple[int, int]]]:
        """Per target, ``segments`` slices of the last ``hours``: (results, failures)."""
        end = epoch(until if until is not None else self._clock.now())
        names = list(targets)
        return await self._submit(lambda conn: read_uptime(conn, names, end - hours * 3600,
                                                           end, segments))

    async def add_audit(self, entry: Mapping[str, Any]) -> None:
        """Keep one recovery-audit record (``ts`` aware datetime, ``action``, ``origin``,
        ``subject``, ``ok`` and a JSON-able ``detail``) beside the probe history."""
        row = (epoch(entry["ts"]), str(entry["action"]), str(entry["origin"]),
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
            self._file.open(read_only=self.read_only)
        except BaseException as exc:  # a reader that cannot read (a writer falls back)
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
            assert self._file.conn is not None
            job.future.set_result(job.fn(self._file.conn))
        except BaseException as exc:
            job.future.set_exception(exc)

    def _shutdown(self) -> None:
        try:
            self._write_pending(closing=True)
            if self._pending and self.locked and self._file.keep_in_side_file(
                    _rows(self._pending)):
                self._pending.clear()
            if self._pending:
                _log.warning("%s history closed with %d results unwritten", PREFIX_RESILIENT,
                             len(self._pending))
        except Exception:
            _log.exception("%s history writer error on close", PREFIX_RESILIENT)
        finally:
            self._file.close()
            assert self._stopped is not None
            self._stopped.set_result(None)

    def _write_pending(self, *, closing: bool = False) -> None:
        """Write queued results in transactions of at most ``batch_size`` rows."""
        if self.locked and not self._file.retry_lock(kept=len(self._pending), force=closing):
            return  # kept in memory until the file is free
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
        conn = self._file.conn
        assert conn is not None
        rows = _rows(batch)
        if not rows:
            return
        oldest = min(row[2] for row in rows)
        with self._transaction(conn):
            conn.executemany(INSERT, rows)
            rewind(conn, self._marks, oldest, epoch(self._clock.now()), self.retention)

    def _write_failed(self, exc: sqlite3.Error) -> None:
        now = time.monotonic()
        if now - self._last_write_warning >= _WARN_EVERY_S:
            self._last_write_warning = now
            _log.warning("%s history write failed (%s); %d results kept for retry",
                         PREFIX_RESILIENT, exc, len(self._pending))
        self._file.write_failed(exc)

    @contextlib.contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        """A write transaction; on failure roll back and re-read the rollup marks."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._marks = load_marks(conn)
            raise

    def _adopt(self, conn: sqlite3.Connection, path: Path | None) -> None:
        """A new writer connection: read its rollup marks, take in results kept in side
        files next to ``path``."""
        self._marks = load_marks(conn)
        if path is None:
            return
        with self._transaction(conn):
            merged, count, oldest = files.merge_side_files(conn, path)
            if oldest is not None:
                rewind(conn, self._marks, oldest, epoch(self._clock.now()), self.retention)
        if merged:
            files.remove_side_files(merged)
            _log.warning("%s history took in %d results kept in %s while %s was locked",
                         PREFIX_RESILIENT, count, ", ".join(map(str, merged)), path)

    # ------------------------------------------------------------------ rollups

    def _maybe_maintain(self) -> None:
        if self.read_only or self.locked:
            return
        now = self._clock.monotonic()
        if self._last_maintain is None or now - self._last_maintain >= _MAINTAIN_EVERY_S:
            try:
                self._maintain(self._file.conn)
            except sqlite3.Error as exc:
                self._write_failed(exc)

    def _maintain(self, conn: sqlite3.Connection | None) -> MaintenanceReport:
        assert conn is not None
        self._last_maintain = self._clock.monotonic()
        with self._transaction(conn):
            return rollup_and_prune(conn, self._marks, epoch(self._clock.now()),
                                    self.retention)
