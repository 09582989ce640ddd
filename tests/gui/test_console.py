"""The console over a real NetmonCore probing real loopback HTTP servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QAbstractItemModel, QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.config import Config, HistorySettings, Target
from core.runtime import NetmonCore
from netmon_gui import fmt
from netmon_gui.colors import badge_for
from netmon_gui.models.breakers import COL_STATE
from netmon_gui.models.targets import (
    COL_ERROR,
    COL_KIND,
    COL_STATUS,
    COL_TARGET,
    COL_UPTIME,
    SortRole,
    StatusRole,
)
from netmon_gui.screenshot import SETTLE_S, capture, tab_index
from netmon_gui.widgets.latency_canvas import MIN_DOT_SPACING_PX
from netmon_gui.widgets.status_banner import StatusBanner
from netmon_gui.widgets.tokens_panel import NOT_CONFIGURED
from netmon_gui.widgets.uptime_bar import UptimeRole
from netmon_gui.windows.main_window import MainWindow
from tests.support.dns_server import DnsServer
from tests.support.http_server import HttpServer
from tests.support.running import settle, started_core


async def refused(*_: object) -> None:
    raise ConnectionRefusedError(111, "Connection refused")


@pytest.fixture
async def core(http_server: HttpServer, tmp_path: object) -> AsyncIterator[NetmonCore]:
    http_server.route("/health", body={"status": "ok"})
    http_server.route("/login", body="ok")
    http_server.route("/broken", status=500, body="boom")
    config = Config(
        targets=[
            Target(name="api", kind="http", url=http_server.url_for("/health")),
            Target(name="login", kind="http", url=http_server.url_for("/login")),
            Target(name="billing", kind="http", url=http_server.url_for("/broken")),
        ],
        history=HistorySettings(enabled=False),
    )
    async with started_core(config) as netmon:
        yield netmon


@pytest.fixture
async def window(core: NetmonCore, qtbot: QtBot) -> AsyncIterator[MainWindow]:
    win = MainWindow(core)  # closed here, not by qtbot: its teardown runs before ours
    win.show()
    await core.monitor.run_once()
    await settle()
    yield win
    win.close()
    await win.aclose()
    win.deleteLater()


async def test_targets_model_matches_the_core(window: MainWindow, core: NetmonCore) -> None:
    model = window.targets_model
    assert model.rowCount() == 3
    for row in range(model.rowCount()):
        name = model.name_at(row)
        state = core.monitor.states[name]
        status_index = model.index(row, COL_STATUS)
        assert status_index.data() == str(state.status)
        assert status_index.data(StatusRole) == str(state.status)
        color = status_index.data(Qt.ItemDataRole.BackgroundRole)
        assert color == badge_for(str(state.status)).background
    billing = model.row_of("billing")
    assert model.index(billing, COL_STATUS).data() == "degraded"  # 1 of 3 failures
    assert model.index(billing, COL_ERROR).data().startswith("http_server_error")
    tooltip = model.index(billing, COL_ERROR).data(Qt.ItemDataRole.ToolTipRole)
    assert "500" in tooltip and core.monitor.states["billing"].reason in tooltip
    assert model.index(model.row_of("api"), COL_STATUS).data() == "up"


async def test_result_updates_only_its_row(window: MainWindow, core: NetmonCore) -> None:
    changed: list[tuple[int, int]] = []
    window.targets_model.dataChanged.connect(
        lambda top, bottom, *_: changed.append((top.row(), bottom.row())))
    await core.monitor.run_once(["billing"])
    await core.monitor.run_once(["billing"])
    await settle(lambda: core.monitor.states["billing"].status == "down")
    row = window.targets_model.row_of("billing")
    assert (row, row) in changed
    row_updates = [c for c in changed if c[0] == c[1]]
    assert all(c == (row, row) for c in row_updates)
    assert window.targets_model.index(row, COL_STATUS).data() == "down"


async def test_refresh_repaints_only_the_rows_whose_snapshot_entry_changed(
        window: MainWindow, core: NetmonCore) -> None:
    """The 1 s refresh goes through the status snapshot: a result for one target repaints
    that row only (no whole-table or whole-column update), and a quiet refresh repaints
    nothing."""
    changed: list[tuple[int, int]] = []
    window.targets_model.dataChanged.connect(
        lambda top, bottom, *_: changed.append((top.row(), bottom.row())))
    window.refresh()
    changed.clear()
    window.refresh()  # nothing new
    assert changed == []
    await core.monitor.run_once(["billing"])
    await core.monitor.run_once(["billing"])  # degraded -> down: its row shows a change
    await settle(lambda: bool(changed))
    window.refresh()
    row = window.targets_model.row_of("billing")
    assert changed and all(c == (row, row) for c in changed), changed
    assert window.targets_model.index(row, COL_STATUS).data() == str(
        core.monitor.states["billing"].status)


async def test_banner_matches_core_status(window: MainWindow, core: NetmonCore) -> None:
    await settle(lambda: window.banner.status_label.text() == core.status()["status"].upper())
    assert window.banner.status_label.text() == "DEGRADED"
    assert "1 up" not in window.banner.counts_label.text()  # api and login are up
    assert "2 up" in window.banner.counts_label.text()
    await core.monitor.run_once(["billing"])
    await core.monitor.run_once(["billing"])
    await settle(lambda: window.banner.status_label.text() == "UNHEALTHY")
    assert core.status()["status"] == "unhealthy"


async def test_selecting_a_row_plots_that_target(window: MainWindow,
                                                 core: NetmonCore) -> None:
    await core.monitor.run_once()
    assert window.select_target("login")
    await settle()
    assert window.plot.target == "login"
    points, failures = window.plot.point_count()
    assert points == len(core.monitor.memory.recent("login")) == 2
    assert failures == 0
    window.select_target("billing")
    await settle()
    assert window.plot.point_count() == (0, 2)
    before = window.plot.redraws
    for _ in range(3):
        await core.monitor.run_once(["billing"])
    await settle(lambda: window.plot.point_count() == (0, 5))
    assert window.plot.redraws - before <= 2  # coalesced, not one per result


async def test_breaker_opens_and_reset_button_closes_it(window: MainWindow,
                                                        core: NetmonCore) -> None:
    breaker = core.breakers["api"]
    for _ in range(3):
        with pytest.raises(ConnectionRefusedError):
            await breaker.call(refused)
    await settle(lambda: window.breakers_model.index(0, 0).isValid())
    panel = window.breakers_panel
    assert panel.select("api")
    row = panel.table.selectionModel().selectedRows()[0].row()
    await settle(lambda: window.breakers_model.index(row, COL_STATE).data() == "open")
    assert panel.reset_selected.isEnabled()
    panel.reset_selected.click()
    await settle(lambda: not window.runner.busy)
    assert breaker.state == "closed"
    entry = core.recovery.trail[-1]
    assert (entry.action, str(entry.origin), entry.ok) == ("reset_breaker", "local", True)
    assert entry.detail["breakers"][0] == {"name": "api", "before": "open", "after": "closed"}
    await settle(lambda: window.breakers_model.index(row, COL_STATE).data() == "closed")
    assert "api open -> closed" in window.statusBar().currentMessage()


async def test_suggestion_button_resets_an_open_breaker_whose_probes_pass(
        window: MainWindow, core: NetmonCore) -> None:
    for _ in range(3):
        with pytest.raises(ConnectionRefusedError):
            await core.breakers["api"].call(refused)
    await settle(lambda: any(c.suggestion["id"] == "breaker_open_probes_ok:api"
                             for c in window.suggestions.cards))
    card = next(c for c in window.suggestions.cards
                if c.suggestion["id"] == "breaker_open_probes_ok:api")
    assert card.button is not None and "api" in card.button.text()
    assert "Suggestions (" in window.tabs.tabText(3)
    card.button.click()
    await settle(lambda: not window.runner.busy)
    assert core.breakers["api"].state == "closed"
    assert core.recovery.trail[-1].action == "reset_breaker"
    await settle(lambda: all(c.suggestion["id"] != "breaker_open_probes_ok:api"
                             for c in window.suggestions.cards))


async def test_tokens_tab_says_auth_not_configured(window: MainWindow) -> None:
    panel = window.tokens_panel
    assert not panel.configured
    assert panel.stack.currentWidget() is panel.notice
    assert NOT_CONFIGURED in panel.notice.text()
    assert not panel.clear_button.isEnabled()


async def test_probe_all_button_probes_every_target(window: MainWindow,
                                                    core: NetmonCore) -> None:
    before = {n: s.probes for n, s in core.monitor.states.items()}
    window.probe_action.trigger()
    await settle(lambda: not window.runner.busy)
    assert all(s.probes == before[n] + 1 for n, s in core.monitor.states.items())
    assert "3 targets probed" in window.statusBar().currentMessage()


async def test_window_closes_cleanly_and_core_stops(core: NetmonCore, qtbot: QtBot) -> None:
    await core.monitor.start()  # the real schedule, as the app runs it
    win = MainWindow(core)
    qtbot.addWidget(win)
    win.show()
    await core.monitor.run_once()
    await settle()
    receivers = core.monitor.result_recorded.receiver_count
    win.close()
    await win.aclose()
    assert not win.bridge.connected
    assert core.monitor.result_recorded.receiver_count == receivers - 1
    await core.stop()
    left = [t.get_name() for t in asyncio.all_tasks()
            if t.get_name().startswith(("probe:", "netmon-", "gui-action:"))]
    assert left == []


async def test_screenshot_banner_agrees_with_the_table_it_grabs(
        window: MainWindow, core: NetmonCore, tmp_path: Path) -> None:
    """The table shows each result at once, the banner on its coalesced refresh (200 ms
    later): a capture must not grab a target "down" in the table beside "0 down"."""
    state = core.monitor.states["billing"]
    failing = state.last
    assert failing is not None and not failing.ok and state.status == "degraded"

    def break_billing() -> None:  # while the capture settles, just before it grabs
        for _ in range(2):
            core.monitor._record(state, failing)

    asyncio.get_running_loop().call_later(SETTLE_S - 0.05, break_billing)
    await capture(window, window.tabs, tmp_path / "shot.png")
    row = window.targets_model.row_of("billing")
    assert window.targets_model.index(row, COL_STATUS).data() == "down"
    assert "1 down" in window.banner.counts_label.text(), window.banner.counts_label.text()


async def test_banner_shows_local_network_down_in_bold(qtbot: QtBot) -> None:
    silent = [DnsServer(host, default_behaviour="silent") for host in ("127.0.0.1", "127.0.0.2")]
    for server in silent:
        await server.start()
    config = Config(targets=[Target(name=n, kind="dns", host=f"{n}.corp.invalid",
                                    resolver="direct", system_nameservers=False,
                                    nameservers=[f"{server.address}:{server.port}"],
                                    timeout_s=0.3)
                             for n, server in zip(("api", "cdn"), silent, strict=True)],
                    history=HistorySettings(enabled=False))
    netmon = NetmonCore(config)
    await netmon.start(schedule=False)
    win = MainWindow(netmon)
    try:
        await netmon.monitor.run_once()
        await settle(lambda: win.banner.condition_label.isVisibleTo(win.banner))
        assert netmon.monitor.local_network is not None and netmon.monitor.local_network.active
        assert "<b>Local network down:</b>" in win.banner.condition_label.text()
        assert win.banner.status_label.text() == netmon.status()["status"].upper()
    finally:
        win.close()
        await win.aclose()
        win.deleteLater()
        await netmon.stop()
        for server in silent:
            await server.close()


async def _window_over(config: Config) -> tuple[NetmonCore, MainWindow]:
    netmon = NetmonCore(config)
    await netmon.start(schedule=False)
    win = MainWindow(netmon)
    win.show()
    return netmon, win


async def _close(netmon: NetmonCore, win: MainWindow) -> None:
    win.close()
    await win.aclose()
    win.deleteLater()
    await netmon.stop()


async def test_no_targets_is_a_grey_unknown_banner_not_healthy(qtbot: QtBot) -> None:
    """With zero targets the banner used to be a green HEALTHY."""
    netmon, win = await _window_over(Config(history=HistorySettings(enabled=False)))
    try:
        await settle()
        assert win.banner.status_label.text() == "UNKNOWN"
        assert win.banner.status == "unknown"
        assert badge_for(win.banner.status) == badge_for("unknown")  # grey
        assert win.banner.counts_label.text().startswith("No targets configured")
        assert win.suggestions.empty.text().startswith("No suggestions yet")
    finally:
        await _close(netmon, win)


async def test_before_the_first_results_the_banner_says_it_is_waiting(
    qtbot: QtBot, http_server: HttpServer,
) -> None:
    http_server.route("/", body="ok")
    config = Config(targets=[Target(name="api", kind="http", url=http_server.url_for("/"))],
                    history=HistorySettings(enabled=False))
    netmon, win = await _window_over(config)
    try:
        await settle()
        assert win.banner.status_label.text() == "UNKNOWN"
        assert "waiting for the first results (api)" in win.banner.counts_label.text()
        await netmon.monitor.run_once()
        await settle(lambda: win.banner.status_label.text() == "HEALTHY")
        assert win.suggestions.empty.text().startswith("No suggestions: every target is up")
    finally:
        await _close(netmon, win)


async def test_down_targets_have_suggestion_cards_naming_them(
    window: MainWindow, core: NetmonCore,
) -> None:
    """"No suggestions: nothing needs your attention" used to sit beside down targets."""
    for _ in range(3):
        await core.monitor.run_once(["billing"])
    await settle(lambda: bool(window.suggestions.cards))
    ids = [card.suggestion["id"] for card in window.suggestions.cards]
    assert "http_server_error:billing" in ids
    assert not window.suggestions.empty.isVisibleTo(window.suggestions)
    assert window.tabs.tabText(window._suggestions_tab).startswith("Suggestions (")


async def test_a_failed_recovery_action_says_failed_not_done(window: MainWindow) -> None:
    """"Reconnect database: done" used to appear for a reconnect that did nothing."""
    messages: list[str] = []
    window.runner.finished.connect(messages.append)
    task = window.runner.run("reconnect_database")
    assert task is not None
    await task
    await settle(lambda: bool(messages))
    assert messages == ["Reconnect database failed: no database layer configured "
                        "([database] target is empty)"]
    assert "failed" in window.statusBar().currentMessage()
    assert window.core.recovery.trail[-1].ok is False


def _cells(model: QAbstractItemModel, roles: tuple[int, ...]) -> dict[tuple[int, int], list[Any]]:
    return {(r, c): [model.index(r, c).data(role) for role in roles]
            for r in range(model.rowCount()) for c in range(model.columnCount())}


_PAINTED_ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.BackgroundRole,
                  Qt.ItemDataRole.ForegroundRole, SortRole, StatusRole, UptimeRole)


async def test_a_result_repaints_only_the_cells_whose_values_changed(
        window: MainWindow, core: NetmonCore) -> None:
    """A new result emits dataChanged for exactly the cells it changed (latency, rates...):
    not the whole row, never a reset or a layout change."""
    model = window.targets_model
    window.refresh()
    await settle()
    before = _cells(model, _PAINTED_ROLES)
    emitted: set[tuple[int, int]] = set()
    resets: list[str] = []
    model.dataChanged.connect(lambda top, bottom, *_: emitted.update(
        (r, c) for r in range(top.row(), bottom.row() + 1)
        for c in range(top.column(), bottom.column() + 1)))
    model.modelReset.connect(lambda: resets.append("reset"))
    model.layoutChanged.connect(lambda *_: resets.append("layout"))
    await core.monitor.run_once(["api"])
    await settle()
    window.refresh()
    after = _cells(model, _PAINTED_ROLES)
    changed = {cell for cell in before if before[cell] != after[cell]}
    row = model.row_of("api")
    assert changed and all(r == row for r, _ in changed), changed
    assert emitted == changed
    assert (row, COL_TARGET) not in emitted and (row, COL_KIND) not in emitted
    assert resets == []


async def test_nothing_new_repaints_nothing(window: MainWindow) -> None:
    """A snapshot change that the table does not show, and uptime bars equal to the last
    ones, emit no dataChanged; new bars for one target repaint that one cell."""
    model = window.targets_model
    emitted: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(lambda top, bottom, *_: emitted.append(
        (top.row(), top.column(), bottom.row(), bottom.column())))
    model.on_snapshot_changed(frozenset(core_names := [model.name_at(r)
                                                       for r in range(model.rowCount())]))
    bars = {name: [(2, 0)] * 48 for name in core_names}
    model.set_uptime(bars)
    emitted.clear()
    model.set_uptime({name: list(b) for name, b in bars.items()})
    model.on_snapshot_changed(frozenset(core_names))
    assert emitted == []
    bars["login"] = [(2, 1)] * 48
    model.set_uptime(bars)
    row = model.row_of("login")
    assert emitted == [(row, COL_UPTIME, row, COL_UPTIME)]
    assert model.index(row, COL_UPTIME).data(UptimeRole) == [(2, 1)] * 48


async def test_the_latency_plot_is_not_redrawn_while_its_tab_is_hidden(
        window: MainWindow, core: NetmonCore) -> None:
    """Results for the plotted target redraw nothing while another tab is shown; showing
    the Latency tab again draws them once."""
    assert window.select_target("api")
    await settle()
    window.tabs.setCurrentIndex(tab_index(window.tabs, "breakers"))
    before = window.plot.redraws
    await core.monitor.run_once(["api"])
    await core.monitor.run_once(["api"])
    await settle(lambda: not window.plot._timer.isActive())  # a redraw due before: spent
    assert window.plot.redraws == before
    window.show_tab(0)
    await settle()
    assert window.plot.redraws == before + 1
    assert window.plot.point_count()[0] == len(core.monitor.memory.recent("api"))


async def test_the_latency_line_has_a_dot_per_probe_only_while_they_are_apart(
        window: MainWindow, core: NetmonCore) -> None:
    assert window.select_target("api")
    await core.monitor.run_once(["api"])
    window.plot.redraw()
    assert window.plot.canvas.dots()  # a few probes: each one a dot
    width = int(window.plot.canvas.frame().plot.width())
    for _ in range(width // MIN_DOT_SPACING_PX + 1):
        await core.monitor.run_once(["api"])
    window.plot.redraw()
    assert not window.plot.canvas.dots()  # denser than one per 6 px: the line
    assert window.plot.point_count()[0] == len(core.monitor.memory.recent("api"))


async def test_the_cell_delegate_paints_what_the_stock_delegate_paints(
        window: MainWindow, core: NetmonCore) -> None:
    """The targets table's text cells are filled from the model's cell cache (one read a
    cell, through the sort proxy) and paint pixel for pixel what QStyledItemDelegate paints
    from per-role data(), selected row, failing row and a sorted order included; so do
    the cells it copies from its pixmaps (a second paint), and a cell whose value changed
    shows the new one."""
    from PySide6.QtWidgets import QStyledItemDelegate

    from netmon_gui.widgets.cell_delegate import CellDelegate

    table = window.targets_table
    ours = table.itemDelegate()
    assert isinstance(ours, CellDelegate)
    stock = QStyledItemDelegate(table)

    def stock_image() -> object:
        table.setItemDelegate(stock)
        image = table.viewport().grab().toImage()
        table.setItemDelegate(ours)
        return image

    assert window.select_target("billing")
    table.sortByColumn(COL_ERROR, Qt.SortOrder.DescendingOrder)
    model = window.targets_model
    reads: list[tuple[int, int]] = []
    model.cell = lambda row, col: reads.append((row, col)) or type(model).cell(  # type: ignore[method-assign]
        model, row, col)
    drawn = table.viewport().grab().toImage()  # drawn through the style into pixmaps
    visible = [c for c in range(model.columnCount()) if not table.isColumnHidden(c)
               and table.itemDelegateForColumn(c) is None]
    assert {(r, c) for r in range(model.rowCount()) for c in visible} <= set(reads)
    assert drawn == stock_image()
    assert ours._pixmaps
    copied = table.viewport().grab().toImage()  # the same cells: copied from the pixmaps
    assert copied == drawn
    await core.monitor.run_once(["api", "login"])  # new latencies, maybe a new status
    window.refresh()
    await settle()
    assert table.viewport().grab().toImage() == stock_image()


async def test_the_cell_delegate_follows_a_new_font_palette_and_order(
        window: MainWindow) -> None:
    """Once the table was painted (the delegate keeps per paint what the view gives every
    cell, and the proxy's index mapping until the proxy moves), a new font, a new palette
    and a new sort order each paint what QStyledItemDelegate paints."""
    from PySide6.QtGui import QColor, QFont, QPalette
    from PySide6.QtWidgets import QStyledItemDelegate

    table = window.targets_table
    ours = table.itemDelegate()
    stock = QStyledItemDelegate(table)

    def images() -> tuple[object, object]:
        mine = table.viewport().grab().toImage()
        table.setItemDelegate(stock)
        theirs = table.viewport().grab().toImage()
        table.setItemDelegate(ours)
        return mine, theirs

    before, _ = images()
    assert table.viewport().grab().toImage() == before  # copied from the pixmaps
    font = QFont(table.font())
    font.setPointSizeF(font.pointSizeF() + 3)
    font.setItalic(True)
    table.setFont(font)
    mine, theirs = images()
    assert mine == theirs and mine != before
    palette = QPalette(table.palette())
    for role, colour in ((QPalette.ColorRole.Text, "#8a2be2"), (QPalette.ColorRole.Base, "#fff3e0"),
                         (QPalette.ColorRole.AlternateBase, "#e0f7fa")):
        palette.setColor(role, QColor(colour))
    table.setPalette(palette)
    again, theirs = images()
    assert again == theirs and again != mine
    table.sortByColumn(COL_TARGET, Qt.SortOrder.DescendingOrder)
    mine, theirs = images()
    assert mine == theirs and mine != again


async def test_the_cell_delegate_keeps_the_cells_painted_most_recently(
        window: MainWindow) -> None:
    """When its pixmaps are full, the delegate drops the cell painted least recently: a
    cell repainted all along (a latency each second) stays, one painted once goes."""
    table = window.targets_table
    delegate = table.itemDelegate()
    delegate.CACHE_SIZE = 3  # type: ignore[attr-defined]  # this instance only
    delegate._pixmaps.clear()  # type: ignore[attr-defined]
    model = table.model()

    def paint(row: int, col: int) -> None:
        table.viewport().repaint(table.visualRect(model.index(row, col)))

    paint(1, 0)  # the cell that keeps being painted (row 1: the current cell, in row 0, is
    # drawn as usual when the table has the focus)
    (key, pixmap), = delegate._pixmaps.items()  # type: ignore[attr-defined]
    for col in (1, 3, 4, 5):  # four other text cells, each followed by cell (1, 0) again
        paint(1, col)
        paint(1, 0)
    assert len(delegate._pixmaps) == 3  # type: ignore[attr-defined]
    assert delegate._pixmaps.get(key) is pixmap  # type: ignore[attr-defined]  # never redrawn


async def test_refresh_after_two_results_builds_no_full_status_and_shows_what_it_would(
        window: MainWindow, core: NetmonCore, monkeypatch: pytest.MonkeyPatch) -> None:
    await settle(lambda: window.banner.status_label.text() == "DEGRADED")
    built = []
    full_status = core.status
    monkeypatch.setattr(core, "status", lambda: built.append(1) or full_status())
    for _ in range(2):  # billing (500s) goes down: banner, reason and suggestions move
        await core.monitor.run_once(["api", "billing"])
        window.refresh()
    assert built == []  # the panels were brought up to date without a full status()
    snapshot = full_status()
    expected = StatusBanner()
    expected.update_from(snapshot)
    assert window.banner.status_label.text() == expected.status_label.text() == "UNHEALTHY"
    assert window.banner.counts_label.text() == expected.counts_label.text()
    assert window.windowTitle() == fmt.window_title(snapshot)
    assert [c.suggestion["id"] for c in window.suggestions.cards] == [
        s["id"] for s in snapshot["suggestions"]]
    assert window.tabs.tabText(window._suggestions_tab) == (
        f"Suggestions ({len(snapshot['suggestions'])})")
    assert ({k: v for k, v in window._live.snapshot.items() if k != "generated_at"}
            == {k: v for k, v in snapshot.items() if k != "generated_at"})


class _PaintCount(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        self.count += event.type() == QEvent.Type.Paint
        return False


async def test_a_plot_redraw_is_painted_in_one_pass(window: MainWindow, core: NetmonCore,
                                                    qapp: QApplication) -> None:
    assert window.select_target("login")
    await settle(lambda: window.plot.point_count()[0] >= 1)
    viewport = window.plot.canvas
    paints = _PaintCount()
    viewport.installEventFilter(paints)
    try:
        for _ in range(3):
            await core.monitor.run_once(["login"])  # a new point: the time range moves on
            window.plot.redraw()
            paints.count = 0
            for _ in range(4):  # the posted repaint, then anything it posts in turn
                qapp.processEvents()
            assert paints.count == 1
    finally:
        viewport.removeEventFilter(paints)


async def test_a_result_repaints_exactly_the_cells_it_changed(
        window: MainWindow, core: NetmonCore, qtbot: QtBot) -> None:
    """The table's repainted area is the changed cells and nothing around them (a range
    signal made Qt repaint a pixel more to the right and below: the neighbouring cells, at
    ~0.1 ms each), and the cells then show the new values."""
    from datetime import UTC, datetime

    from PySide6.QtGui import QRegion

    from core.errors import ErrorKind
    from core.probes.base import ProbeResult

    model, table, proxy = window.targets_model, window.targets_table, window.targets_proxy
    monitor = core.monitor
    names = [model.name_at(0), model.name_at(1)]  # adjacent rows

    def feed(latency: float | None) -> None:
        for name in names:
            monitor._record(monitor.states[name], ProbeResult(
                name, "http", latency is not None, latency, datetime.now(UTC),
                error_kind=None if latency else ErrorKind.CONNECTION_REFUSED,
                error=None if latency else "refused"))

    feed(5.0)
    feed(5.0)
    window.refresh()
    await settle()
    table.viewport().repaint()
    painted: list[QRegion] = []

    class Regions(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint:
                painted.append(event.region())  # type: ignore[attr-defined]
            return False

    regions = Regions()
    table.viewport().installEventFilter(regions)
    before = _cells(model, _PAINTED_ROLES)
    feed(None)  # a failure: status, latency, both rates and the error move
    window.refresh()
    await settle(lambda: bool(painted))
    after = _cells(model, _PAINTED_ROLES)
    changed = {cell for cell in before if before[cell] != after[cell]}
    assert {c for _, c in changed} >= {COL_STATUS, COL_STATUS + 1, COL_STATUS + 2, COL_ERROR}
    expected = QRegion()
    for row, col in changed:
        expected = expected.united(table.visualRect(proxy.mapFromSource(model.index(row, col))))
    shown = QRegion()
    for region in painted:
        shown = shown.united(region)
    assert shown == expected, ([r.getRect() for r in shown], [r.getRect() for r in expected])
    assert [model.index(r, COL_ERROR).data() for r in (0, 1)] == [
        "connection_refused: refused"] * 2


async def test_each_failure_of_the_plotted_target_gets_a_mark(
        window: MainWindow, core: NetmonCore) -> None:
    """Every failed probe of the plotted target is a mark; a new failure is marked by the
    next redraw."""
    assert window.select_target("billing")  # answers 500: every probe fails

    def failed() -> int:
        return sum(1 for r in core.monitor.memory.recent("billing") if not r.ok)

    await core.monitor.run_once(["billing"])
    await settle()
    window.plot.redraw()
    assert window.plot.point_count()[1] == failed() >= 1
    before = failed()
    await core.monitor.run_once(["billing"])
    await settle()
    window.plot.redraw()
    assert window.plot.point_count()[1] == failed() == before + 1
