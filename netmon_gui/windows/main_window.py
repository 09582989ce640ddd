"""The console's main window: banner, targets table, and Latency / Breakers / Tokens /
Suggestions tabs over one running ``NetmonCore``."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from importlib import resources

from PySide6.QtCore import QItemSelection, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QShowEvent
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QMainWindow,
    QSplitter,
    QTableView,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from core.probes.base import ProbeResult
from core.runtime import NetmonCore

from .. import fmt
from ..actions import ActionRunner
from ..bridge import CoreBridge
from ..models.breakers import BreakersModel
from ..models.targets import (
    COL_1H,
    COL_5M,
    COL_KIND,
    COL_LATENCY,
    COL_STATUS,
    COL_TARGET,
    NameRole,
    SortRole,
    TargetsModel,
)
from ..widgets.action_log import ActionLogView
from ..widgets.badge import BadgeDelegate
from ..widgets.breakers_panel import BreakersPanel
from ..widgets.database_panel import DatabasePanel
from ..widgets.latency_plot import LatencyPlot
from ..widgets.status_banner import StatusBanner
from ..widgets.suggestions import SuggestionsPanel
from ..widgets.tables import make_table
from ..widgets.target_details import TargetDetails
from ..widgets.tokens_panel import TokensPanel
from .remote_view import RemoteView

__all__ = ["MainWindow"]

ICON = resources.files("resources").joinpath("icons/app.svg")
STYLESHEET = resources.files("resources").joinpath("netmon.qss")
REFRESH_MS = 200  # coalesced refresh after events
TICK_MS = 1000  # periodic refresh: breaker timeouts and success rates age without events


class MainWindow(QMainWindow):
    """The console over ``core`` (already built; the caller starts and stops it)."""

    def __init__(self, core: NetmonCore) -> None:
        super().__init__()
        self.core = core
        self.config = core.config
        self.setWindowTitle("netmon")
        if ICON.is_file():
            self.setWindowIcon(QIcon(str(ICON)))
        if STYLESHEET.is_file():
            self.setStyleSheet(STYLESHEET.read_text(encoding="utf-8"))
        self.resize(1200, 760)
        self.bridge = CoreBridge(core, self)
        self.runner = ActionRunner(core.recovery, self)
        self.last_update: datetime | None = None
        self._shut_down = False

        self.banner = StatusBanner(self)
        self.targets_model = TargetsModel(core.monitor, self)
        self.targets_proxy = QSortFilterProxyModel(self)
        self.targets_proxy.setSourceModel(self.targets_model)
        self.targets_proxy.setSortRole(SortRole)
        self.targets_table = self._make_targets_table()
        self.details = TargetDetails(core.monitor, core.breakers, self)
        self.plot = LatencyPlot(core.monitor.memory, self)
        self.breakers_model = BreakersModel(core.breakers, self)
        self.breakers_panel = BreakersPanel(self.breakers_model, self)
        self.tokens_panel = TokensPanel(core.auth, self)
        self.suggestions = SuggestionsPanel(self)
        self.database_panel = DatabasePanel(self)
        self.action_log = ActionLogView(self)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        for widget, title in ((self.plot, "Latency"), (self.breakers_panel, "Breakers"),
                              (self.tokens_panel, "Tokens"), (self.suggestions, "Suggestions")):
            self.tabs.addTab(self._padded(widget), title)
        self._suggestions_tab = self.tabs.count() - 1
        self.tabs.addTab(self._padded(self.database_panel), "Database")
        self.tabs.addTab(self._padded(self.action_log), "Actions")
        self.remote = RemoteView(self)  # remote backends shown in these same widgets
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(8)
        left_layout.addWidget(self.targets_table, 1)
        left_layout.addWidget(self.details)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self._sized = False

        body = QWidget(self)
        body.setObjectName("body")
        layout = QVBoxLayout(body)
        layout.setContentsMargins(12, 12, 12, 8)
        layout.setSpacing(10)
        layout.addWidget(self.banner)
        layout.addWidget(self.remote.strip)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(body)
        self._make_toolbar()
        self._make_status_bar()
        self._connect()

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self.refresh)
        self._tick.start()
        with contextlib.suppress(RuntimeError):  # no running loop: nothing polls
            asyncio.get_running_loop()
            self.remote.start()
        if self.targets_model.rowCount():
            self.targets_table.selectRow(0)
        self.refresh()

    # --- building ------------------------------------------------------------------
    def _make_targets_table(self) -> QTableView:
        table = make_table(self)
        table.setObjectName("targetsTable")
        table.setModel(self.targets_proxy)
        table.setItemDelegateForColumn(COL_STATUS, BadgeDelegate(table))
        widths = {COL_TARGET: 112, COL_KIND: 84, COL_STATUS: 100, COL_LATENCY: 72,
                  COL_5M: 58, COL_1H: 58}
        for col, width in widths.items():
            table.setColumnWidth(col, width)
        table.horizontalHeader().setSectionResizeMode(COL_STATUS, QHeaderView.ResizeMode.Fixed)
        table.setSortingEnabled(True)
        table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # config order until clicked
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        table.selectionModel().selectionChanged.connect(self._target_selected)
        return table

    @staticmethod
    def _padded(widget: QWidget) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addWidget(widget)
        return page

    def _make_toolbar(self) -> None:
        toolbar = QToolBar("Actions", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.probe_action = QAction("Probe all now", self)
        self.probe_action.setToolTip("Probe every target once, outside the schedule")
        self.probe_action.setShortcut("F5")
        self.probe_action.triggered.connect(lambda: self.run_action("probe_all"))
        toolbar.addAction(self.probe_action)
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Backend: ", toolbar))
        toolbar.addWidget(self.remote.selector)
        self.backends_action = QAction("Backends...", self)
        self.backends_action.setToolTip("Add, edit or remove remote backends")
        self.backends_action.triggered.connect(self.remote.edit_backends)
        toolbar.addAction(self.backends_action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar

    def _make_status_bar(self) -> None:
        source = self.config.source or "built-in defaults"
        self.source_label = QLabel(f"Config: {source}", self)
        self.updated_label = QLabel("No results yet", self)
        bar = self.statusBar()
        bar.addPermanentWidget(self.source_label)
        bar.addPermanentWidget(self.updated_label)

    def _connect(self) -> None:
        bridge = self.bridge
        bridge.resultRecorded.connect(self._on_result)
        for signal in (bridge.statusChanged, bridge.conditionChanged, bridge.breakerChanged,
                       bridge.auditRecorded, bridge.authChanged):
            signal.connect(self.schedule_refresh)
        for panel in (self.breakers_panel, self.tokens_panel, self.suggestions,
                      self.database_panel):
            panel.request.connect(self.run_action)
        self.runner.finished.connect(self._on_action_finished)
        self.runner.recorded.connect(self.action_log.add)
        self.runner.busyChanged.connect(self._on_busy)

    # --- behaviour -----------------------------------------------------------------
    def run_action(self, action: str, target: object = None) -> None:
        """Run a recovery action (from a button) on the loop, owned by the runner, or send
        it to the remote backend shown."""
        if self.remote.active:
            self.remote.run_action(action, target if isinstance(target, str) else None)
            return
        self.statusBar().showMessage(f"Running {action.replace('_', ' ')}...")
        self.runner.run(action, target if isinstance(target, str) else None)

    def select_target(self, name: str) -> bool:
        """Select the row of target ``name`` (the Latency tab then plots it)."""
        model = self.remote.targets_model if self.remote.active else self.targets_model
        row = model.row_of(name)
        if row < 0:
            return False
        index = self.targets_proxy.mapFromSource(model.index(row, 0))
        self.targets_table.selectRow(index.row())
        return True

    def selected_target(self) -> str | None:
        """The name of the selected target, if any."""
        rows = self.targets_table.selectionModel().selectedRows()
        return str(rows[0].data(NameRole)) if rows else None

    def schedule_refresh(self, *_: object) -> None:
        """Refresh within ``REFRESH_MS`` (bursts of events make one refresh)."""
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def refresh(self) -> None:
        """Re-read the core (or the remote backend shown): banner, suggestions, breakers,
        tokens, database, success rates."""
        self.bridge.sync_breakers()
        if self.remote.active:
            self.remote.refresh()
            return
        snapshot = self.core.status()
        self.banner.update_from(snapshot)
        suggestions = snapshot["suggestions"]
        self.suggestions.set_suggestions(suggestions, str(snapshot.get("status")))
        title = f"Suggestions ({len(suggestions)})" if suggestions else "Suggestions"
        self.tabs.setTabText(self._suggestions_tab, title)
        self.breakers_model.refresh()
        self.tokens_panel.refresh()
        self.database_panel.set_database(snapshot.get("database"))
        self.targets_model.refresh_rates()
        self.details.refresh()

    def _on_result(self, result: ProbeResult) -> None:
        self.targets_model.on_result(result)
        self.plot.on_result(result)
        self.last_update = result.checked_at
        self.updated_label.setText(f"Last result {fmt.local_time(result.checked_at)}")
        self.schedule_refresh()

    def _on_action_finished(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)
        self.refresh()

    def _on_busy(self, busy: bool) -> None:
        self.probe_action.setEnabled(not busy and not self.remote.active)  # no endpoint
        self.breakers_panel.set_busy(busy)
        self.tokens_panel.set_busy(busy)
        self.suggestions.set_busy(busy)
        self.database_panel.set_busy(busy)

    def _target_selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        name = self.selected_target()
        if self.remote.active:  # no latency history of a remote backend here
            self.plot.set_target(None)
            self.details.show_row(self.remote.targets_model.row(name) if name else None)
            return
        self.plot.set_target(name)
        self.details.show_target(name)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._sized:  # the table gets room for all its columns, the tabs the rest
            self._sized = True
            total = max(self.width() - 32, 600)
            left = min(720, int(total * 0.53))
            self.splitter.setSizes([left, total - left])

    # --- shutdown ------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self._shutdown_widgets()
        event.accept()

    async def aclose(self) -> None:
        """Stop timers, disconnect from the core, cancel running actions (idempotent)."""
        self._shutdown_widgets()
        await self.runner.aclose()
        await self.tokens_panel.token_check.aclose()
        await self.remote.aclose()

    def _shutdown_widgets(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self._tick.stop()
        self._refresh_timer.stop()
        self.plot.stop()
        self.bridge.close()
        self.remote.detach()
