"""The console window is painted before the slow imports: the graphs (pyqtgraph, numpy) are
built just after its first paint, and nothing before it pulls in a client library."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from netmon_gui.widgets.deferred import Deferred

#: Libraries the first window must not wait for (each costs tens to hundreds of ms).
SLOW = {"pyqtgraph", "numpy", "httpx", "dns", "jwt", "asyncpg", "cryptography", "keyring"}

_CHILD = """
import asyncio, json, sys
import qasync
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

SLOW = set(sys.argv[1].split(","))
app = QApplication(sys.argv[:1])
seen = {}

def slow():
    return sorted({m.split(".")[0] for m in sys.modules} & SLOW)

from core.config import Config, DatabaseSettings, HistorySettings, Target
from core.runtime import NetmonCore
from netmon_gui.windows.main_window import MainWindow
seen["imported"] = slow()

class Watch(QObject):
    window = None
    def eventFilter(self, obj, event):
        if (event.type() == QEvent.Type.Paint and obj is self.window
                and "painted" not in seen):
            seen["painted"] = slow()
            seen["latency tab"] = self.window.plot_page.loading_text
            seen["timeline tab"] = self.window.timeline_page.loading_text
        return False

async def run():
    targets = [Target(name=f"svc-{i}", kind="tcp", host="127.0.0.1", port=9) for i in range(3)]
    targets.append(Target(name="db", kind="postgres", dsn="postgresql://app@127.0.0.1:9/app"))
    core = NetmonCore(Config(targets=targets, database=DatabaseSettings(target="db"),
                             history=HistorySettings(enabled=False)))
    window = MainWindow(core)
    seen["built"] = slow()
    watch = Watch()
    watch.window = window
    app.installEventFilter(watch)
    window.show()
    async def graphs():
        while window.plot_page.widget is None or window.timeline_page.widget is None:
            await asyncio.sleep(0.01)
    await asyncio.wait_for(graphs(), 30)
    seen["after"] = slow()
    seen["plot"] = type(window.plot_page.widget).__name__
    seen["plot target"] = window.plot.target
    seen["timeline"] = type(window.timeline_page.widget).__name__
    window.close()
    await window.aclose()
    await core.stop()

with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
    runner.run(run())
print(json.dumps(seen))
"""


def test_the_window_is_painted_before_the_graphs_and_client_libraries_load() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", _CHILD, ",".join(sorted(SLOW))],
                         capture_output=True, text=True, timeout=90, env=env, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["imported"] == []  # the window's module and the core's
    assert seen["built"] == []  # a core of TCP targets and a database, and its window
    assert seen["painted"] == []  # on screen without any of them
    # until the graphs are built their tabs say so; they never claim "no data"
    assert seen["latency tab"] == seen["timeline tab"] == "Loading graph..."
    # just after the first paint, without being asked: the real graphs
    assert {"pyqtgraph", "numpy"} <= set(seen["after"])
    assert seen["plot"] == "LatencyPlot" and seen["timeline"] == "TimelineView"
    assert seen["plot target"] == "svc-0"  # the row selected before the plot existed


def test_deferred_builds_its_widget_once_in_place_of_the_loading_text(qtbot: QtBot) -> None:
    calls: list[QWidget] = []

    def factory() -> QWidget:
        calls.append(QLabel("the graph"))
        return calls[-1]

    page = Deferred(factory, "Loading graph...", margin=10)
    qtbot.addWidget(page)
    page.show()
    assert page.loading_text == "Loading graph..." and page.widget is None and calls == []
    built = page.build()
    assert built is calls[0] and page.widget is built and page.build() is built
    assert len(calls) == 1 and page.loading_text is None
    assert built.parentWidget() is page and built.isVisible()
    assert page.layout().contentsMargins().left() == 10


def test_a_graph_that_cannot_be_built_says_so_instead_of_loading_forever(
        qtbot: QtBot) -> None:
    calls = []

    def factory() -> QWidget:
        calls.append(1)
        raise ImportError("numpy failed to load")

    page = Deferred(factory, "Loading graph...", unavailable="Graph not available")
    qtbot.addWidget(page)
    for _ in range(2):  # the first failure is the answer; the factory is not run again
        with pytest.raises(ImportError, match="numpy failed to load"):
            page.build()
    assert calls == [1] and page.widget is None
    assert page.loading_text == "Graph not available: ImportError: numpy failed to load"
