"""History: memory ring, SQLite store (batching, tiers, queries, export, repair) on a FakeClock.

Real SQLite files under tmp_path; time moves only by ``clock.advance``; timers are never
waited for (``flush()`` and ``maintain()`` are called instead).
"""

from __future__ import annotations

import csv
import dataclasses
import gc
import io
import json
import logging
import math
import sqlite3
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import history
from core.config import HistorySettings
from core.errors import ErrorKind
from core.history import (
    AggregateRow,
    HistoryRow,
    HistoryStore,
    MemoryHistory,
    Retention,
    default_history_path,
)
from core.probes.base import ProbeResult
from core.stats import percentile
from core.testing import FakeClock

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def result(
    when: datetime,
    target: str = "api",
    *,
    ok: bool = True,
    latency: float | None = 12.5,
    kind: str = "http",
    error_kind: ErrorKind | None = None,
    error: str | None = None,
    degraded: bool = False,
) -> ProbeResult:
    if not ok and error_kind is None:
        error_kind, error = ErrorKind.TIMEOUT, "TimeoutError: timed out"
    return ProbeResult(target=target, kind=kind, ok=ok, latency_ms=latency, checked_at=when,
                       phases={"connect": 1.0, "ttfb": 2.5}, error_kind=error_kind,
                       error=error, degraded=degraded)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=T0)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite3"


@pytest.fixture
async def store(db_path: Path, clock: FakeClock) -> AsyncIterator[HistoryStore]:
    # a long flush interval: the worker writes only when a test asks (flush/maintain/query)
    s = HistoryStore(db_path, clock=clock, flush_interval=3600)
    await s.start()
    yield s
    await s.close()


def approx(value: float) -> float:
    """``pytest.approx`` typed as the float it stands for (rows are compared whole)."""
    return pytest.approx(value)  # type: ignore[return-value]


def aggregate(row: HistoryRow | AggregateRow) -> AggregateRow:
    assert isinstance(row, AggregateRow)
    return row


def read(path: Path) -> bytes:
    return path.read_bytes()


def write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def exists(path: str | Path) -> bool:
    return Path(path).exists()


def history_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "netmon.history" and r.levelno == logging.WARNING]


# ----------------------------------------------------------------------------- memory ring


def test_memory_ring_is_bounded_per_target() -> None:
    mem = MemoryHistory(maxlen=5)
    for i in range(12):
        mem.add(result(T0 + timedelta(seconds=i), "a", latency=float(i)))
    mem.add(result(T0, "b"))
    assert mem.targets() == ["a", "b"]
    assert [r.latency_ms for r in mem.recent("a")] == [7.0, 8.0, 9.0, 10.0, 11.0]
    assert [r.latency_ms for r in mem.recent("a", since=T0 + timedelta(seconds=10))] == [10, 11]
    assert len(mem) == 6
    latest = mem.latest("a")
    assert latest is not None and latest.latency_ms == 11.0
    assert mem.recent("nobody") == [] and mem.latest("nobody") is None
    mem.forget("a")
    mem.forget("nobody")
    assert mem.targets() == ["b"]
    with pytest.raises(ValueError, match="maxlen"):
        MemoryHistory(maxlen=0)


def test_memory_ring_keeps_compact_copies_with_every_phase() -> None:
    """A ring of 720 results per target for 1,000 targets is the console's largest memory:
    the ring's copy drops details and packs the phases, and still reads the same."""
    phases = {"dns": 0.25, "connect": 1.5, "tls": 3.125, "ttfb": 4.0, "total": 9.75}
    full = ProbeResult("api", "http", False, 9.75, T0, phases=dict(phases),
                       error_kind=ErrorKind.HTTP_SERVER_ERROR, error="HTTP 503",
                       details={"body": "x" * 4000})
    mem = MemoryHistory(maxlen=1000)
    mem.add(full)
    kept = mem.latest("api")
    assert kept is not None
    assert dict(kept.phases) == phases and kept.phases == phases
    assert list(kept.phases) == list(phases) and len(kept.phases) == 5
    assert kept.phases["tls"] == 3.125 and kept.phases.get("nope") is None
    assert "ttfb" in kept.phases and "nope" not in kept.phases
    with pytest.raises(KeyError):
        kept.phases["nope"]
    assert kept.details == {}
    assert (kept.target, kept.ok, kept.latency_ms, kept.checked_at, kept.error_kind,
            kept.error) == ("api", False, 9.75, T0, ErrorKind.HTTP_SERVER_ERROR, "HTTP 503")
    assert kept.as_dict()["phases"] == phases
    assert full.details  # the caller's result is not changed

    def retained() -> float:
        tracemalloc.start()
        try:
            ring = MemoryHistory(maxlen=1000)
            for i in range(1000):
                ring.add(ProbeResult("api", "http", True, float(i), T0 + timedelta(seconds=i),
                                     phases={"dns": i / 7, "connect": i / 3, "ttfb": i / 9,
                                             "total": float(i)}))
            return tracemalloc.get_traced_memory()[0] / 1000
        finally:
            tracemalloc.stop()

    per_result = retained()
    assert per_result < 340, f"{per_result:.0f} B per kept result"  # 457 B with a dict


