#!/usr/bin/env python
"""Timeline redraw time with 50 targets x 24 h of history (issue 10: aim under 16 ms).

Run:  QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_timeline.py
      [--targets 50] [--hours 24] [--interval 30] [--rounds 5] [--profile]

Builds a history file with TARGETS x (HOURS of results every INTERVAL s; every 13th fails,
one 45-minute outage per target) written straight into the store's schema, then one
``maintain()`` so the 1-minute tier exists as in real use. A real console window (a
``NetmonCore`` over that file, offscreen, 1600x1000, Timeline tab, 24 h range) then measures
what a user waits for, each from the event to the painted widget (``repaint()`` of the
plots, synchronous):

- **redraw** (the number held to 16 ms): new data or another target/range is in hand (read
  off the GUI thread) and is put on screen: ``TimelineView.draw(series)`` (converting the
  series to plot arrays, updating the plot items) plus the repaint. All of it runs on the
  GUI thread.
- **switch, kept**: selecting a target whose 24 h series the view already holds (read
  before, no newer result since): ``set_target`` plus the repaint, no history read. All on
  the GUI thread.
- **switch, not kept**: selecting a target the view has not read yet (its kept series are
  dropped first): ``set_target``, the read on the store's worker thread
  (``HistoryStore.timeline``: the GUI thread only waits), the draw and the repaint.
- **query**: ``HistoryStore.timeline`` alone (worker thread), for reference.

Each is reported as wall time and as CPU time of the GUI thread (``time.thread_time``):
on a shared 2-core machine the wall figure also holds time other processes took. The
targets table's repaint (50 uptime bars) is printed for reference. Medians and p95 over
every target and round. Temporary files are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
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
    gui = Timings()
    for _ in range(args.rounds):  # switch to a target not read yet: read, draw, paint
        view._cache.clear()  # forget what the view read before
        for name in names:
            with gui.measure("switch, not kept (read + draw + paint)"):
                view.set_target(name)
                await view.wait_loaded()
                view.canvas.viewport().repaint()
            assert view.series is not None and view.series.target == name
    reads = view.reads
    for _ in range(args.rounds):  # switch to a target already read: draw and paint
        for name in names:
            with gui.measure("switch, kept (draw + paint)"):
                view.set_target(name)
                view.canvas.viewport().repaint()
    assert view.reads == reads, "a kept series was read again"
    points: list[int] = []
    for _ in range(args.rounds):  # new data in hand: draw and paint
        for name in names:
            with gui.measure("query (worker thread)"):
                series = await core.history.timeline(name, "24h", breaker=name)  # type: ignore[union-attr]
            points.append(len(series.ts))
            with gui.measure("redraw (draw + paint)"):
                view.draw(series)
                view.canvas.viewport().repaint()
    await window.uptime.refresh()  # type: ignore[misc]
    for _ in range(args.rounds * 10):
        with gui.measure(f"table repaint, {args.targets} uptime bars"):
            window.targets_table.viewport().repaint()
    if args.profile:
        import cProfile
        import pstats
        series_list = [await core.history.timeline(name, "24h", breaker=name)  # type: ignore[union-attr]
                       for name in names]
        profile = cProfile.Profile(time.thread_time)  # CPU: other processes do not count
        profile.enable()
        for series in series_list:
            view.draw(series)
            view.canvas.viewport().repaint()
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    window.close()
    await window.aclose()
    await core.stop()
    print(f"points per 24 h series: {min(points)}..{max(points)} (1-minute buckets)")
    gui.report()
    redraw = statistics.median(gui.wall["redraw (draw + paint)"])
    print(f"aim: redraw under 16 ms: {'OK' if redraw < 16 else 'MISS'} (median wall "
          f"{redraw:.2f} ms)")


class Timings:
    """Wall and GUI-thread CPU milliseconds per label."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    @contextlib.contextmanager
    def measure(self, label: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        yield
        self.wall.setdefault(label, []).append((time.perf_counter() - wall) * 1000)
        self.cpu.setdefault(label, []).append((time.thread_time() - cpu) * 1000)

    def report(self) -> None:
        for label, wall in self.wall.items():
            cpu = self.cpu[label]
            print(f"{label:40s} wall median {statistics.median(wall):7.2f} ms  p95 "
                  f"{pct(wall, 0.95):7.2f} ms | GUI-thread CPU median "
                  f"{statistics.median(cpu):6.2f} ms  p95 {pct(cpu, 0.95):6.2f} ms  n={len(wall)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true",
                        help="cProfile (GUI-thread CPU time) one redraw per target")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    with tempfile.TemporaryDirectory() as folder, asyncio.Runner(
            loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(run(args, Path(folder)))


if __name__ == "__main__":
    main()
