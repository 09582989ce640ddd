"""What one console refresh repaints and rebuilds: only what changed."""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QObject, QPoint, QRect, Qt
from PySide6.QtGui import QImage, QPaintEvent, QRegion
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QTableView, QWidget
from pytestqt.qtbot import QtBot

from core.config import Config, HistorySettings, Target
from core.errors import ErrorKind
from core.probes.base import ProbeResult
from core.runtime import NetmonCore
from netmon_gui.widgets.cell_delegate import CellDelegate
from netmon_gui.widgets.tables import make_table
from netmon_gui.windows.main_window import MainWindow
from tests.support.http_server import HttpServer
from tests.support.running import settle, started_core


@pytest.fixture
async def core(http_server: HttpServer) -> AsyncIterator[NetmonCore]:
    http_server.route("/health", body={"status": "ok"})
    config = Config(targets=[Target(name=name, kind="http", url=http_server.url_for("/health"))
                             for name in ("api", "login", "billing")],
                    history=HistorySettings(enabled=False))
    async with started_core(config) as netmon:
        yield netmon


@pytest.fixture
async def window(core: NetmonCore, qtbot: QtBot) -> AsyncIterator[MainWindow]:
    win = MainWindow(core)
    win.resize(1280, 800)
    win.show()
    await core.monitor.run_once()
    await settle()
    win._tick.stop()  # the test says when the window refreshes
    yield win
    win.close()
    await win.aclose()
    win.deleteLater()


def feed(core: NetmonCore, name: str, latency: float | None) -> None:
    """A new result for ``name`` through the monitor's own path."""
    monitor = core.monitor
    monitor._record(monitor.states[name], ProbeResult(
        name, "http", latency is not None, latency, datetime.now(UTC),
        phases={"connect": 0.5, "total": latency or 1.0},
        error_kind=None if latency else ErrorKind.CONNECTION_REFUSED,
        error=None if latency else "refused"))


class EventLog(QObject):
    """Per widget: its paint events, the region they painted, and its layout requests."""

    def __init__(self) -> None:
        super().__init__()
        self.paints: collections.Counter[QObject] = collections.Counter()
        self.painted: dict[QObject, QRegion] = collections.defaultdict(QRegion)
        self.layouts: collections.Counter[QObject] = collections.Counter()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            assert isinstance(event, QPaintEvent)
            self.paints[watched] += 1
            self.painted[watched] += event.region()
        elif event.type() == QEvent.Type.LayoutRequest:
            self.layouts[watched] += 1
        return False


async def test_a_new_result_repaints_only_the_detail_values_whose_text_changed(
        window: MainWindow, core: NetmonCore, qapp: QApplication) -> None:
    """The details panel shows the selected target's new result by repainting the value
    labels whose text changed, once each: the window, its body, the splitter and the
    details frame are not repainted and no layout above the details panel runs again."""
    assert window.select_target("api")
    feed(core, "api", 5.0)
    window.refresh()
    await settle()
    details = window.details
    before = {name: label.text() for name, label in details.values.items()}
    window.bridge.blockSignals(True)  # the details alone take the result (the table's
    log = EventLog()  # repainted cells would repaint the window behind them)
    qapp.installEventFilter(log)
    try:
        feed(core, "api", 7.0)  # new latency (Status), one more probe (Checked), new Timings
        window.refresh()
        for _ in range(4):  # the posted repaints and layout requests, then what they post
            qapp.processEvents()
    finally:
        qapp.removeEventFilter(log)
        window.bridge.blockSignals(False)
    changed = {label for name, label in details.values.items() if label.text() != before[name]}
    assert {details.values[n] for n in ("Status", "Checked", "Timings")} <= changed
    painted = {w for w in log.paints if isinstance(w, QWidget)}
    assert painted == changed, sorted(
        f"{type(w).__name__}:{w.objectName()}" for w in painted - changed)
    assert all(log.paints[label] == 1 for label in changed), [
        log.paints[label] for label in changed]
    above = set()
    widget: QWidget | None = details.parentWidget()
    while widget is not None:
        above.add(widget)
        widget = widget.parentWidget()
    assert not above & set(log.layouts), sorted(
        f"{type(w).__name__}:{w.objectName()}" for w in above & set(log.layouts))