def varied(i: int) -> ProbeResult:
    """Results of every shape the ring keeps: failed, degraded, no latency, no phases."""
    when = T0 + timedelta(seconds=i)
    if i % 5 == 0:
        return ProbeResult("api", "http", False, i / 3, when, phases={"dns": i / 7},
                           error_kind=ErrorKind.HTTP_SERVER_ERROR, error=f"HTTP 503 #{i}",
                           details={"status": 503})
    if i % 5 == 1:
        return ProbeResult("api", "dns", True, i / 9, when, degraded=True,
                           error_kind=ErrorKind.TIMEOUT, error="1 of 2 resolvers timed out")
    if i % 5 == 2:
        return ProbeResult("api", "tcp", False, None, when, error_kind=ErrorKind.CONNECTION_REFUSED,
                           error="refused")
    return ProbeResult("api", "http", True, float(i), when,
                       phases={"dns": i / 7, "connect": i / 3, "ttfb": i / 9, "total": i / 2},
                       details={"status": 200})


@pytest.mark.parametrize("maxlen", [50, 64, 150, 720])
def test_memory_ring_reads_back_every_field_but_details(maxlen: int) -> None:
    mem = MemoryHistory(maxlen=maxlen)
    count = 2 * maxlen + 37
    added = [varied(i) for i in range(count)]
    for r in added[:maxlen + 20]:
        mem.add(r)
    mem.extend("api", added[maxlen + 20:])
    expected = [dataclasses.replace(r, details={}) for r in added[-maxlen:]]
    got = mem.recent("api")
    assert got == expected and len(mem) == maxlen
    for kept, full in zip(got, added[-maxlen:], strict=True):
        assert dict(kept.phases) == dict(full.phases) and list(kept.phases) == list(full.phases)
        assert kept.error_kind is None or isinstance(kept.error_kind, ErrorKind)
        assert kept.details == {} and kept.as_dict() == {**full.as_dict(), "details": {}}
    assert mem.recent("api", since=T0 + timedelta(seconds=count - 5)) == expected[-5:]
    assert mem.latest("api") == expected[-1]
    assert mem.points("api", since=T0 + timedelta(seconds=count - 2)) == [
        (r.checked_at, r.ok, r.latency_ms, r.error_kind) for r in expected[-2:]]
    for pct in (50, 95, 100):
        assert mem.latency_percentile("api", pct) == percentile(
            [r.latency_ms for r in expected if r.ok and r.latency_ms is not None], pct)
    for i in range(count, count + maxlen + 3):  # the ring keeps going past the extended part
        mem.add(varied(i))
        expected = [*expected[1:], dataclasses.replace(varied(i), details={})]
    assert mem.recent("api") == expected
    assert mem.latency_percentile("api", 50) == percentile(
        [r.latency_ms for r in expected if r.ok and r.latency_ms is not None], 50)


def test_memory_ring_percentiles_leave_out_a_latency_that_is_not_a_number() -> None:
    """A NaN latency cannot be ordered: it is not counted, and the ring's percentiles stay
    those of its finite latencies as results fall out (it once stayed in for good)."""
    mem = MemoryHistory(maxlen=3)
    for i, latency in enumerate([math.nan, 10.0, 40.0, 50.0, 60.0, math.inf]):
        mem.add(result(T0 + timedelta(seconds=i), "a", latency=latency))
        kept = [r.latency_ms for r in mem.recent("a")
                if r.latency_ms is not None and math.isfinite(r.latency_ms)]
        for pct in (50, 95, 99):
            assert mem.latency_percentile("a", pct) == percentile(kept, pct), (i, pct)


