#!/usr/bin/env python
"""Timeline redraw time with 50 targets x 24 h of history (issue 10: aim under 16 ms).

Run:  QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_timeline.py
      [--targets 50] [--hours 24] [--interval 30] [--rounds 5]

Builds a history file with TARGETS x (HOURS of results every INTERVAL s; every 13th fails,
one 45-minute outage per target) written straight into the store's schema, then one
``maintain()`` so the 1-minute tier exists as in real use. A real console window (a
``NetmonCore`` over that file, offscreen, 1600x1000, Timeline tab shown) then:

- reads each target's 24 h series (``HistoryStore.timeline``, on the store's worker
  thread): the query time, not on the GUI thread;
- redraws it: ``TimelineView.draw(series)`` plus a synchronous repaint of the plots, i.e.
  what the user waits for when switching target or range (the number to hold to 16 ms);
- repaints the targets table with its 50 uptime bars.

Prints medians and p95 over every target and round. Temporary files are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from core.config import Config, HistorySettings, Target  # noqa: E402
from core.history import HistoryStore  # noqa: E402
from core.history.rollups import INSERT, SCHEMA  # noqa: E402
from core.runtime import NetmonCore  # noqa: E402
from netmon_gui.windows.main_window import MainWindow  # noqa: E402


def build(path: Path, targets: int, hours: float, interval: float, end: datetime) -> int:
    steps = int(hours * 3600 / interval)
    start = end.timestamp() - steps * interval
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in SCHEMA:
        conn.execute(statement)
    conn.execute("BEGIN")
    for i in range(targets):
        outage = range((i * 37) % (steps - 100), (i * 37) % (steps - 100) + 90)
        conn.executemany(INSERT, (
            (f"t{i:03d}", "http", start + s * interval + i * 0.01,
             int(s % 13 != 0 and s not in outage), 0, 5.0 + (s * 7 + i) % 50,
             None, None, "{}")
            for s in range(steps)))
    conn.execute("COMMIT")
    conn.close()
    return steps * targets


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace, folder: Path) -> None:
    path = folder / "history.sqlite3"
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    rows = build(path, args.targets, args.hours, args.interval, now)
    async with HistoryStore(path) as store:
        await store.maintain()
    print(f"history: {args.targets} targets x {args.hours:g} h every {args.interval:g} s = "
          f"{rows} rows, built in {time.perf_counter() - t0:.1f} s")
    names = [f"t{i:03d}" for i in range(args.targets)]
    config = Config(targets=[Target(name=n, kind="http", url="http://127.0.0.1:9/")
                             for n in names], history=HistorySettings(path=str(path)))
    core = NetmonCore(config)
    await core.start(schedule=False)
    window = MainWindow(core)
    window.resize(1600, 1000)
    window.show()
    view = window.timeline
    window.tabs.setCurrentWidget(view.parentWidget())
    view.set_range("24h")
    await asyncio.sleep(0.2)
    app = QApplication.instance()
    assert app is not None
    queries: list[float] = []
    redraws: list[float] = []
    points: list[int] = []
    for _ in range(args.rounds):
        for name in names:
            t = time.perf_counter()
            series = await core.history.timeline(name, "24h", breaker=name)  # type: ignore[union-attr]
            queries.append(time.perf_counter() - t)
            points.append(len(series.ts))
            t = time.perf_counter()
            view.draw(series)
            view.canvas.viewport().repaint()
            redraws.append(time.perf_counter() - t)
    await window.uptime.refresh()  # type: ignore[misc]
    table: list[float] = []
    for _ in range(args.rounds * 10):
        t = time.perf_counter()
        window.targets_table.viewport().repaint()
        table.append(time.perf_counter() - t)
    if args.profile:
        import cProfile
        import pstats
        profile = cProfile.Profile()
        profile.enable()
        for name in names[:10]:
            view.draw(await core.history.timeline(name, "24h"))  # type: ignore[union-attr]
            view.canvas.viewport().repaint()
            window.targets_table.viewport().repaint()
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    window.close()
    await window.aclose()
    await core.stop()
    print(f"points per 24 h series: {min(points)}..{max(points)} (1-minute buckets)")
    for label, values in (("query (worker thread)", queries),
                          ("timeline redraw (draw + repaint)", redraws),
                          (f"table repaint, {args.targets} uptime bars", table)):
        ms = [v * 1000 for v in values]
        print(f"{label:38s} median {statistics.median(ms):7.2f} ms   p95 {pct(ms, 0.95):7.2f} ms"
              f"   n={len(ms)}")
    print(f"aim: redraw under 16 ms: {'OK' if statistics.median(redraws) < 0.016 else 'MISS'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile 10 redraws")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    with tempfile.TemporaryDirectory() as folder, asyncio.Runner(
            loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(run(args, Path(folder)))


if __name__ == "__main__":
    main()
