"""Hidden tabs are built on first show: the first paint waits for the visible ones only,
and a tab opened later shows the same, current content (refreshes, events, shortcuts and
``--screenshot --tab`` included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from core.config import Config, HistorySettings, Target
from core.runtime import NetmonCore
from netmon_gui.models.breakers import COL_STATE
from netmon_gui.screenshot import capture, tab_index, tab_names
from netmon_gui.widgets.deferred import Deferred, DeferredGraph
from netmon_gui.windows.main_window import MainWindow
from tests.support.http_server import HttpServer
from tests.support.running import settle, started_core

#: modules only a hidden tab or a dialog needs: imported when it is first shown or opened
LATER = ["netmon_gui.widgets.diagnose_view", "netmon_gui.widgets.environment_panel",
         "netmon_gui.windows.settings_dialog", "netmon_gui.windows.targets_editor"]

_CHILD = """
import asyncio, json, sys
import qasync
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from core.config import Config, HistorySettings, Target
from core.runtime import NetmonCore
from netmon_gui.windows.main_window import MainWindow
later = sys.argv[1].split(",")
seen = {}
async def run():
    core = NetmonCore(Config(targets=[Target(name="a", kind="tcp", host="127.0.0.1", port=9)],
                             history=HistorySettings(enabled=False)))
    window = MainWindow(core)
    window.show()
    seen["built"] = [m for m in later if m in sys.modules]
    window.show_tab(window.tabs.indexOf(window.diagnose_tab))
    seen["diagnose shown"] = [m for m in later if m in sys.modules]
    window.close()
    await window.aclose()
with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
    runner.run(run())
print(json.dumps(seen))
"""

TABS = ["latency", "breakers", "tokens", "suggestions", "database", "actions", "events",
        "log", "timeline", "diagnose", "environment"]


@pytest.fixture
async def core(http_server: HttpServer) -> AsyncIterator[NetmonCore]:
    http_server.route("/health", body={"status": "ok"})
    http_server.route("/broken", status=500, body="boom")
    config = Config(
        targets=[Target(name="api", kind="http", url=http_server.url_for("/health")),
                 Target(name="billing", kind="http", url=http_server.url_for("/broken"))],
        history=HistorySettings(enabled=False),
    )
    async with started_core(config) as netmon:
        yield netmon


@pytest.fixture
async def window(core: NetmonCore, qtbot: QtBot) -> AsyncIterator[MainWindow]:
    win = MainWindow(core)
    win.show()
    await settle()
    yield win
    win.close()
    await win.aclose()
    win.deleteLater()


def page(window: MainWindow, name: str) -> Deferred:
    found = window.tabs.widget(tab_index(window.tabs, name))
    assert isinstance(found, Deferred)
    return found


def lazy(name: str) -> bool:
    return name not in ("latency", "timeline")  # the graphs: built after the first paint


def test_modules_only_hidden_tabs_or_dialogs_need_are_imported_when_first_needed() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", _CHILD, ",".join(LATER)], capture_output=True,
                         text=True, timeout=60, env=env, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["built"] == []
    assert seen["diagnose shown"] == ["netmon_gui.widgets.diagnose_view"]


async def test_only_the_shown_tab_is_built_and_each_other_joins_the_window_when_shown(
        window: MainWindow) -> None:
    assert tab_names(window.tabs) == TABS
    assert window.tabs.currentIndex() == 0
    for name in filter(lazy, TABS):
        assert page(window, name).widget is None, name
    for panel in (window.breakers_panel, window.tokens_panel, window.suggestions,
                  window.database_panel, window.action_log, window.events_panel,
                  window.log_panel):
        assert panel.parentWidget() is None  # built (kept current), not yet in the window
    for index, name in enumerate(TABS):
        window.tabs.setCurrentIndex(index)
        built = page(window, name).widget
        assert built is not None and built.isVisible() and built.window() is window, name
        assert not isinstance(page(window, name), DeferredGraph) or lazy(name) is False


async def test_a_panel_refreshed_before_its_tab_is_shown_shows_the_current_state_when_shown(
        window: MainWindow, core: NetmonCore) -> None:
    for _ in range(3):  # three failures in a row: billing is down (an event)
        await core.monitor.run_once(["billing"])
    breaker = core.monitor.states["billing"].breaker
    core.breakers[breaker].force_open()
    window.refresh()  # the Breakers and Events tabs were never shown
    await settle()
    assert page(window, "breakers").widget is None
    window.tabs.setCurrentIndex(tab_index(window.tabs, "breakers"))
    table = window.breakers_panel.table
    states = {table.model().index(r, 0).data(): table.model().index(r, COL_STATE).data()
              for r in range(table.model().rowCount())}
    assert states[breaker] == "forced_open" and table.isVisible()
    window.tabs.setCurrentIndex(tab_index(window.tabs, "events"))
    rows = window.events_panel.model.rows()
    assert any("billing" in row.as_text() and "down" in row.as_text() for row in rows)
    assert window.events_panel.count_label.text() == f"{len(rows)} events (newest first)"


async def test_diagnose_before_its_tab_was_shown_builds_it_and_shows_the_run(
        window: MainWindow) -> None:
    assert window.diagnose_tab.widget is None
    window.run_action("diagnose", "api")
    assert window.tabs.currentWidget() is window.diagnose_tab
    assert window.diagnose_tab.widget is window.diagnose_view
    assert window.diagnose_view.verdict.text() == "Diagnosing api..."
    await window.runner.wait_idle()


async def test_tab_shortcuts_work_before_the_tab_was_ever_shown(window: MainWindow) -> None:
    window.activateWindow()
    await settle(lambda: QGuiApplication.focusWindow() is not None)
    assert page(window, "events").widget is None
    QTest.keyClick(window, Qt.Key.Key_7, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == TABS.index("events")
    assert page(window, "events").widget is window.events_panel
    assert window.events_panel.isVisible()


@pytest.mark.parametrize("name", TABS)
async def test_a_screenshot_of_any_tab_shows_that_tab_built(
        window: MainWindow, tmp_path: Path, name: str) -> None:
    shot = tmp_path / f"{name}.png"
    await capture(window, window.tabs, shot, name)
    assert shot.stat().st_size > 0
    assert window.tabs.currentIndex() == TABS.index(name)
    built = page(window, name).widget
    assert built is not None and built.isVisible()