def test_memory_ring_marks_each_change_of_a_target() -> None:
    mem = MemoryHistory(maxlen=3)
    assert mem.version("api") == 0
    seen = {mem.version("api")}
    for i in range(5):
        mem.add(varied(i))
        seen.add(mem.version("api"))
    mem.extend("api", [varied(5)])
    seen.add(mem.version("api"))
    before = mem.version("api")
    mem.add(ProbeResult("db", "tcp", True, 1.0, T0))
    assert mem.version("api") == before  # another target's result changes nothing here
    mem.forget("api")
    assert mem.version("api") == 0
    mem.add(varied(0))
    seen.add(mem.version("api"))
    assert len(seen) == 8  # a new value after each change, never one seen before


def test_memory_ring_entries_are_left_alone_by_the_garbage_collector() -> None:
    """A full (generation 2) collection walks every tracked object: with a ProbeResult and
    its phases per kept result, 1,000 targets x 720 results froze the loop ~0.5 s. The ring
    keeps atomic tuples, which the collector stops tracking once it has seen them."""
    mem = MemoryHistory(maxlen=10_000)
    mem.add(varied(0))
    gc.collect()
    before = len(gc.get_objects())
    for i in range(10_000):
        mem.add(varied(i))
    gc.collect()
    grown = len(gc.get_objects()) - before
    assert len(mem) == 10_000
    assert grown < 100, f"{grown} more tracked objects for 10,000 kept results"


def test_a_full_collection_visits_a_few_objects_per_ring_not_one_per_result() -> None:
    """Untracked entries still cost a full collection a visit each from the container that
    holds them (a deque of 720 per target, a list of its latencies: ~80 ms for 1,000 x 720).
    The tracked objects reachable from the ring refer to far fewer than one per result."""
    mem = MemoryHistory(maxlen=10_000)
    for i in range(10_000):
        mem.add(varied(i))
    gc.collect()
    seen: set[int] = set()
    todo: list[object] = [mem]
    visits = 0
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, type) or not gc.is_tracked(obj):
            continue
        seen.add(id(obj))
        referents = gc.get_referents(obj)
        visits += len(referents)
        todo.extend(referents)
    assert visits < 1000, f"{visits} objects visited for 10,000 kept results"


# ----------------------------------------------------------------------------- writing


