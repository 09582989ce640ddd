"""Window manners: menus and shortcuts, health in the title, remembered geometry clamped to
the screen, the first-run empty state, the Events and Log tabs, and tray notifications, over
a real core probing real loopback servers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from core.config import Config, HistorySettings, Target
from core.notify import Notice
from core.runtime import NetmonCore
from netmon_gui import fmt
from netmon_gui.bridge import LogLine
from netmon_gui.desktop import demo_command
from netmon_gui.models.targets import (
    COL_5M,
    COL_ERROR,
    COL_KIND,
    COL_LATENCY,
    COL_STATUS,
    COL_TARGET,
    COL_UPTIME,
    COLUMNS,
)
from netmon_gui.screenshot import tab_index
from netmon_gui.windows import main_window as main_window_module
from netmon_gui.windows.main_window import MainWindow
from tests.support.http_server import HttpServer
from tests.support.running import settle, started_core


@pytest.fixture
async def core(http_server: HttpServer) -> AsyncIterator[NetmonCore]:
    http_server.route("/health", body={"status": "ok"})
    http_server.route("/broken", status=500, body="boom")
    config = Config(targets=[
        Target(name="api", kind="http", url=http_server.url_for("/health")),
        Target(name="billing", kind="http", url=http_server.url_for("/broken")),
        Target(name="ledger", kind="tcp", host="127.0.0.1", port=http_server.port),
    ], history=HistorySettings(enabled=False))
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


def test_title_names_the_overall_status_and_what_is_down() -> None:
    snapshot = {"status": "degraded", "targets": [
        {"status": "down"}, {"status": "up"}, {"status": "down"}]}
    assert fmt.window_title(snapshot) == "netmon - DEGRADED (2 down)"
    snapshot = {"status": "unhealthy", "targets": [{"status": "down"}, {"status": "degraded"}]}
    assert fmt.window_title(snapshot) == "netmon - UNHEALTHY (1 down, 1 degraded)"
    assert fmt.window_title({"status": "healthy", "targets": [{"status": "up"}]}) == \
        "netmon - HEALTHY"


async def test_title_follows_the_core(window: MainWindow, core: NetmonCore) -> None:
    for _ in range(3):
        await core.monitor.run_once()
    await settle(lambda: "1 down" in window.windowTitle())
    assert window.windowTitle() == fmt.window_title(core.status())
    assert window.windowTitle().startswith(f"netmon - {core.status()['status'].upper()}")


async def test_menus_and_shortcuts(window: MainWindow) -> None:
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "View", "Actions", "Help"]
    texts = {a.text().replace("&", "") for m in window.menus.values() for a in m.actions()}
    assert {"Open config folder", "Open log folder", "Quit", "Refresh", "Find target",
            "Probe all now", "Probe selected target", "About netmon"} <= texts
    shortcuts = {a.shortcut().toString() for m in window.menus.values() for a in m.actions()}
    assert {"Ctrl+Q", "Ctrl+R", "Ctrl+F", "F5", "Ctrl+P"} <= shortcuts
    window.activateWindow()
    await settle(lambda: QGuiApplication.focusWindow() is not None)
    QTest.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == 2
    QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.find_box.hasFocus()
    QTest.keyClicks(window.find_box, "LEDG")
    assert window.targets_proxy.rowCount() == 1
    assert window.targets_proxy.index(0, 0).data() == "ledger"


async def test_probe_selected_and_pause(window: MainWindow, core: NetmonCore) -> None:
    window.select_target("ledger")
    window.probe_selected()
    await window.runner.wait_idle()
    assert core.monitor.states["ledger"].probes == 1
    assert core.monitor.states["api"].probes == 0
    window.tray.pause_action.trigger()  # the tray's Pause is the window's
    assert window.pause_action.isChecked()
    assert all(s.paused for s in core.monitor.states.values())
    window.pause_action.setChecked(False)
    assert not any(s.paused for s in core.monitor.states.values())
    assert not window.tray.pause_action.isChecked()


async def test_geometry_and_tab_are_remembered_and_clamped(
    core: NetmonCore, qtbot: QtBot, tmp_path: Path,
) -> None:
    settings = QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)
    area = QGuiApplication.primaryScreen().availableGeometry()
    first = MainWindow(core, settings)
    first.show()
    first.resize(area.width() + 900, area.height() + 700)  # e.g. saved on a larger screen
    first.move(area.left() - 2000, area.top() - 50)
    events = next(i for i in range(first.tabs.count()) if first.tabs.tabText(i) == "Events")
    first.tabs.setCurrentIndex(events)
    first.close()
    await first.aclose()
    second = MainWindow(core, settings)
    try:
        frame = second.frameGeometry()
        assert area.contains(frame), (frame, area)
        assert second.tabs.tabText(second.tabs.currentIndex()) == "Events"
    finally:
        second.close()
        await second.aclose()


async def test_empty_config_shows_where_the_file_is_and_first_steps(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    demos: list[bool] = []
    monkeypatch.setattr(main_window_module, "launch_demo", lambda: demos.append(True))
    source = tmp_path / "netmon.toml"
    source.write_text("", encoding="utf-8")
    core = NetmonCore(Config(history=HistorySettings(enabled=False), source=source))
    window = MainWindow(core)
    qtbot.addWidget(window)
    window.show()
    try:
        assert window.table_stack.currentWidget() is window.empty_state
        assert window.empty_state.isVisible()
        assert str(source) in window.empty_state.path_label.text()
        added: list[bool] = []
        window.add_target_hook = lambda: added.append(True)
        window.empty_state.add_button.click()
        window.empty_state.demo_button.click()
        assert added == [True] and demos == [True]
        assert window.windowTitle() == "netmon - UNKNOWN"  # nothing to measure: not healthy
    finally:
        window.close()
        await window.aclose()
    _program, args = demo_command()
    assert args[-1] == "--demo"


async def test_events_log_and_one_notice_per_transition(
    window: MainWindow, core: NetmonCore,
) -> None:
    for _ in range(5):  # billing: up? no, failing -> down after 3; more failures change nothing
        await core.monitor.run_once(["billing"])
    await core.monitor.run_once(["api"])
    window.run_action("reset_breaker", "billing")
    await window.runner.wait_idle()
    await settle(lambda: any(r.kind == "recovery" for r in window.events_panel.model.rows()))
    rows = window.events_panel.model.rows()
    kinds = [r.kind for r in rows]
    assert "status" in kinds and "recovery" in kinds
    recovery = next(r for r in rows if r.kind == "recovery")
    assert recovery.subject == "billing" and "by local" in recovery.detail
    notices = [r for r in rows if r.kind == "notice"]
    assert [n.change for n in notices] == ["billing is down"]  # one, at the transition
    copied = window.events_panel.copy()
    assert "billing is down" in copied
    # the log tab: live lines, filtered by level and prefix
    log = window.log_panel
    assert "NETWORK: billing" in log.shown_text()
    log.prefix.setCurrentText("RESILIENT")
    assert "NETWORK:" not in log.shown_text()
    assert "RESILIENT: recovery reset_breaker" in log.shown_text()
    log.prefix.setCurrentText("All prefixes")
    log.level.setCurrentText("Warning")
    assert all(" WARNING " in line or " ERROR " in line
               for line in log.shown_text().splitlines())
    assert "billing degraded -> down" in log.shown_text()


async def test_reminder_is_shown_through_the_tray(window: MainWindow, core: NetmonCore) -> None:
    shown: list[Notice] = []
    window.tray.noticeShown.connect(shown.append)
    for _ in range(3):
        await core.monitor.run_once(["billing"])
    await settle(lambda: bool(shown))
    assert [n.title for n in shown] == ["billing is down"]
    notices = core.notices
    notices.notifier.policy = type(notices.notifier.policy)(reminder_s=0)
    notices.remind()  # what the core's reminder task does every few seconds
    await settle(lambda: len(shown) == 2)
    assert [n.title for n in shown][-1] == "billing is still down"


def test_dark_os_scheme_gets_a_dark_palette(qtbot: QtBot) -> None:
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication, QStyleFactory

    from netmon_gui.theme import dark_palette, palette_for

    assert isinstance(QApplication.instance(), QApplication)
    platform = QStyleFactory.create("Fusion").standardPalette()  # light offscreen
    window = QPalette.ColorRole.Window
    assert platform.color(window).lightness() > 128
    assert palette_for(Qt.ColorScheme.Light, platform) is platform
    assert palette_for(Qt.ColorScheme.Unknown, platform) is platform
    dark = palette_for(Qt.ColorScheme.Dark, platform)
    assert dark.color(window).lightness() < 64
    text = dark.color(QPalette.ColorRole.Text).lightness()
    assert text - dark.color(QPalette.ColorRole.Base).lightness() > 150  # readable
    already = dark_palette()
    assert palette_for(Qt.ColorScheme.Dark, already) is already


@pytest.mark.parametrize("size", [(1024, 700), (1600, 1000)])
async def test_the_targets_table_fits_its_pane_without_a_sideways_scroll(
    window: MainWindow, size: tuple[int, int],
) -> None:
    """At 1024x700 the table used to scroll sideways (Status and the rates cut off): now the
    least needed columns step aside instead, and come back when there is room."""
    window.resize(*size)
    await settle(lambda: window.width() == size[0])
    table = window.targets_table
    await settle(lambda: table.horizontalScrollBar().maximum() == 0)
    shown = [c for c in range(len(COLUMNS)) if not table.isColumnHidden(c)]
    for needed in (COL_TARGET, COL_STATUS, COL_LATENCY, COL_5M, COL_ERROR):
        assert needed in shown, (size, [COLUMNS[c] for c in shown])
    fit = window.column_fit
    assert fit.unavailable == {COL_UPTIME}  # history is off here: no bars to draw
    assert fit.dropped == []  # room for all the others at both sizes
    total = sum(window.splitter.sizes())
    window.splitter.setSizes([360, total - 360])  # the user narrows the table's pane
    await settle(lambda: bool(fit.dropped))
    assert fit.dropped[0] == COL_KIND and table.horizontalScrollBar().maximum() == 0
    assert not table.isColumnHidden(COL_STATUS)
    window.splitter.setSizes([total - 420, 420])
    await settle(lambda: not fit.dropped)
    assert not table.isColumnHidden(COL_KIND)
    width = sum(table.columnWidth(c) for c in shown if c != COL_ERROR)
    assert width + table.columnWidth(COL_ERROR) <= table.viewport().width()
    assert window.splitter.sizes()[1] >= 380  # the tabs keep a usable width too


async def test_every_tab_is_one_click_away_in_the_tab_list(window: MainWindow) -> None:
    window.resize(1024, 700)
    await settle(lambda: window.width() == 1024)
    button = window.tabs.cornerWidget(Qt.Corner.TopRightCorner)
    assert button is not None and button.isVisible()
    menu = button.menu()
    menu.aboutToShow.emit()  # filled when opened: tabs and counts as they are now
    titles = [a.text().split("\t")[0] for a in menu.actions()]
    assert titles == [window.tabs.tabText(i) for i in range(window.tabs.count())]
    menu.actions()[-1].trigger()
    assert window.tabs.currentIndex() == window.tabs.count() - 1


async def test_long_log_lines_keep_their_start_in_view(window: MainWindow) -> None:
    """A long line used to scroll the log sideways to its end, cutting every line's time and
    level off on the left."""
    window.resize(1024, 700)
    window.show_tab(tab_index(window.tabs, "log"))
    await settle(lambda: window.log_panel.isVisible())
    panel = window.log_panel
    for n in range(3):
        panel.add(LogLine(datetime.now(UTC), logging.WARNING, "WARNING", "netmon.test",
                          f"NETWORK: line {n} " + "x" * 400))
    scroll = panel.view.horizontalScrollBar()
    assert scroll.maximum() > 0  # the lines are wider than the view
    assert scroll.value() == 0
    panel.level.setCurrentText("Warning")  # re-rendered with a filter
    assert scroll.value() == 0
    assert panel.view.toPlainText().count("NETWORK: line") == 3


async def test_a_wide_window_shows_every_tab_title(window: MainWindow) -> None:
    """At 1600 px the table took 720 px and the tab bar still scrolled ("Envir...")."""
    window.resize(1600, 1000)
    await settle(lambda: window.width() == 1600)
    bar = window.tabs.tabBar()
    await settle(lambda: bar.width() >= bar.sizeHint().width())
    last = bar.tabRect(bar.count() - 1)
    assert last.right() <= bar.width()  # the last title is whole: no scrolling needed
    assert window.splitter.sizes()[0] >= 560  # and the table keeps room for its columns
