#!/usr/bin/env python
"""One console refresh cycle with 50 targets: what the window costs per second.

Run:  QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_refresh.py [--targets 50]
      [--ring 720] [--cycles 60] [--json PATH]

A ``NetmonCore`` built as in ``bench_status.py`` (FakeClock, no history, every memory ring
full, a tenth of the targets failing), and the real ``MainWindow`` over it (offscreen,
1600x1000, first target selected so the Latency tab plots 720 points). One **cycle** is what
the console does in a second when every target has a 1 s interval:

1. one new result per target, through the monitor's own ``_record`` (so the bridge's
   signals reach the table and the plot as they would live);
2. ``window.refresh()`` (the 1 s tick: ``core.status()`` and the panels);
3. the latency plot's redraw (``LatencyPlot.redraw``, normally on its coalescing timer);
4. the paint: ``processEvents()`` twice delivers the posted repaints of what changed and
   what they post in turn (one pass left a second repaint to the next step).

The window's own timers are stopped, so every cycle does exactly this. The clock moves
1 s per cycle (a success-rate slot boundary every 60 cycles, as live). Reported: wall and
process CPU per cycle (median, p95, max) and per step; ``steady`` repeats 2 and 4 with no new
result (a quiet second). ``full repaint`` (info) renders the whole window (``grab()``: every
widget paints, the opaque table viewport and plot included, which ``repaint()`` skips).
Compare runs on one machine; the issue's aim is a cycle under 16 ms. ``--json`` also writes
the medians (wall and CPU, ms) per row, for ``bench_all.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from core.gc_settle import freeze_startup_objects  # noqa: E402
from core.runtime import NetmonCore  # noqa: E402
from core.testing import FakeClock  # noqa: E402
from netmon_gui.windows.main_window import MainWindow  # noqa: E402
from tests.benchmarks.bench_status import build, result  # noqa: E402

Timing = tuple[float, float]


def timed(fn: Callable[[], object]) -> Timing:
    """(wall ms, process CPU ms) of one call."""
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return (time.perf_counter() - w0) * 1000, (time.process_time() - c0) * 1000


def medians(samples: list[Timing]) -> dict[str, float]:
    """Median wall and CPU ms of ``samples``."""
    return {"wall_ms": statistics.median(w for w, _ in samples),
            "cpu_ms": statistics.median(c for _, c in samples)}


def row(label: str, samples: list[Timing]) -> str:
    walls = sorted(w for w, _ in samples)
    cpus = [c for _, c in samples]
    p95 = walls[min(len(walls) - 1, int(len(walls) * 0.95))]
    return (f"{label:<26} {statistics.median(walls):>9.2f} {p95:>8.2f} {walls[-1]:>8.2f} "
            f"{statistics.median(cpus):>9.2f}")


@dataclass
class ConsoleCycle:
    """The real ``MainWindow`` (offscreen, 1600x1000, its own timers stopped) over a core
    built by ``bench_status.build``, and the steps of one refresh cycle, in order."""

    app: QApplication
    core: NetmonCore
    window: MainWindow
    steps: dict[str, Callable[[], object]]

    def advance(self) -> None:
        """One second passes (the next cycle's results are a second later)."""
        clock = self.core.clock
        assert isinstance(clock, FakeClock)
        clock.advance(1.0)


def console_cycle(targets: int = 50, ring: int = 720) -> ConsoleCycle:
    """The window and its cycle's steps: ``results`` (one per target, through the monitor's
    ``_record``), ``refresh``, ``plot redraw`` and ``paint`` (the posted repaints)."""
    logging.getLogger("netmon").setLevel(logging.ERROR)
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    core = build(targets, ring)
    monitor = core.monitor
    window = MainWindow(core)
    window.resize(1600, 1000)
    window.show()
    window._tick.stop()
    app.processEvents()
    freeze_startup_objects()  # as the console does once started (netmon_gui.startup)
    states = list(monitor.states.values())
    counter = [0]

    def results() -> None:
        for state in states:
            counter[0] += 1
            monitor._record(state, result(core, state.name, state.target.kind, counter[0],
                                          counter[0] % 10 == 3))

    def paint() -> None:
        window._refresh_timer.stop()  # the coalesced refresh: step 2 does it in the cycle
        window.plot._timer.stop()
        for _ in range(2):  # the posted repaints, then what they post in turn (a layout
            app.processEvents()  # request, a scene's dirty items): else the next step pays

    return ConsoleCycle(app, core, window, {
        "results": results, "refresh": window.refresh, "plot redraw": window.plot.redraw,
        "paint": paint})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument("--ring", type=int, default=720)
    parser.add_argument("--cycles", type=int, default=60)
    parser.add_argument("--json", type=Path, help="also write the medians here")
    args = parser.parse_args(argv)
    cycle = console_cycle(args.targets, args.ring)
    window, steps = cycle.window, cycle.steps
    per_step: dict[str, list[Timing]] = {k: [] for k in steps}
    cycles: list[Timing] = []
    steady: list[Timing] = []
    full: list[Timing] = []
    for i in range(args.cycles + 3):
        cycle.advance()
        parts = {k: timed(fn) for k, fn in steps.items()}
        steady_one = timed(lambda: (steps["refresh"](), steps["paint"]()))
        full_one = timed(window.grab)
        if i < 3:  # warm-up
            continue
        for k, t in parts.items():
            per_step[k].append(t)
        cycles.append((sum(t[0] for t in parts.values()), sum(t[1] for t in parts.values())))
        steady.append(steady_one)
        full.append(full_one)
    print(f"{args.targets} targets x {args.ring} results, {args.cycles} cycles; load average "
          f"{os.getloadavg()}")
    print(f"{'':<26} {'wall p50':>9} {'p95':>8} {'max':>8} {'cpu p50':>9}   (ms)")
    print(row("full cycle", cycles))
    for k, samples in per_step.items():
        print(row(f"  {k}", samples))
    print(row("steady (no new result)", steady))
    print(row("(info) full repaint", full))
    if args.json:
        args.json.write_text(json.dumps({
            "targets": args.targets, "ring": args.ring, "cycles": args.cycles,
            "load_average": os.getloadavg(), "full cycle": medians(cycles),
            **{k: medians(v) for k, v in per_step.items()}, "steady": medians(steady),
            "full repaint": medians(full)}, indent=2), encoding="utf-8")
    window._shutdown_widgets()
    return 0


if __name__ == "__main__":
    sys.exit(main())
