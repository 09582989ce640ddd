"""The console's main window: banner, targets table, and Latency / Breakers / Tokens /
Suggestions tabs over one running ``NetmonCore``."""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TypeVar

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

from core.config import Config, config_path
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
    COL_UPTIME,
    NameRole,
    SortRole,
    TargetsModel,
)
from ..widgets.badge import BadgeDelegate
from ..widgets.breakers_panel import BreakersPanel
from ..widgets.diagnose_view import DiagnoseView
from ..widgets.latency_plot import LatencyPlot
from ..widgets.status_banner import StatusBanner
from ..widgets.suggestions import SuggestionsPanel
from ..widgets.tables import make_table
from ..widgets.target_details import TargetDetails
from ..widgets.timeline import TimelineView
from ..widgets.tokens_panel import TokensPanel
from ..widgets.uptime_bar import UptimeBarDelegate, UptimeFeed
from .settings_dialog import SettingsDialog
from .targets_editor import TargetsEditor

__all__ = ["MainWindow"]

D = TypeVar("D", TargetsEditor, SettingsDialog)
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
        self.timeline = TimelineView(core.history, core.monitor.memory, self._breaker_of, self)
        self.uptime = UptimeFeed(core.history, core.monitor.memory,
                                 lambda: list(self.core.monitor.states), self)
        self.uptime.updated.connect(self.targets_model.set_uptime)
        self.breakers_model = BreakersModel(core.breakers, self)
        self.breakers_panel = BreakersPanel(self.breakers_model, self)
        self.tokens_panel = TokensPanel(core.auth, self)
        self.suggestions = SuggestionsPanel(self)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        for widget, title in ((self.plot, "Latency"), (self.breakers_panel, "Breakers"),
                              (self.tokens_panel, "Tokens"), (self.suggestions, "Suggestions")):
            self.tabs.addTab(self._padded(widget), title)
        self._suggestions_tab = self.tabs.count() - 1
        self.tabs.addTab(self._padded(self.timeline), "Timeline")
        self.diagnose_view = DiagnoseView(self)
        self.tabs.addTab(self._padded(self.diagnose_view), "Diagnose")
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
        if self.targets_model.rowCount():
            self.targets_table.selectRow(0)
        self.refresh()
        QTimer.singleShot(0, self.uptime.refresh)

    # --- building ------------------------------------------------------------------
    def _make_targets_table(self) -> QTableView:
        table = make_table(self)
        table.setObjectName("targetsTable")
        table.setModel(self.targets_proxy)
        table.setItemDelegateForColumn(COL_STATUS, BadgeDelegate(table))
        table.setItemDelegateForColumn(COL_UPTIME, UptimeBarDelegate(table))
        widths = {COL_TARGET: 112, COL_KIND: 84, COL_STATUS: 100, COL_LATENCY: 72,
                  COL_5M: 58, COL_1H: 58, COL_UPTIME: 84}
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
        self.targets_action = QAction("Targets...", self)
        self.targets_action.setToolTip("Add, edit, disable or remove targets")
        self.targets_action.triggered.connect(self.edit_targets)
        self.settings_action = QAction("Settings...", self)
        self.settings_action.triggered.connect(self.edit_settings)
        toolbar.addActions([self.targets_action, self.settings_action])
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
        for panel in (self.breakers_panel, self.tokens_panel, self.suggestions):
            panel.request.connect(self.run_action)
        self.runner.finished.connect(self._on_action_finished)
        self.runner.resultReady.connect(self._on_action_result)
        self.targets_table.doubleClicked.connect(
            lambda index: self.run_action("diagnose", index.data(NameRole)))
        self.runner.busyChanged.connect(self._on_busy)

    # --- behaviour -----------------------------------------------------------------
    def run_action(self, action: str, target: object = None) -> None:
        """Run a recovery action (from a button) on the loop, owned by the runner."""
        self.statusBar().showMessage(f"Running {action.replace('_', ' ')}...")
        if action == "diagnose":  # the result lands in the Diagnose tab
            self.tabs.setCurrentWidget(self.diagnose_view.parentWidget())
            self.diagnose_view.set_busy(f"Diagnosing {target}...")
        self.runner.run(action, target if isinstance(target, str) else None)

    def edit_targets(self) -> TargetsEditor:
        """Open the targets editor; a saved change goes to the running core."""
        return self._open_config_dialog(TargetsEditor(self.config, self._config_file(), self))

    def edit_settings(self) -> SettingsDialog:
        """Open the settings dialog; a saved change goes to the running core."""
        return self._open_config_dialog(SettingsDialog(self.config, self._config_file(), self))

    def apply_config(self, config: Config) -> None:
        """Hand a saved config to the running core and show its targets."""
        selected = self.selected_target()
        self.core.apply_config(config)
        self.config = config
        self.targets_model.reload()
        self.uptime.refresh()
        self.source_label.setText(f"Config: {config.source}")
        if selected is None or not self.select_target(selected):
            self.plot.set_target(None)
            self.details.show_target(None)
        self.refresh()

    def _config_file(self) -> Path:
        return self.config.source or config_path()

    def _open_config_dialog(self, dialog: D) -> D:
        dialog.accepted.connect(lambda: self.apply_config(dialog.saved) if dialog.saved else None)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()  # window-modal, never a nested event loop under qasync
        return dialog

    def select_target(self, name: str) -> bool:
        """Select the row of target ``name`` (the Latency tab then plots it)."""
        row = self.targets_model.row_of(name)
        if row < 0:
            return False
        index = self.targets_proxy.mapFromSource(self.targets_model.index(row, 0))
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
        """Re-read the core: banner, suggestions, breakers, tokens, success rates."""
        self.bridge.sync_breakers()
        snapshot = self.core.status()
        self.banner.update_from(snapshot)
        suggestions = snapshot["suggestions"]
        self.suggestions.set_suggestions(suggestions, str(snapshot.get("status")))
        title = f"Suggestions ({len(suggestions)})" if suggestions else "Suggestions"
        self.tabs.setTabText(self._suggestions_tab, title)
        self.breakers_model.refresh()
        self.tokens_panel.refresh()
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

    def _on_action_result(self, action: str, target: object, result: dict[str, object]) -> None:
        if action != "diagnose":
            return
        found = result.get("diagnosis")
        if result.get("ok") and isinstance(found, dict):
            self.diagnose_view.show_result(found, str(result.get("report") or ""))
        else:
            self.diagnose_view.show_failure(
                f"Diagnose {target} failed: {result.get('reason') or 'no reason given'}")

    def _on_busy(self, busy: bool) -> None:
        self.probe_action.setEnabled(not busy)
        self.breakers_panel.set_busy(busy)
        self.tokens_panel.set_busy(busy)
        self.suggestions.set_busy(busy)

    def _target_selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        name = self.selected_target()
        self.plot.set_target(name)
        self.timeline.set_target(name)
        self.details.show_target(name)

    def _breaker_of(self, name: str) -> str | None:
        state = self.core.monitor.states.get(name)
        return state.breaker if state is not None else None

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
        await self.timeline.aclose()
        await self.uptime.aclose()
        await self.diagnose_view.aclose()
        await self.runner.aclose()

    def _shutdown_widgets(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self._tick.stop()
        self._refresh_timer.stop()
        self.plot.stop()
        self.timeline.stop()
        self.uptime.stop()
        self.bridge.close()