async def test_counts_match_results_added(store: HistoryStore, clock: FakeClock) -> None:
    targets = ("api", "db", "dns")
    for i in range(1000):
        store.add(result(clock.now() + timedelta(milliseconds=i), targets[i % 3]))
    await store.flush()
    assert store.pending == 0
    assert await store.count() == 1000
    assert [await store.count(t) for t in targets] == [334, 333, 333]
    assert await store.targets() == sorted(targets)
    with sqlite3.connect(store.path) as conn:  # really in the file, from another connection
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone() == (1000,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


async def test_add_does_not_block_the_loop(store: HistoryStore, clock: FakeClock) -> None:
    # add() only enqueues: 10,000 of them run in one go on the loop; all arrive after flush
    for i in range(10_000):
        store.add(result(clock.now() + timedelta(milliseconds=i), f"t{i % 7}"))
    await store.flush()
    assert await store.count() == 10_000


async def test_batches_are_written_by_the_worker_without_flush(
    db_path: Path, clock: FakeClock,
) -> None:
    s = HistoryStore(db_path, clock=clock, flush_interval=3600, batch_size=10)
    await s.start()
    try:
        for i in range(25):
            s.add(result(clock.now() + timedelta(seconds=i)))
        # batch_size reached: the worker was woken and writes without a flush()
        assert await s.count() == 25  # count() is a job: it runs after pending rows are written
    finally:
        await s.close()


async def test_restart_reads_old_history(db_path: Path, clock: FakeClock) -> None:
    first = HistoryStore(db_path, clock=clock)
    await first.start()
    first.add(result(T0, "api", latency=42.0, ok=False, error_kind=ErrorKind.HTTP_SERVER_ERROR,
                     error="HTTP 503"))
    first.add(result(T0 + timedelta(seconds=5), "db", latency=3.0, degraded=True))
    await first.close()

    second = HistoryStore(db_path, clock=clock)
    await second.start()
    try:
        rows = await second.query(resolution="raw")
        assert rows == [
            HistoryRow("api", "http", T0, False, False, 42.0, ErrorKind.HTTP_SERVER_ERROR,
                       "HTTP 503", {"connect": 1.0, "ttfb": 2.5}),
            HistoryRow("db", "http", T0 + timedelta(seconds=5), True, True, 3.0, None, None,
                       {"connect": 1.0, "ttfb": 2.5}),
        ]
        assert rows[0].ts.tzinfo is not None
        assert second.moved_aside is None and second.path == db_path
    finally:
        await second.close()


async def test_close_is_idempotent_and_flushes(db_path: Path, clock: FakeClock,
                                               caplog: pytest.LogCaptureFixture) -> None:
    s = HistoryStore(db_path, clock=clock, flush_interval=3600)
    await s.start()
    for i in range(123):
        s.add(result(T0 + timedelta(seconds=i)))
    await s.close()
    await s.close()
    s.add(result(T0))  # after close: ignored with one warning, no crash
    s.add(result(T0))
    assert sum("closed" in m for m in history_records(caplog)) == 1
    with pytest.raises(RuntimeError, match="closed"):
        await s.flush()
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT COUNT(*) FROM results").fetchone() == (123,)
    conn.close()


async def test_rows_added_before_start_are_written_on_close(db_path: Path,
                                                            clock: FakeClock) -> None:
    s = HistoryStore(db_path, clock=clock)
    s.add(result(T0))
    await s.close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT COUNT(*) FROM results").fetchone() == (1,)
    conn.close()
    with pytest.raises(RuntimeError, match="start"):
        await HistoryStore(db_path, clock=clock).count()


async def test_no_secrets_or_details_are_stored(store: HistoryStore) -> None:
    leaky = ProbeResult(target="db", kind="postgres", ok=False, latency_ms=None, checked_at=T0,
                        error_kind=ErrorKind.AUTH_FAILED,
                        error="connect postgresql://app:hunter2@db:5432/x failed",
                        details={"password": "hunter2"})
    store.add(leaky)
    await store.flush()
    raw = read(store.path) + read(Path(f"{store.path}-wal"))
    assert b"hunter2" not in raw
    [row] = await store.query(resolution="raw")
    assert isinstance(row, HistoryRow)
    assert row.error is not None and "hunter2" not in row.error
    assert row.latency_ms is None and row.error_kind is ErrorKind.AUTH_FAILED


# ----------------------------------------------------------------------------- tiers


def minute(m: int, s: float = 0.0) -> datetime:
    return T0 + timedelta(minutes=m, seconds=s)


async def test_rollups_and_tiered_retention(store: HistoryStore, clock: FakeClock) -> None:
    # minute 00:00 - 20 results, latencies 1..20, the two slowest failed
    for i in range(20):
        store.add(result(minute(0, i * 2), latency=float(i + 1), ok=i < 18))
    # minute 00:01 - 5 ok, 10 ok, and a failure without latency
    store.add(result(minute(1, 1), latency=5.0))
    store.add(result(minute(1, 2), latency=10.0))
    store.add(result(minute(1, 3), latency=None, ok=False))
    store.add(result(minute(59, 30), latency=7.0))  # 00:59, still hour 0
    store.add(result(minute(65), latency=50.0))  # 01:05, hour 1 (not complete yet)
    store.add(result(minute(0, 10), target="db", latency=4.0))
    clock.advance(70 * 60)  # now 01:10:00
    store.add(result(clock.now(), latency=1.0))  # current minute: not complete
    await store.flush()
    await store.maintain()

    m1 = await store.query(target="api", resolution="1m")
    assert all(isinstance(r, AggregateRow) for r in m1)
    assert [r.bucket for r in m1] == [minute(0), minute(1), minute(59), minute(65)]
    assert m1[0] == AggregateRow("api", minute(0), 20, 2, 1.0, 10.5, 20.0, 19.0)
    assert m1[1] == AggregateRow("api", minute(1), 3, 1, 5.0, 7.5, 10.0, 10.0)
    assert m1[2] == AggregateRow("api", minute(59), 1, 0, 7.0, 7.0, 7.0, 7.0)
    h1 = await store.query(resolution="1h")
    assert h1 == [
        AggregateRow("api", T0, 24, 3, 1.0, approx(232 / 23), 20.0, 19.0),
        AggregateRow("db", T0, 1, 0, 4.0, 4.0, 4.0, 4.0),
    ]

    # a late result for a minute already rolled up: the minute and its hour are redone
    store.add(result(minute(0, 50), latency=1000.0, ok=False))
    await store.maintain()
    m1 = await store.query(target="api", resolution="1m", until=minute(1))
    assert m1 == [AggregateRow("api", minute(0), 21, 3, 1.0, approx(1210 / 21), 1000.0,
                               20.0)]
    [hour0] = await store.query(target="api", resolution="1h")
    assert (hour0.count, hour0.failures, hour0.latency_max, hour0.latency_p95) == (25, 4,
                                                                                   1000.0, 20.0)

    # past 48 h: raw rows go, aggregates stay
    clock.advance(49 * 3600)
    store.add(result(clock.now(), latency=2.0))
    await store.maintain()
    assert await store.count() == 1
    m1 = await store.query(target="api", resolution="1m")
    assert [r.bucket for r in m1] == [minute(0), minute(1), minute(59), minute(65), minute(70)]
    hours = [r.bucket for r in await store.query(target="api", resolution="1h")]
    assert hours == [T0, T0 + timedelta(hours=1)]

    # past 30 days: minute rows of January 1st go, hour rows stay
    clock.advance(30 * 86400)
    await store.maintain()
    m1 = await store.query(target="api", resolution="1m")
    assert [r.bucket for r in m1] == [T0 + timedelta(hours=50, minutes=10)]
    assert len(await store.query(target="api", resolution="1h")) == 3
    assert await store.count() == 0

    # past 400 days: the old hour rows go too
    clock.advance(371 * 86400)
    await store.maintain()
    assert await store.query(resolution="1h") == []
    assert await store.query(resolution="1m") == []


async def test_configured_retention_prunes_older_rows_and_keeps_younger(
        db_path: Path, clock: FakeClock) -> None:
    retention = Retention.from_settings(
        HistorySettings(raw_hours=2, minute_days=1, hour_days=3))
    store = HistoryStore(db_path, clock=clock, flush_interval=3600, retention=retention)
    await store.start()
    try:
        for m in (0, 1, 2):
            store.add(result(minute(m)))
        clock.advance(3600)
        store.add(result(clock.now()))  # 01:00
        clock.advance(3600)  # now 02:00: the 00:00 row is exactly 2 h old, kept
        await store.maintain()
        assert await store.count() == 4
        clock.advance(90)  # 02:01:30: 00:00 and 00:01 are past 2 h; 00:02 and 01:00 are not
        await store.maintain()
        assert [r.ts for r in await store.query(resolution="raw")] == [minute(2), minute(60)]
        minutes = [r.bucket for r in await store.query(resolution="1m")]
        assert minutes == [minute(0), minute(1), minute(2), minute(60)]

        clock.advance(86400 - 2 * 3600)  # 1 day 00:01:30: minute rows before 00:01:30 go
        await store.maintain()
        assert await store.count() == 0
        minutes = [r.bucket for r in await store.query(resolution="1m")]
        assert minutes == [minute(2), minute(60)]
        hours = [r.bucket for r in await store.query(resolution="1h")]
        assert hours == [T0, T0 + timedelta(hours=1)]  # 3 days for hours

        store.retention = Retention.from_settings(  # changed while running
            HistorySettings(raw_hours=2, minute_days=1, hour_days=1))
        await store.maintain()  # hour 00:00 is past 1 day, hour 01:00 is not
        assert [r.bucket for r in await store.query(resolution="1h")] == [
            T0 + timedelta(hours=1)]
    finally:
        await store.close()


async def test_rollups_survive_a_restart_gap(db_path: Path, clock: FakeClock) -> None:
    s = HistoryStore(db_path, clock=clock)
    await s.start()
    for i in range(3):
        s.add(result(minute(i), latency=float(i)))
    await s.close()
    clock.advance(3 * 86400)  # closed for three days: raw rows still there, not yet rolled
    s = HistoryStore(db_path, clock=clock)
    await s.start()
    try:
        await s.maintain()
        assert len(await s.query(resolution="1m")) == 3
        assert len(await s.query(resolution="1h")) == 1
        assert await s.count() == 0
    finally:
        await s.close()


# ----------------------------------------------------------------------------- queries


async def test_query_by_target_range_and_resolution(store: HistoryStore,
                                                    clock: FakeClock) -> None:
    for m in range(0, 180, 10):  # every 10 minutes for 3 hours, two targets
        store.add(result(minute(m), "api", latency=float(m)))
        store.add(result(minute(m, 1), "db", latency=1.0, ok=m % 20 == 0))
    clock.advance(3 * 3600)
    await store.maintain()

    raw = await store.query(target="api", since=minute(30), until=minute(60), resolution="raw")
    assert [(r.target, r.ts) for r in raw] == [("api", minute(30)), ("api", minute(40)),
                                              ("api", minute(50))]
    both = await store.query(since=minute(30), until=minute(40))
    assert [r.target for r in both] == ["api", "db"]
    assert all(isinstance(r, HistoryRow) for r in both)  # auto: within 48 h -> raw
    assert len(await store.query(target="db", resolution="1m")) == 18
    assert [r.count for r in await store.query(target="db", resolution="1h")] == [6, 6, 6]
    assert await store.success_rate("db", since=minute(0)) == 0.5
    assert await store.success_rate("nobody") is None
    with pytest.raises(ValueError, match="resolution"):
        await store.query(resolution="5m")  # type: ignore[call-overload]

    # three days later the raw rows are gone; auto picks the tier that still has the range
    clock.advance(3 * 86400)
    await store.maintain()
    auto_3d = await store.query(target="api", since=clock.now() - timedelta(days=4))
    assert [aggregate(r).bucket for r in auto_3d] == [minute(m) for m in range(0, 180, 10)]
    auto_60d = await store.query(target="api", since=clock.now() - timedelta(days=60))
    assert [aggregate(r).bucket for r in auto_60d] == [T0 + timedelta(hours=h) for h in range(3)]
    assert len(await store.query(target="api")) == 18  # no since: oldest data is 3 days old
    assert await store.success_rate("db", since=T0) == 0.5  # from the minute tier
    assert await store.query(since=clock.now() - timedelta(hours=1)) == []


async def test_auto_without_since_uses_raw_for_fresh_history(store: HistoryStore) -> None:
    assert await store.query() == []
    store.add(result(T0))
    rows = await store.query()
    assert len(rows) == 1 and isinstance(rows[0], HistoryRow)


# ----------------------------------------------------------------------------- export


async def test_export_csv_and_json(store: HistoryStore, clock: FakeClock,
                                   tmp_path: Path) -> None:
    store.add(result(minute(0), "api", latency=12.5))
    store.add(result(minute(0, 30), "db", ok=False, latency=None,
                     error_kind=ErrorKind.CONNECTION_REFUSED,
                     error='ConnectionRefusedError: [Errno 111] "refused", really'))
    store.add(result(minute(1), "api", latency=7.0))
    clock.advance(120)

    csv_path = tmp_path / "out.csv"
    assert await store.export(csv_path, "csv", resolution="raw") == 3
    with csv_path.open(newline="", encoding="utf-8") as fp:
        rows = list(csv.DictReader(fp))
    assert list(rows[0]) == ["target", "kind", "ts", "ok", "degraded", "latency_ms",
                             "error_kind", "error", "phases"]
    assert [r["target"] for r in rows] == ["api", "db", "api"]
    assert rows[0]["ts"] == "2026-01-01T00:00:00Z" and rows[1]["ts"] == "2026-01-01T00:00:30Z"
    assert rows[1]["ok"] == "false" and rows[1]["latency_ms"] == ""
    assert rows[1]["error_kind"] == "connection_refused"
    assert rows[1]["error"] == 'ConnectionRefusedError: [Errno 111] "refused", really'
    assert json.loads(rows[0]["phases"]) == {"connect": 1.0, "ttfb": 2.5}
    assert float(rows[0]["latency_ms"]) == 12.5

    json_path = tmp_path / "out.json"
    assert await store.export(str(json_path), "json", target="api") == 2
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert [(d["target"], d["ts"], d["latency_ms"], d["ok"]) for d in data] == [
        ("api", "2026-01-01T00:00:00Z", 12.5, True), ("api", "2026-01-01T00:01:00Z", 7.0, True)]

    await store.maintain()
    buffer = io.StringIO()
    assert await store.export(buffer, "csv", target="api", resolution="1m") == 2
    agg = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert [(a["bucket"], a["count"], a["latency_p95"]) for a in agg] == [
        ("2026-01-01T00:00:00Z", "1", "12.5"), ("2026-01-01T00:01:00Z", "1", "7.0")]

    empty = io.StringIO()
    assert await store.export(empty, "json", target="nobody") == 0
    assert json.loads(empty.getvalue()) == []
    empty_csv = io.StringIO()
    await store.export(empty_csv, "csv", target="nobody", resolution="1h")
    assert empty_csv.getvalue().startswith("target,bucket,count,failures,")

    with pytest.raises(ValueError, match="format 'xml'"):
        await store.export(tmp_path / "out.xml", "xml")  # type: ignore[arg-type]
    assert not (tmp_path / "out.xml").exists()


# ----------------------------------------------------------------------------- repair


async def test_corrupt_file_is_moved_aside(clock: FakeClock,
                                           caplog: pytest.LogCaptureFixture) -> None:
    path = default_history_path()  # the platformdirs data folder (a temp home in tests)
    path.parent.mkdir(parents=True)
    garbage = b"this is not a database\x00\xff" * 400
    path.write_bytes(garbage)
    caplog.set_level(logging.WARNING, logger="netmon.history")

    s = HistoryStore(clock=clock)
    await s.start()
    try:
        assert s.path == path
        moved = s.moved_aside
        assert moved is not None
        assert moved.name == "history.sqlite3.corrupt-20260101T000000Z"
        assert moved.read_bytes() == garbage
        [message] = history_records(caplog)
        assert message.startswith("RESILIENT:")
        assert str(path) in message and str(moved) in message and "corrupt" in message
        s.add(result(T0))
        await s.flush()
        assert await s.count() == 1
    finally:
        await s.close()

    again = HistoryStore(clock=clock)  # the fresh file is healthy: nothing moved next time
    await again.start()
    try:
        assert again.moved_aside is None and await again.count() == 1
    finally:
        await again.close()


async def test_damaged_pages_are_moved_aside(
    db_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture,
) -> None:
    s = HistoryStore(db_path, clock=clock)
    await s.start()
    for i in range(2000):
        s.add(result(T0 + timedelta(seconds=i), error="x" * 50))
    await s.close()
    data = bytearray(read(db_path))
    data[100:4096] = b"\xa5" * (4096 - 100)  # the schema page, past the valid header
    write(db_path, bytes(data))

    s = HistoryStore(db_path, clock=clock)
    await s.start()
    try:
        assert s.moved_aside is not None and s.moved_aside.read_bytes() == bytes(data)
        assert any("corrupt" in m for m in history_records(caplog))
        assert await s.count() == 0
    finally:
        await s.close()


async def test_corrupt_file_that_cannot_be_renamed_gets_a_sibling(
    db_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(src: Path, dst: Path) -> None:
        raise PermissionError(13, "The process cannot access the file", str(src))

    monkeypatch.setattr(history.files, "_rename", refuse)  # Windows and an open file
    garbage = b"not a database" * 300
    write(db_path, garbage)
    s = HistoryStore(db_path, clock=clock)
    await s.start()
    try:
        assert s.moved_aside is None
        assert s.path.parent == db_path.parent and s.path != db_path
        assert s.path.name.startswith("history-") and s.path.suffix == ".sqlite3"
        messages = history_records(caplog)
        assert any(str(db_path) in m and str(s.path) in m for m in messages)
        assert all(m.startswith("RESILIENT:") for m in messages)
        s.add(result(T0))
        assert await s.count() == 1
    finally:
        await s.close()
    assert read(db_path) == garbage


async def test_unusable_folder_falls_back_to_memory(tmp_path: Path, clock: FakeClock,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    s = HistoryStore(blocker / "history.sqlite3", clock=clock)
    await s.start()
    try:
        assert not s.persistent
        assert any("memory" in m for m in history_records(caplog))
        s.add(result(T0))
        assert await s.count() == 1
    finally:
        await s.close()
    assert blocker.read_text() == "a file where the data folder should be"
