#!/usr/bin/env python
"""Which widgets repaint in one console refresh cycle, how large and at what CPU cost.

Run:  QT_QPA_PLATFORM=offscreen python tests/benchmarks/profile_refresh.py [--cycles 30]
      add --profile to print the cProfile table of the cycles instead

The window and the cycle of ``bench_refresh.py`` (50 targets x 720 results; new results,
``refresh()``, the plot's redraw, ``processEvents()``). An application event filter sees
every ``QEvent.Paint``: per widget, paints per cycle, the bounding area of the painted
region and the thread CPU until the next paint event starts (a parent is painted before
its children, so this is the widget's own paint; the last one also carries the flush).
Then the same for a quiet cycle (no new result).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtGui import QPaintEvent  # noqa: E402

from tests.benchmarks.bench_refresh import console_cycle  # noqa: E402


class PaintLog(QObject):
    """Counts paint events per widget (class:objectName<parent) while ``on``."""

    def __init__(self) -> None:
        super().__init__()
        self.on = False
        self.count: collections.Counter[str] = collections.Counter()
        self.area: collections.Counter[str] = collections.Counter()
        self.cpu: dict[str, float] = collections.defaultdict(float)
        self._last: tuple[str, float] | None = None

    def end(self) -> None:
        """Charge the CPU since the last paint event to its widget."""
        if self._last is not None:
            self.cpu[self._last[0]] += time.thread_time() - self._last[1]
        self._last = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if self.on and event.type() == QEvent.Type.Paint and isinstance(event, QPaintEvent):
            self.end()
            parent = watched.parent()
            name = f"{type(watched).__name__}:{watched.objectName()}" + (
                f" < {type(parent).__name__}:{parent.objectName()}" if parent else "")
            rect = event.region().boundingRect()
            self.count[name] += 1
            self.area[name] += rect.width() * rect.height()
            self._last = (name, time.thread_time())
        return False

    def report(self, title: str, cycles: int) -> None:
        print(f"{title}: per cycle  paints  area px  cpu ms")
        for name, n in self.count.most_common():
            print(f"  {n / cycles:6.1f} {self.area[name] / cycles:9.0f} "
                  f"{self.cpu[name] / cycles * 1000:7.2f}  {name}")
        self.count.clear()
        self.area.clear()
        self.cpu.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    setup = console_cycle()
    app, window, steps = setup.app, setup.window, setup.steps
    log = PaintLog()
    app.installEventFilter(log)

    def cycle(new_results: bool = True) -> None:
        setup.advance()
        for name, step in steps.items():
            if new_results or name in ("refresh", "paint"):
                step()
        log.end()  # the paint's CPU up to here goes to the widget painted last

    for _ in range(3):
        cycle()
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.cycles):
            cycle()
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
    else:
        for quiet, title in ((False, "full cycle"), (True, "quiet cycle (no new result)")):
            log.on = True
            for _ in range(args.cycles):
                cycle(not quiet)
            log.on = False
            log.report(title, args.cycles)
        print(f"load average {os.getloadavg()}")
    window._shutdown_widgets()
    return 0


if __name__ == "__main__":
    sys.exit(main())
