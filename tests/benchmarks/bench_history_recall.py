#!/usr/bin/env python
"""How long a monitor takes to seed itself from history at start, and whether it blocks
the event loop while doing so.

Run:  python tests/benchmarks/bench_history_recall.py [--targets 200] [--hours 24]
      [--interval 30] [--rounds 3]

Builds a history file with TARGETS x (HOURS of results every INTERVAL s) (rows written
straight into the store's schema, then one ``maintain()`` so the tiers exist as in real
use), then for each round opens a fresh ``HistoryStore`` (real SQLite, worker thread) and a
``HealthMonitor`` over it and times ``monitor.seed_from(store)``: wall time in all, and the
largest event-loop stall seen by a 5 ms ticker meanwhile (the reading runs on the store's
worker thread; only filling the rings runs on the loop). Temporary files are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.config import Config, MonitorSettings, Target
from core.history import HistoryStore
from core.history.rollups import INSERT
from core.monitor import HealthMonitor
from core.probes.base import ProbeContext
from core.testing import FakeClock

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def build(path: Path, targets: int, hours: float, interval: float) -> tuple[int, datetime]:
    steps = int(hours * 3600 / interval)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for i in range(targets):
        conn.executemany(INSERT, (
            (f"t{i:04d}", "http", T0.timestamp() + s * interval + i * 0.01, int(s % 13 != 0),
             0, 5.0 + (s * 7 + i) % 50, None if s % 13 else "timeout",
             None if s % 13 else "TimeoutError: timed out", '{"connect": 1.0, "ttfb": 2.0}')
            for s in range(steps)))
    conn.execute("COMMIT")
    conn.close()
    return steps * targets, T0 + timedelta(seconds=steps * interval)


async def seed_once(path: Path, config: Config, now: datetime) -> tuple[float, float, int]:
    clock = FakeClock(start=now)
    store = HistoryStore(path, clock=clock)
    await store.start()
    monitor = HealthMonitor(config, clock=clock, history=store,
                            context=ProbeContext(clock=clock))
    stalls: list[float] = []
    done = False

    async def ticker() -> None:
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.005)
            now_ = time.perf_counter()
            stalls.append(now_ - last - 0.005)
            last = now_

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    start = time.perf_counter()
    await monitor.seed_from(store)
    elapsed = time.perf_counter() - start
    done = True
    await tick
    ring = len(monitor.memory)
    await monitor.stop()
    await store.close()
    return elapsed, max(stalls), ring


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.sqlite3"
        clock = FakeClock(start=T0)
        store = HistoryStore(path, clock=clock)
        await store.start()  # the schema
        await store.close()
        t = time.perf_counter()
        rows, now = build(path, args.targets, args.hours, args.interval)
        store = HistoryStore(path, clock=FakeClock(start=now))
        await store.start()
        await store.maintain()
        await store.close()
        size = path.stat().st_size / 1e6
        print(f"history: {args.targets} targets x {args.hours:g} h every {args.interval:g} s = "
              f"{rows} rows, {size:.0f} MB (built in {time.perf_counter() - t:.1f} s)")
        config = Config(monitor=MonitorSettings(interval_s=args.interval), targets=[
            Target(name=f"t{i:04d}", kind="http", url="http://127.0.0.1:9/")
            for i in range(args.targets)])
        results = [await seed_once(path, config, now) for _ in range(args.rounds)]
        for elapsed, stall, ring in results:
            print(f"seed_from: {elapsed * 1000:7.0f} ms   largest loop stall "
                  f"{stall * 1000:5.1f} ms   ring results {ring}")
        print(f"median seed_from {statistics.median(r[0] for r in results) * 1000:.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