async def test_details_that_need_more_room_still_get_it(window: MainWindow,
                                                       core: NetmonCore) -> None:
    """A value that wraps to more lines makes the details panel taller (the layout above
    it runs when its size hints move), and one that fits again gives the room back."""
    assert window.select_target("api")
    feed(core, "api", 5.0)
    window.refresh()
    await settle()
    details = window.details
    height = details.height()
    label = details.values["Last error"]
    core.monitor.states["api"].last = ProbeResult(
        "api", "http", False, None, datetime.now(UTC), error_kind=ErrorKind.CONNECTION_REFUSED,
        error=" ".join(["the server went away while we were talking to it"] * 8))
    details.refresh()
    await settle(lambda: details.height() > height)
    assert label.height() >= 3 * label.fontMetrics().height()
    bottom = label.mapTo(details, label.rect().bottomLeft())
    assert details.rect().contains(bottom)  # the whole text is inside the panel
    feed(core, "api", 5.0)
    details.refresh()
    await settle(lambda: details.height() == height)


async def test_detail_values_hold_no_text_document_until_the_mouse_selects_in_one(
        window: MainWindow, core: NetmonCore, qapp: QApplication) -> None:
    """New values are shown without a text document per label (a selectable or focusable
    QLabel fills and lays out one for every new text); a drag over a value still selects
    its text and gives it the focus, and the selection goes with the focus as in a QLabel."""
    assert window.select_target("api")
    feed(core, "api", 5.0)
    window.refresh()
    await settle()
    details = window.details
    feed(core, "api", 7.0)
    details.refresh()
    qapp.processEvents()
    for name, value in details.values.items():
        assert value.findChild(QObject) is None, name  # no QWidgetTextControl
    value = details.values["Checked"]
    left = QPoint(1, value.height() // 2)
    QTest.mousePress(value, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, left)
    QTest.mouseMove(value, QPoint(value.width() - 1, value.height() // 2))
    QTest.mouseRelease(value, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       QPoint(value.width() - 1, value.height() // 2))
    assert value.hasSelectedText() and value.selectedText() == value.text()
    assert value.hasFocus()
    window.targets_table.setFocus(Qt.FocusReason.MouseFocusReason)
    qapp.processEvents()
    assert not value.hasSelectedText()
    assert value.findChild(QObject) is None


async def test_detail_values_measure_again_only_when_more_than_digits_changed(
        window: MainWindow, core: NetmonCore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A value keeps its size hints while a new text only changes digits (the probe count,
    the latency): the form's layout does not measure the text again. Its hints are always
    what a plain QLabel with the same text and font gives, also after a text with another
    shape (a long error) and a new font."""
    assert window.select_target("api")
    feed(core, "api", 5.0)
    window.refresh()
    await settle()
    details = window.details
    measured = collections.Counter[str]()
    for name in ("sizeHint", "minimumSizeHint", "heightForWidth"):
        def counting(self: QLabel, *args: int, _name: str = name,
                     _real: object = getattr(QLabel, name)) -> object:
            measured[_name] += 1
            return _real(self, *args)  # type: ignore[operator]
        monkeypatch.setattr(QLabel, name, counting)

    def same_as_plain_labels() -> None:
        for name, value in details.values.items():
            plain = QLabel(value.text())
            plain.setTextFormat(Qt.TextFormat.PlainText)
            plain.setWordWrap(True)
            plain.setFont(value.font())
            plain.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
            width = value.width()
            assert (value.sizeHint(), value.minimumSizeHint(), value.heightForWidth(width)) == (
                plain.sizeHint(), plain.minimumSizeHint(), plain.heightForWidth(width)), name

    feed(core, "api", 7.0)  # 5 -> 7 ms, one probe more: digits only
    details.refresh()
    await settle()
    assert not measured, measured
    same_as_plain_labels()
    measured.clear()
    core.monitor.states["api"].last = ProbeResult(
        "api", "http", False, None, datetime.now(UTC), error_kind=ErrorKind.CONNECTION_REFUSED,
        error=" ".join(["the server went away while we were talking to it"] * 8))
    details.refresh()
    await settle()
    assert measured["sizeHint"] and measured["heightForWidth"]  # the error measured anew
    same_as_plain_labels()
    font = details.font()
    font.setPointSizeF(font.pointSizeF() * 1.5)
    for value in details.values.values():
        value.setFont(font)
    same_as_plain_labels()


async def test_a_second_refresh_with_nothing_new_reads_nothing(
        window: MainWindow, core: NetmonCore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The window refreshes the details for a new result and again on its tick: the second
    time, with nothing new, they read and format nothing; a breaker that moves alone (no new
    result) is still shown."""
    assert window.select_target("api")
    feed(core, "api", 5.0)
    window.refresh()
    await settle()
    details = window.details
    reads = [0]
    real = details._read

    def counting() -> None:
        reads[0] += 1
        real()
    monkeypatch.setattr(details, "_read", counting)
    feed(core, "api", 7.0)
    details.refresh()
    assert reads[0] == 1
    details.refresh()
    assert reads[0] == 1  # nothing new: nothing read
    breaker = core.breakers["api"]
    breaker.force_open()
    details.refresh()
    assert details.values["Breaker"].text() == str(breaker.state) == "forced_open"


def _table_on_screen(window: MainWindow, qapp: QApplication, *, repaint: bool = False) -> QImage:
    """The targets table's pixels in the window's backing store (what is on screen), with
    ``repaint`` all of them painted anew first (the window does not repaint an opaque
    viewport: Qt takes its pixels as its own)."""
    table = window.targets_table
    if repaint:
        window.repaint()
        table.viewport().repaint()
    qapp.processEvents()
    at = table.mapTo(window, table.rect().topLeft())
    return window.screen().grabWindow(window.winId(), at.x(), at.y(), table.width(),
                                      table.height()).toImage()


async def test_the_targets_viewport_is_opaque_with_the_pixels_it_had(
        window: MainWindow, qapp: QApplication) -> None:
    """The style sheet's table rule turns the viewport's own background fill off (the style
    then fills it); the table turns it back on, also after a new style sheet: the table
    shows the same pixels as with the fill off, rows and the empty space below them, on a
    light and a dark palette."""
    from netmon_gui.theme import dark_palette

    viewport = window.targets_table.viewport()
    table = window.targets_table
    assert table.model().rowCount() == 3
    assert table.rowViewportPosition(2) + table.rowHeight(2) < viewport.height() - 100
    light = qapp.palette()
    try:
        for palette in (light, dark_palette()):
            qapp.setPalette(palette)
            window.setStyleSheet(window.styleSheet() + " ")  # a new sheet: polished anew
            qapp.processEvents()
            assert viewport.autoFillBackground()
            opaque = _table_on_screen(window, qapp, repaint=True)
            viewport.setAutoFillBackground(False)  # as the style sheet leaves it
            assert _table_on_screen(window, qapp, repaint=True) == opaque
            viewport.setAutoFillBackground(True)
            assert opaque.pixelColor(opaque.width() // 2, opaque.height() - 20) == (
                viewport.palette().base().color())  # below the rows: the viewport's base
    finally:
        qapp.setPalette(light)


async def test_a_changed_cell_repaints_the_viewport_not_the_widgets_behind_it(
        window: MainWindow, core: NetmonCore, qapp: QApplication) -> None:
    """A result that changes a cell of the targets table repaints the table's viewport but
    not the widgets behind it (the table, the stack, the splitter, the body, the window)
    where the table is, and the table then shows what painting it anew shows. (Elsewhere
    they may paint: the status bar's "Last result" moves on when a second turns.)"""
    assert window.select_target("api")
    window.plot.redraw()  # the graph is built (else its build after the first paint, late
    # on a busy machine, lays the window out again while this test counts paints)
    feed(core, "login", 120.0)  # the first results settle the layout (banner, graphs)
    window.refresh()
    await settle()
    table = window.targets_table
    behind = []
    widget: QWidget | None = table
    while widget is not None:
        behind.append(widget)
        widget = widget.parentWidget()
    qapp.processEvents()
    log = EventLog()
    qapp.installEventFilter(log)
    try:
        feed(core, "login", 123.0)  # not the selected target: the details stay as they are
        window.refresh()
        for _ in range(4):
            qapp.processEvents()
    finally:
        qapp.removeEventFilter(log)
    assert log.paints[table.viewport()] >= 1
    under = {w: log.painted[w] & QRect(table.mapTo(w, QPoint(0, 0)), table.size())
             for w in behind}
    assert not [w for w in behind if not under[w].isEmpty()], sorted(
        f"{type(w).__name__}:{w.objectName()} {under[w].boundingRect()}"
        for w in behind if not under[w].isEmpty())
    assert _table_on_screen(window, qapp) == _table_on_screen(window, qapp, repaint=True)


def test_after_many_cycles_every_cell_is_what_a_fresh_model_shows(qtbot: QtBot) -> None:
    """The targets model, kept up to date cycle by cycle (results, snapshots, minutes
    moving on, uptime bars), shows in every cell and role what a model built anew
    from the same state shows."""
    from core.config import MonitorSettings
    from core.testing import FakeClock
    from netmon_gui.models.targets import TargetsModel

    clock = FakeClock()
    names = [f"t{i}" for i in range(6)]
    config = Config(monitor=MonitorSettings(interval_s=1.0),
                    targets=[Target(name=n, kind="tcp", host="127.0.0.1", port=9) for n in names],
                    history=HistorySettings(enabled=False))
    netmon = NetmonCore(config, clock=clock, with_history=False, with_database=False)
    monitor = netmon.monitor
    model = TargetsModel(monitor)
    monitor.snapshot_changed.connect(model.on_snapshot_changed)
    for cycle in range(150):
        clock.advance(1.0)
        for i, name in enumerate(names[: 2 + cycle % 5]):  # some targets quiet some cycles
            ok = (cycle + i) % 7 != 3
            monitor._record(monitor.states[name], ProbeResult(
                name, "tcp", ok, 1.0 + (cycle * 37 + i) % 90 / 3 if ok else None, clock.now(),
                error_kind=None if ok else ErrorKind.CONNECTION_REFUSED,
                error=None if ok else f"refused {cycle % 3}"))
        if cycle % 4 == 0:
            monitor.update_snapshot()
        if cycle == 80:
            model.set_uptime({names[0]: [(3, 1)] * 48})
    monitor.update_snapshot()
    fresh = TargetsModel(monitor)
    fresh.set_uptime({names[0]: [(3, 1)] * 48})
    assert [[model.cell(r, c) for c in range(model.columnCount())]
            for r in range(model.rowCount())] == [
        [fresh.cell(r, c) for c in range(fresh.columnCount())] for r in range(fresh.rowCount())]


def test_each_changed_cell_is_signalled_once_with_the_roles_that_moved(qtbot: QtBot) -> None:
    """Over results that move texts (one a text alone), statuses (and so badges), errors and
    uptime bars, each update emits one ``dataChanged`` per cell whose values moved, naming
    exactly the roles that moved, and none for the others."""
    from PySide6.QtCore import Qt

    from core.config import MonitorSettings
    from core.testing import FakeClock
    from netmon_gui.models.targets import NameRole, SortRole, StatusRole, TargetsModel
    from netmon_gui.widgets.uptime_bar import UptimeRole

    role = Qt.ItemDataRole
    roles = (int(role.DisplayRole.value), SortRole, NameRole, StatusRole,  # as ``cell()``
             int(role.TextAlignmentRole.value), int(role.BackgroundRole.value),
             int(role.ForegroundRole.value), UptimeRole)
    clock = FakeClock()
    names = [f"t{i}" for i in range(5)]
    config = Config(monitor=MonitorSettings(interval_s=1.0),
                    targets=[Target(name=n, kind="tcp", host="127.0.0.1", port=9) for n in names],
                    history=HistorySettings(enabled=False))
    monitor = NetmonCore(config, clock=clock, with_history=False, with_database=False).monitor
    model = TargetsModel(monitor)
    monitor.snapshot_changed.connect(model.on_snapshot_changed)
    emitted: list[tuple[int, int, tuple[int, ...]]] = []
    model.dataChanged.connect(lambda top, bottom, moved: emitted.append(
        (top.row(), top.column(), tuple(sorted(moved)))) if top == bottom else emitted.append(
        (-1, -1, ())))

    def cells() -> list[list[tuple[object, ...]]]:
        return [[model.cell(r, c) for c in range(model.columnCount())]
                for r in range(model.rowCount())]

    statuses = set()
    for cycle in range(60):
        clock.advance(1.0)
        before = cells()
        emitted.clear()
        for i, name in enumerate(names):
            ok = (cycle // (3 + i)) % 3 != 2  # runs of failures: down, then up again
            latency = 1.0 + (cycle * 31 + i) % 50 / 7 if ok else None
            if i == 0:  # "0.0 ms" and a dash sort alike: only the text moves
                ok, latency = True, 0.0 if cycle % 2 else None
            monitor._record(monitor.states[name], ProbeResult(
                name, "tcp", ok, latency, clock.now(),
                error_kind=None if ok else ErrorKind.CONNECTION_REFUSED,
                error=None if ok else f"refused {cycle % 2}"))
        monitor.update_snapshot()
        if cycle % 9 == 4:
            model.set_uptime({n: [(4, (cycle + j) % 3)] * 48 for j, n in enumerate(names)
                              if (cycle + j) % 4})
        after = cells()
        statuses |= {row[0][3] for row in after}
        expected = sorted(
            (r, c, tuple(sorted(role for role, x, y in zip(roles, new, old, strict=True)
                                if x != y)))
            for r, (new_row, old_row) in enumerate(zip(after, before, strict=True))
            for c, (new, old) in enumerate(zip(new_row, old_row, strict=True)) if new != old)
        assert sorted(emitted) == expected, cycle
    assert {"up", "down"} <= statuses  # the badges moved too


def test_after_a_reload_changed_cells_are_signalled_at_their_new_rows(qtbot: QtBot) -> None:
    """The model keeps each cell's index for its ``dataChanged``: after the monitor's
    targets change (other names, more rows) and the model reloads, a new result is
    signalled at the row and column that show it, not at an index kept from before."""
    from core.config import MonitorSettings
    from core.testing import FakeClock
    from netmon_gui.models.targets import COL_LATENCY, TargetsModel

    def config(names: list[str]) -> Config:
        return Config(monitor=MonitorSettings(interval_s=1.0),
                      targets=[Target(name=n, kind="tcp", host="127.0.0.1", port=9)
                               for n in names], history=HistorySettings(enabled=False))

    clock = FakeClock()
    monitor = NetmonCore(config(["a", "b"]), clock=clock, with_history=False,
                         with_database=False).monitor
    model = TargetsModel(monitor)
    monitor.snapshot_changed.connect(model.on_snapshot_changed)
    emitted: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda top, bottom, _: emitted.append(
        (top.row(), top.column()) if top == bottom and top.model() is model else (-1, -1)))
    monitor.apply_config(config(["c", "b", "d", "e"]))
    model.reload()
    for latency in (5.0, 7.0):
        clock.advance(1.0)
        emitted.clear()
        monitor._record(monitor.states["e"], ProbeResult("e", "tcp", True, latency, clock.now()))
        monitor.update_snapshot()
        assert (model.row_of("e"), COL_LATENCY) in emitted
        assert {row for row, _ in emitted} == {model.row_of("e")}
        assert model.data(model.index(model.row_of("e"), COL_LATENCY)) == f"{latency:.1f} ms"


def test_rates_moving_on_with_the_clock_alone_reach_the_table(qtbot: QtBot) -> None:
    """A row's key is its target's revisions, which the clock moving on does not move:
    when the 5-minute window passes a target's results by (no new result), the snapshot
    names the row and the table shows the rate gone."""
    from core.config import MonitorSettings
    from core.testing import FakeClock
    from netmon_gui.fmt import DASH
    from netmon_gui.models.targets import COL_1H, COL_5M, TargetsModel

    clock = FakeClock()
    config = Config(monitor=MonitorSettings(interval_s=1.0),
                    targets=[Target(name="a", kind="tcp", host="127.0.0.1", port=9)],
                    history=HistorySettings(enabled=False))
    monitor = NetmonCore(config, clock=clock, with_history=False, with_database=False).monitor
    model = TargetsModel(monitor)
    monitor.snapshot_changed.connect(model.on_snapshot_changed)
    for ok in (True, False):
        clock.advance(1.0)
        monitor._record(monitor.states["a"], ProbeResult(
            "a", "tcp", ok, 3.0 if ok else None, clock.now(),
            error_kind=None if ok else ErrorKind.CONNECTION_REFUSED))
    monitor.update_snapshot()
    assert (model.cell(0, COL_5M)[0], model.cell(0, COL_1H)[0]) == ("50.0%", "50.0%")
    clock.advance(400.0)
    monitor.update_snapshot()
    assert (model.cell(0, COL_5M)[0], model.cell(0, COL_1H)[0]) == (DASH, "50.0%")


async def test_a_burst_of_results_reaches_the_window_as_one_batch(
        window: MainWindow, core: NetmonCore) -> None:
    """Results recorded in one turn of the loop cross the bridge as one signal carrying all
    of them in order (not a Qt signal and a window update per result); the table, the
    latency plot and the "Last result" label then show them."""
    assert window.select_target("login")
    batches: list[list[ProbeResult]] = []
    window.bridge.resultsRecorded.connect(batches.append)
    redraws = window.plot.redraws
    sent = []
    for latency in (3.0, 4.0, 6.0):
        for name in ("api", "login", "billing"):
            feed(core, name, latency)
            sent.append(core.monitor.states[name].last)
    await settle(lambda: bool(batches) and window.plot.redraws > redraws)
    assert batches == [sent]
    model = window.targets_model
    assert {model.cell(model.row_of(n), 3)[0] for n in ("api", "login", "billing")} == {
        "6.0 ms"}
    assert window.updated_label.text().startswith("Last result ")
    feed(core, "api", 1.0)  # recorded, not sent yet
    window.bridge.close()  # a closed bridge drops what it had not sent
    await settle()
    assert len(batches) == 1


async def test_results_that_change_no_status_leave_the_panels_to_the_tick(
        window: MainWindow, core: NetmonCore) -> None:
    """A result that changes no status schedules no early refresh of the panels (the
    1 s tick re-reads them; a burst of results no longer makes a refresh every 200 ms):
    its table row and, for the selected target, the details show it at once. A status
    change still refreshes the banner within the coalescing delay."""
    assert window.select_target("api")
    window._refresh_timer.stop()
    checked = window.details.values["Checked"]
    before = checked.text()
    feed(core, "api", 8.0)
    feed(core, "login", 8.0)
    model = window.targets_model
    await settle(lambda: model.cell(model.row_of("login"), 3)[0] == "8.0 ms")
    assert not window._refresh_timer.isActive()
    assert checked.text() != before and checked.text().endswith(
        f"{core.monitor.states['api'].probes} probes")
    feed(core, "billing", None)  # up -> down (or degraded): a status change
    await settle(lambda: window._refresh_timer.isActive())


def test_one_breaker_moving_costs_the_breakers_table_its_row_only(qtbot: QtBot) -> None:
    """A change of one breaker's counters makes the breakers model signal that breaker's
    row only, and the panel's table does not read every row again to size its columns
    (it did: 1,600 data() calls for 50 breakers on every change, shown or not); the
    columns still fit what they show."""

    from netmon_gui.models.breakers import COL_FAILURES, COL_REJECTED, COLUMNS, BreakersModel
    from netmon_gui.widgets.breakers_panel import BreakersPanel

    config = Config(targets=[Target(name=f"t{i}", kind="tcp", host="127.0.0.1", port=9)
                             for i in range(50)], history=HistorySettings(enabled=False))
    netmon = NetmonCore(config, with_history=False, with_database=False)
    reads = [0]

    class Counting(BreakersModel):
        def data(self, index: QModelIndex, role: int = 0) -> object:  # type: ignore[override]
            reads[0] += 1
            return super().data(index, role)

    model = Counting(netmon.breakers)
    panel = BreakersPanel(model)
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    qtbot.waitExposed(panel)
    for _ in range(3):  # the first paint
        QApplication.processEvents()
    changed: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(lambda a, b, *_: changed.append(
        (a.row(), a.column(), b.row(), b.column())))
    breaker = netmon.breakers["t7"]
    for _ in range(3):
        breaker.probe_failed(ErrorKind.CONNECTION_REFUSED)
    reads[0] = 0
    model.refresh()
    QApplication.processEvents()
    row = next(r for r in range(model.rowCount()) if model.name_at(r) == "t7")
    assert changed == [(row, 0, row, len(COLUMNS) - 1)]
    assert reads[0] < 200, reads[0]  # the changed row's cells repainted, not 50 rows sized
    table = panel.table
    for col in range(1, len(COLUMNS)):
        width = table.columnWidth(col)
        texts = [model.index(r, col).data() or "" for r in range(model.rowCount())]
        needed = max(table.fontMetrics().horizontalAdvance(t) for t in [*texts, COLUMNS[col]])
        assert width >= needed, (COLUMNS[col], width, needed)
    # a count runs to ten digits (a target down for months, a busy caller rejected)
    for col in (COL_FAILURES, COL_REJECTED):
        assert table.columnWidth(col) >= table.fontMetrics().horizontalAdvance("9" * 10)


async def test_the_table_copies_its_kept_cells_as_the_view_would_draw_them(
        window: MainWindow, core: NetmonCore, qapp: QApplication,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The targets table copies the cells its delegate keeps itself, in one pass per paint
    (``CellTable``: no delegate call per cell, so no proxy flags and no wrappers), and
    shows what QTableView shows with the stock delegate: a selected row, the current cell
    with the focus (drawn as usual), alternate rows, after a paint of a few cells and after
    a full one."""
    from PySide6.QtCore import QItemSelectionModel
    from PySide6.QtWidgets import QStyledItemDelegate

    from netmon_gui.models.targets import COL_LATENCY, COL_TARGET

    table, proxy = window.targets_table, window.targets_proxy
    table.setStyleSheet("QTableView { outline: 1px; }")  # the focus drawn (the console's
    # sheet has none)
    assert window.select_target("billing")  # rows api, login (alternate), billing
    window.activateWindow()
    table.setFocus()
    await settle(table.hasFocus)
    table.selectionModel().setCurrentIndex(  # the focus on a cell of another row
        proxy.index(0, COL_LATENCY), QItemSelectionModel.SelectionFlag.NoUpdate)
    for name, latency in (("api", 9.0), ("login", 11.0), ("billing", 13.0)):
        feed(core, name, latency)
    window.refresh()
    await settle()
    shown = _table_on_screen(window, qapp, repaint=True)  # every cell drawn and kept
    delegate = table.itemDelegate()
    assert isinstance(delegate, CellDelegate)
    asked: list[object] = []  # the delegate reads a cell's model index only when it paints
    monkeypatch.setattr(delegate, "_source", lambda index: asked.append(index) or (
        CellDelegate._source(delegate, index)))
    some = QRegion()
    for row in range(3):
        for col in (COL_TARGET, COL_LATENCY):
            some = some.united(table.visualRect(proxy.index(row, col)))
    table.viewport().repaint(some)
    focused = [(0, COL_LATENCY)]  # the cell with the focus is drawn as usual
    assert [(i.row(), i.column()) for i in asked] == focused  # the others: copied
    assert _table_on_screen(window, qapp) == shown
    asked.clear()
    table.viewport().repaint()
    assert [(i.row(), i.column()) for i in asked] == focused
    assert _table_on_screen(window, qapp) == shown
    table.setItemDelegate(QStyledItemDelegate(table))  # QTableView paints every cell
    try:
        assert _table_on_screen(window, qapp, repaint=True) == shown
    finally:
        table.setItemDelegate(delegate)


class _Cells(QAbstractTableModel):
    """4 x 3 cells "cell R.C" kept as a ``CellSource`` (no colors, no alignment)."""

    def rowCount(self, parent: object = QModelIndex()) -> int:  # noqa: N802
        return 4

    def columnCount(self, parent: object = QModelIndex()) -> int:  # noqa: N802
        return 3

    def cell(self, row: int, column: int) -> tuple[object, ...]:
        return (f"cell {row}.{column}", None, None, None, None, None, None)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        return self.cell(index.row(), index.column())[0] if role == 0 else None


def _cell_table(qtbot: QtBot) -> tuple[QTableView, CellDelegate]:
    """A shown, active ``make_table`` of ``_Cells`` painted by a ``CellDelegate``."""
    table = make_table()
    qtbot.addWidget(table)
    table.setModel(_Cells(table))
    delegate = CellDelegate(table)
    table.setItemDelegate(delegate)
    table.resize(400, 200)
    table.show()
    table.activateWindow()
    return table, delegate


def test_a_plain_cell_table_copies_what_the_stock_delegate_draws(qtbot: QtBot) -> None:
    """Without the console's sheet (a focus frame drawn): a ``CellTable`` whose cells come
    from a ``CellSource`` shows, copied from its pixmaps, what QTableView shows with the
    stock delegate: the current cell with the focus, a selected row, alternate rows."""
    from PySide6.QtCore import QItemSelectionModel
    from PySide6.QtWidgets import QStyledItemDelegate

    table, ours = _cell_table(qtbot)
    model = table.model()
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    table.selectRow(2)
    table.selectionModel().setCurrentIndex(model.index(1, 1),
                                           QItemSelectionModel.SelectionFlag.NoUpdate)
    drawn = table.viewport().grab().toImage()
    assert ours._pixmaps
    assert table.viewport().grab().toImage() == drawn  # copied
    table.setItemDelegate(QStyledItemDelegate(table))
    assert table.viewport().grab().toImage() == drawn
    table.clearFocus()
    assert table.viewport().grab().toImage() != drawn  # the focus frame was drawn


def test_a_cell_table_in_an_inactive_window_copies_what_the_stock_delegate_draws(
        qtbot: QtBot) -> None:
    """When another window is active, the selected row takes the palette's inactive
    highlight: the cells copied from pixmaps show it as the stock delegate does, and not
    the pixmaps kept while the window was active."""
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QStyledItemDelegate

    table, _ = _cell_table(qtbot)
    palette = table.palette()
    palette.setColor(QPalette.ColorGroup.Inactive, QPalette.ColorRole.Highlight,
                     QColor("#808000"))  # unlike the active highlight
    table.setPalette(palette)
    qtbot.waitUntil(table.isActiveWindow)
    table.selectRow(2)
    active = table.viewport().grab().toImage()
    other = QWidget()
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    qtbot.waitUntil(lambda: not table.isActiveWindow())
    inactive = table.viewport().grab().toImage()
    assert inactive != active  # the inactive highlight shows
    assert table.viewport().grab().toImage() == inactive  # copied from its pixmaps
    table.setItemDelegate(QStyledItemDelegate(table))
    assert table.viewport().grab().toImage() == inactive
