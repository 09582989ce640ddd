#!/usr/bin/env python
"""What a status change costs the Suggestions panel: ``set_suggestions`` with 10 cards.

Run:  QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_suggestions.py
      [--baseline OLD_suggestions.py] [--rounds 4]

Scenarios, each alternating two lists of 10 suggestions (the second is what a status change
makes): ``flip`` (one turns critical and moves first), ``detail`` (one detail text changes),
``build`` (none -> 10). ``hidden``: a panel that never joined a window (a lazy tab);
``shown``: under the console's style sheet, 1280x800. Reported: process CPU of the call, and
of the call plus the events it posts (layout, deletions, paint), median ms. With
``--baseline`` (a copy of an older ``netmon_gui/widgets/suggestions.py``) both run paired,
alternating, in this process.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget  # noqa: E402

from netmon_gui.widgets import suggestions as current  # noqa: E402
from netmon_gui.windows.main_window import STYLESHEET  # noqa: E402

Lists = Callable[[int], list[dict[str, Any]]]


def suggestion(i: int, severity: str = "warning", n: int = 0) -> dict[str, Any]:
    """A target suggestion shaped as ``core.recovery.target_suggestion`` makes them."""
    return {"id": f"connection_refused:t{i}", "severity": severity,
            "title": f"t{i}: connection refused at db{i}.example.internal:5432",
            "detail": f"Seen: [Errno 111] Connection refused (#{n}). Nothing listens on the "
                      "port; check the service is running and the firewall. Circuit 'db' is "
                      f"open, retries at 2026-11-29T15:4{n % 10}:00Z.",
            "action": "probe_now" if i % 3 else "reset_breaker", "target": f"t{i}"}


def ten(_: int) -> list[dict[str, Any]]:
    return [suggestion(i) for i in range(10)]


def flipped(n: int) -> list[dict[str, Any]]:
    out = ten(n)
    out[3] = suggestion(3, "critical", n + 1)
    return sorted(out, key=lambda s: s["severity"] != "critical")


def detail(n: int) -> list[dict[str, Any]]:
    out = ten(n)
    out[5] = suggestion(5, "warning", n + 1)
    return out


SCENARIOS: dict[str, tuple[Lists, Lists]] = {
    "flip": (ten, flipped), "detail": (ten, detail), "build": (lambda _: [], ten)}


def settle(app: QApplication) -> None:
    app.processEvents()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()


def run(module: ModuleType, shown: bool, lists: tuple[Lists, Lists], rounds: int
        ) -> tuple[list[float], list[float]]:
    """CPU ms of each call, and of each call plus what it posts."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    host = QWidget()
    host.setStyleSheet(STYLESHEET.read_text(encoding="utf-8"))
    host.resize(1280, 800)
    panel = module.SuggestionsPanel()
    if shown:
        QVBoxLayout(host).addWidget(panel)
        host.show()
    call, total = [], []
    for n in range(rounds):
        for make in lists:
            shown_list = make(n)
            c0 = time.process_time()
            panel.set_suggestions(shown_list, "unhealthy")
            c1 = time.process_time()
            settle(app)
            c2 = time.process_time()
            call.append((c1 - c0) * 1000)
            total.append((c2 - c0) * 1000)
    host.close()
    panel.deleteLater()
    host.deleteLater()
    settle(app)
    return call, total


def load(path: str) -> ModuleType:
    """An older copy of the widget module, imported as a package member."""
    spec = importlib.util.spec_from_file_location("netmon_gui.widgets._baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="an older suggestions.py to compare with")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    QApplication.instance() or QApplication([])
    modules = {"current": current}
    if args.baseline:
        modules = {"baseline": load(args.baseline), **modules}
    print(f"load average {os.getloadavg()}; CPU ms, median of {args.rounds * 2 * 3} calls")
    for name, lists in SCENARIOS.items():
        for shown in (False, True):
            samples: dict[str, tuple[list[float], list[float]]] = {
                m: ([], []) for m in modules}
            for _ in range(3):
                for label, module in modules.items():
                    call, total = run(module, shown, lists, args.rounds)
                    samples[label][0].extend(call)
                    samples[label][1].extend(total)
            cells = "  ".join(
                f"{label} call {statistics.median(c):6.2f} +posted {statistics.median(t):6.2f}"
                for label, (c, t) in samples.items())
            print(f"{name:7s}{'shown' if shown else 'hidden':7s} {cells}")


if __name__ == "__main__":
    main()
