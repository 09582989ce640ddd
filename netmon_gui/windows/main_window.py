"""The console's main window: banner, targets table, and Latency / Breakers / Tokens /
Suggestions tabs over one running ``NetmonCore``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from PySide6.QtCore import QItemSelection, QSettings, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QPaintEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.config import Config, config_path
from core.log import log_dir
from core.probes.base import ProbeResult
from core.runtime import NetmonCore

from .. import fmt
from ..actions import ActionRunner
from ..bridge import CoreBridge, LogBridge
from ..desktop import launch_demo, open_path
from ..models.breakers import BreakersModel
from ..models.targets import (
    COL_TARGET,
    COL_UPTIME,
    NameRole,
    SortRole,
    TargetsModel,
)
from ..tray import StatusTray
from ..widgets.action_log import ActionLogView
from ..widgets.breakers_panel import BreakersPanel
from ..widgets.database_panel import DatabasePanel
from ..widgets.deferred import DeferredGraph, add_tab, build_shown
from ..widgets.empty_state import EmptyState
from ..widgets.events_panel import EventsPanel
from ..widgets.log_panel import LogPanel
from ..widgets.status_banner import StatusBanner
from ..widgets.suggestions import SuggestionsPanel
from ..widgets.tab_list import TabList
from ..widgets.target_details import TargetDetails
from ..widgets.targets_table import make_targets_table
from ..widgets.tokens_panel import TokensPanel
from ..widgets.uptime_bar import UptimeFeed
from . import placement
from .menus import build_menus, build_toolbar
from .remote_view import RemoteView
from .window_modal import open_dialog

if TYPE_CHECKING:  # imported when built or opened (the graphs pull in pyqtgraph, numpy)
    from ..widgets.diagnose_view import DiagnoseView
    from ..widgets.environment_panel import EnvironmentPanel
    from ..widgets.latency_plot import LatencyPlot
    from ..widgets.timeline import TimelineView
    from .settings_dialog import SettingsDialog
    from .targets_editor import TargetsEditor

__all__ = ["MainWindow"]


D = TypeVar("D", "TargetsEditor", "SettingsDialog")
ICON = resources.files("resources").joinpath("icons/app.svg")
STYLESHEET = resources.files("resources").joinpath("netmon.qss")
REFRESH_MS = 200  # coalesced refresh after events
TICK_MS = 1000  # periodic refresh: breaker timeouts and success rates age without events
#: the parts of the status snapshot the window's panels show
_PANEL_INPUTS = frozenset(("status", "reason", "targets", "conditions", "breakers",
                           "database", "suggestions"))


class MainWindow(QMainWindow):
    """The console over ``core`` (already built; the caller starts and stops it).

    ``settings`` remembers geometry and the open tab (none: nothing is remembered).
    The graphs (Latency and Timeline tabs; pyqtgraph and numpy are slow to import) are
    built on the loop just after the window's first paint (the core starts after them, so
    their imports never delay a probe's timing), or when ``plot`` / ``timeline`` is asked
    for first; until then their tabs say "Loading graph...". The other tabs are built when
    first shown (a tab shortcut, ``--screenshot --tab`` or a click): the panels that
    refreshes and signals feed exist from the start, so they show current state when they
    join the window; Diagnose and Environment are built then, or when asked for.
    """

    closed = Signal()
    # made with the toolbar (menus.build_toolbar)
    probe_action: QAction
    backends_action: QAction
    pause_action: QAction
    targets_action: QAction
    settings_action: QAction

    def __init__(self, core: NetmonCore, settings: QSettings | None = None) -> None:
        super().__init__()
        self.core = core
        self.config = core.config
        self.settings = settings
        self.config_file = core.config.source or config_path()
        #: what "Add target" does; the targets editor replaces it (default: open the file)
        self.add_target_hook: Callable[[], object] = lambda: self.edit_targets()
        self.setWindowTitle("netmon")
        if ICON.is_file():
            self.setWindowIcon(QIcon(str(ICON)))
        self.resize(*placement.DEFAULT_SIZE)
        self.setMinimumSize(640, 420)
        self.bridge = CoreBridge(core, self)
        self.runner = ActionRunner(core.recovery, self)
        self.last_update: datetime | None = None
        self._live = core.live_status()  # the snapshot the panels show, kept up to date
        self._shut_down = False

        self.banner = StatusBanner(self)
        self.targets_model = TargetsModel(core.monitor, self)
        self.targets_proxy = QSortFilterProxyModel(self)
        self.targets_proxy.setSourceModel(self.targets_model)
        self.targets_proxy.setSortRole(SortRole)
        self.targets_table, self.column_fit = make_targets_table(
            self.targets_proxy, self.core.monitor.states, self)
        self.targets_table.selectionModel().selectionChanged.connect(self._target_selected)
        self.details = TargetDetails(core.monitor, core.breakers, self)
        self._graphs_due = False  # the build after the first paint is scheduled
        self._graphs_task: asyncio.Task[None] | None = None
        # each a tab page itself (padded like the others), the graph its only child
        self.plot_page = DeferredGraph(self._new_plot, self, margin=10)
        self.timeline_page = DeferredGraph(self._new_timeline, self, margin=10)
        self.uptime = UptimeFeed(core.history, core.monitor.memory,
                                 lambda: list(self.core.monitor.states), self)
        self.uptime.updated.connect(self.targets_model.set_uptime)
        self.breakers_model = BreakersModel(core.breakers, self)
        # The panels fed by refreshes and signals are built now (their state stays
        # current) but join the window, and are styled, when their tab is first shown.
        self.breakers_panel = BreakersPanel(self.breakers_model)
        self.tokens_panel = TokensPanel(core.auth)
        self.suggestions = SuggestionsPanel()
        self.database_panel = DatabasePanel()
        self.action_log = ActionLogView()
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        TabList(self.tabs)  # every tab one click away when the bar has no room for all
        self.tabs.addTab(self.plot_page, "Latency")
        for widget, title in ((self.breakers_panel, "Breakers"), (self.tokens_panel, "Tokens"),
                              (self.suggestions, "Suggestions")):
            add_tab(self.tabs, title, widget)
        self._suggestions_tab = self.tabs.count() - 1
        add_tab(self.tabs, "Database", self.database_panel)
        add_tab(self.tabs, "Actions", self.action_log)
        self.remote = RemoteView(self)  # remote backends shown in these same widgets
        self.events_panel = EventsPanel()
        self.log_panel = LogPanel()
        add_tab(self.tabs, "Events", self.events_panel)
        add_tab(self.tabs, "Log", self.log_panel)
        self.log_bridge = LogBridge(self)
        self.tray = StatusTray(self)
        self.find_box = QLineEdit(self)
        self.find_box.setPlaceholderText("Find target (Ctrl+F)")
        self.find_box.setClearButtonEnabled(True)
        self.find_box.textChanged.connect(self.targets_proxy.setFilterFixedString)
        self.targets_proxy.setFilterKeyColumn(COL_TARGET)
        self.targets_proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.empty_state = EmptyState(self.config_file, self.config_file.is_file(), self)
        self.table_stack = QStackedWidget(self)
        self.table_stack.addWidget(self.targets_table)
        self.table_stack.addWidget(self.empty_state)
        if not self.targets_model.rowCount():
            self.table_stack.setCurrentWidget(self.empty_state)
            self.find_box.hide()
        self.tabs.addTab(self.timeline_page, "Timeline")
        # read only when shown or asked for: built (and their modules imported) then
        self.diagnose_tab = add_tab(self.tabs, "Diagnose", self._new_diagnose)
        self.environment_page = add_tab(self.tabs, "Environment", self._new_environment)
        self.tabs.currentChanged.connect(lambda index: build_shown(self.tabs, index))
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(8)
        left_layout.addWidget(self.find_box)
        left_layout.addWidget(self.table_stack, 1)
        left_layout.addWidget(self.details)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self._user_split = False  # once the user drags the divider, their split stays
        self.splitter.splitterMoved.connect(lambda *_: setattr(self, "_user_split", True))

        body = QWidget(self)
        body.setObjectName("body")
        layout = QVBoxLayout(body)
        layout.setContentsMargins(12, 12, 12, 8)
        layout.setSpacing(10)
        layout.addWidget(self.banner)
        layout.addWidget(self.remote.strip)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(body)
        # Styled once the tree is built: each reparenting under a styled window re-polished
        # the whole subtree. The toolbar comes after, as its look (#mainToolbar) was made.
        if STYLESHEET.is_file():
            self.setStyleSheet(STYLESHEET.read_text(encoding="utf-8"))
        self.toolbar = build_toolbar(self)
        self._make_status_bar()
        self.menus = build_menus(self)
        self._connect()
        if settings is not None:
            placement.restore(self, self.tabs, settings)
        build_shown(self.tabs, self.tabs.currentIndex())

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
        if core.history is None:  # no stored day to draw: the bars would only be grey
            self.column_fit.set_available(COL_UPTIME, False)
        else:
            QTimer.singleShot(0, self.uptime.refresh)

    # --- building ------------------------------------------------------------------
    @property
    def plot(self) -> LatencyPlot:
        """The Latency tab's plot (built now if it is not yet)."""
        return cast("LatencyPlot", self.plot_page.build())

    @property
    def timeline(self) -> TimelineView:
        """The Timeline tab's view (built now if it is not yet)."""
        return cast("TimelineView", self.timeline_page.build())

    def build_graphs(self) -> None:
        """Build the Latency and Timeline graphs in their tabs (once; idempotent). Each is
        tried even when the other fails; the first failure is raised after both."""
        failures = []
        for page in (self.plot_page, self.timeline_page):
            try:
                page.build()
            except Exception as exc:  # the page says it; the caller logs it
                failures.append(exc)
        if failures:
            raise failures[0]

    def _new_plot(self) -> LatencyPlot:
        from ..widgets.latency_plot import LatencyPlot

        return LatencyPlot(self.core.monitor.memory)

    def _new_timeline(self) -> TimelineView:
        from ..widgets.timeline import TimelineView

        return TimelineView(self.core.history, self.core.monitor.memory, self._breaker_of)

    @property
    def diagnose_view(self) -> DiagnoseView:
        """The Diagnose tab's view (built now if it is not yet)."""
        return cast("DiagnoseView", self.diagnose_tab.build())

    @property
    def environment(self) -> EnvironmentPanel:
        """The Environment tab's panel (built now if it is not yet)."""
        return cast("EnvironmentPanel", self.environment_page.build())

    def _new_diagnose(self) -> DiagnoseView:
        from ..widgets.diagnose_view import DiagnoseView

        return DiagnoseView()

    def _new_environment(self) -> EnvironmentPanel:
        from ..widgets.environment_panel import EnvironmentPanel

        panel = EnvironmentPanel(lambda: self.config, self.core.status)
        panel.bundleSaved.connect(lambda text: self.statusBar().showMessage(text, 15000))
        return panel

    def _make_status_bar(self) -> None:
        source = self.config.source or "built-in defaults"
        self.source_label = QLabel(f"Config: {source}", self)
        self.updated_label = QLabel("No results yet", self)
        bar = self.statusBar()
        bar.addPermanentWidget(self.source_label)
        bar.addPermanentWidget(self.updated_label)

    def _connect(self) -> None:
        bridge = self.bridge
        bridge.resultsRecorded.connect(self._on_results)
        bridge.snapshotChanged.connect(self.targets_model.on_snapshot_changed)
        for signal in (bridge.statusChanged, bridge.conditionChanged, bridge.breakerChanged,
                       bridge.auditRecorded, bridge.authChanged):
            signal.connect(self.schedule_refresh)
        for panel in (self.breakers_panel, self.tokens_panel, self.suggestions,
                      self.database_panel):
            panel.request.connect(self.run_action)
        self.runner.finished.connect(self._on_action_finished)
        self.runner.recorded.connect(self.action_log.add)
        self.runner.resultReady.connect(self._on_action_result)
        self.targets_table.doubleClicked.connect(
            lambda index: self.run_action("diagnose", index.data(NameRole)))
        self.runner.busyChanged.connect(self._on_busy)
        for signal in (bridge.statusChanged, bridge.breakerChanged, bridge.auditRecorded,
                       bridge.conditionChanged, bridge.forwardRecorded):
            signal.connect(self.events_panel.add)
        bridge.noticePublished.connect(self.tray.show)  # decided (and forwarded) by the core
        bridge.noticePublished.connect(self.events_panel.add)
        self.tray.showRequested.connect(self.bring_to_front)
        self.tray.probeAllRequested.connect(self.probe_action.trigger)
        self.tray.pauseToggled.connect(self.pause_action.setChecked)
        self.pause_action.toggled.connect(self.tray.pause_action.setChecked)
        self.tray.quitRequested.connect(self.close)
        self.log_bridge.lineLogged.connect(self.log_panel.add)
        self.log_panel.openFolderRequested.connect(lambda: open_path(log_dir()))
        self.empty_state.addTargetRequested.connect(lambda: self.add_target_hook())
        self.empty_state.openFolderRequested.connect(
            lambda: open_path(self.config_file.parent))
        self.empty_state.demoRequested.connect(launch_demo)

    # --- behaviour -----------------------------------------------------------------
    def run_action(self, action: str, target: object = None) -> None:
        """Run a recovery action (from a button) on the loop, owned by the runner, or send
        it to the remote backend shown."""
        if self.remote.active:
            self.remote.run_action(action, target if isinstance(target, str) else None)
            return
        self.statusBar().showMessage(f"Running {action.replace('_', ' ')}...")
        if action == "diagnose":  # the result lands in the Diagnose tab
            self.tabs.setCurrentWidget(self.diagnose_tab)
            self.diagnose_view.set_busy(f"Diagnosing {target}...")
        self.runner.run(action, target if isinstance(target, str) else None)

    def probe_selected(self) -> None:
        """Probe the selected target now (nothing when none is selected)."""
        name = self.selected_target()
        if name is not None:
            self.run_action("probe_now", name)

    def set_paused(self, paused: bool) -> None:
        """Pause or resume the scheduled probes of every target."""
        for name in list(self.core.monitor.states):
            (self.core.monitor.pause if paused else self.core.monitor.resume)(name)
        self.statusBar().showMessage("Monitoring paused" if paused else "Monitoring resumed",
                                     8000)

    def show_tab(self, index: int) -> None:
        """Show tab ``index`` (ignored when there is none)."""
        if 0 <= index < self.tabs.count():
            self.tabs.setCurrentIndex(index)

    def focus_find(self) -> None:
        """Put the cursor in the targets filter."""
        self.find_box.setFocus()
        self.find_box.selectAll()

    def bring_to_front(self) -> None:
        """Show the window (from the tray), restored and active."""
        self.showNormal()
        self.raise_()
        self.activateWindow()
    def edit_targets(self) -> TargetsEditor:
        """Open the targets editor; a saved change goes to the running core."""
        from .targets_editor import TargetsEditor  # its modules when first opened

        return self._open_config_dialog(TargetsEditor(self.config, self._config_file(), self))

    def edit_settings(self) -> SettingsDialog:
        """Open the settings dialog; a saved change goes to the running core."""
        from .settings_dialog import SettingsDialog

        return self._open_config_dialog(SettingsDialog(self.config, self._config_file(), self,
                                                       self.core.forwarder))

    def apply_config(self, config: Config) -> None:
        """Hand a saved config to the running core and show its targets."""
        selected = self.selected_target()
        self.core.apply_config(config)
        self.config = config
        self.targets_model.reload()
        self.uptime.refresh()
        self.source_label.setText(f"Config: {config.source}")
        if selected is None or not self.select_target(selected):
            self.plot_page.show_target(None)
            self.details.show_target(None)
        self.refresh()

    def _config_file(self) -> Path:
        return self.config.source or config_path()

    def _open_config_dialog(self, dialog: D) -> D:
        open_dialog(dialog, lambda: self.apply_config(dialog.saved) if dialog.saved else None)
        return dialog

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
        tokens, database. The core's snapshot is kept up to date part by part
        (``LiveStatus``: no full ``status()`` per second); a panel whose part did not
        change since the last refresh is left alone (the tokens panel is always re-read);
        the targets table repaints the rows ``snapshot_changed`` names (the update emits
        it)."""
        self.bridge.sync_breakers()
        if self.remote.active:
            self._live = self.core.live_status()  # back on the core: every panel anew
            self.remote.refresh()
            return
        changed = self._live.update() & _PANEL_INPUTS
        snapshot = self._live.snapshot
        if changed - {"breakers"}:
            self.banner.update_from(snapshot)
            title = fmt.window_title(snapshot)
            self.setWindowTitle(title)
            self.tray.update_status(snapshot, title)
        if "suggestions" in changed or "status" in changed:
            suggestions = snapshot["suggestions"]
            self.suggestions.set_suggestions(suggestions, str(snapshot.get("status")))
            tab = f"Suggestions ({len(suggestions)})" if suggestions else "Suggestions"
            self.tabs.setTabText(self._suggestions_tab, tab)
        if "breakers" in changed:
            self.breakers_model.refresh()
        self.tokens_panel.refresh()  # token lifetimes age without a snapshot change
        if "database" in changed:
            self.database_panel.set_database(snapshot.get("database"))
        if changed & {"targets", "breakers"}:
            self.details.refresh()

    def _on_results(self, results: list[ProbeResult]) -> None:
        """Results recorded since the last turn of the loop (the bridge batches them): the
        table's rows, the plot and the selected target's details show them now; the other
        panels are left to the 1 s tick (a status change schedules an early refresh)."""
        model = self.targets_model
        plot = self.plot if self.plot_page.graph is not None else None  # once built, it
        selected = False  # reads the past from memory
        for result in results:
            model.on_result(result)
            if plot is not None:
                plot.on_result(result)
            selected = selected or result.target == self.details.target
        if selected:
            self.details.refresh()
        checked_at = results[-1].checked_at
        if self.last_update is None or (checked_at.replace(microsecond=0)
                                        != self.last_update.replace(microsecond=0)):
            # the label shows seconds: a burst of results in one second formats it once
            self.updated_label.setText(f"Last result {fmt.local_time(checked_at)}")
        self.last_update = checked_at

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
        self.probe_action.setEnabled(not busy and not self.remote.active)  # no endpoint
        self.breakers_panel.set_busy(busy)
        self.tokens_panel.set_busy(busy)
        self.suggestions.set_busy(busy)
        self.database_panel.set_busy(busy)

    def _target_selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        name = self.selected_target()
        if self.remote.active:  # no latency history of a remote backend here
            self.plot_page.show_target(None)
            self.details.show_row(self.remote.targets_model.row(name) if name else None)
            return
        self.plot_page.show_target(name)
        self.timeline_page.show_target(name)
        self.details.show_target(name)

    def _breaker_of(self, name: str) -> str | None:
        state = self.core.monitor.states.get(name)
        return state.breaker if state is not None else None

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        if not self._graphs_due:  # the window is on screen: now the graphs
            self._graphs_due = True
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # no asyncio loop (a bare Qt test): on Qt's next turn
                QTimer.singleShot(0, self, self.build_graphs)
            else:
                self.load_graphs()

    def load_graphs(self) -> asyncio.Task[None]:
        """The task that builds the graphs (~0.5 s with their imports, which hold the GUI
        thread: imports in a worker thread race CPython 3.11's ast state and Qt); made once
        (the first paint starts it)."""
        if self._graphs_task is None:
            self._graphs_task = asyncio.get_running_loop().create_task(
                self._load_graphs(), name="gui-graphs")
        return self._graphs_task

    async def _load_graphs(self) -> None:
        if not self._shut_down:
            self.build_graphs()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._split()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._split()

    def _split(self) -> None:
        """Until the user drags the divider, the split ``placement.split_sizes`` gives."""
        if not self._user_split:
            self.splitter.setSizes(list(placement.split_sizes(self.width(), self.tabs)))

    # --- shutdown ------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.settings is not None and not self._shut_down:
            placement.save(self, self.tabs, self.settings)
        self._shutdown_widgets()
        event.accept()
        self.closed.emit()

    async def aclose(self) -> None:
        """Stop timers, disconnect from the core, cancel running actions (idempotent)."""
        self._shutdown_widgets()
        if self._graphs_task is not None and not self._graphs_task.done():
            self._graphs_task.cancel()
            await asyncio.gather(self._graphs_task, return_exceptions=True)
        if self.timeline_page.graph is not None:
            await self.timeline.aclose()
        await self.uptime.aclose()
        if self.diagnose_tab.widget is not None:
            await self.diagnose_view.aclose()
        if self.environment_page.widget is not None:
            await self.environment.aclose()
        await self.runner.aclose()
        await self.tokens_panel.token_check.aclose()
        await self.remote.aclose()

    def _shutdown_widgets(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self._tick.stop()
        self._refresh_timer.stop()
        self.plot_page.stop()
        self.timeline_page.stop()
        self.uptime.stop()
        self.bridge.close()
        self.remote.detach()
        self.log_bridge.close()
        self.tray.close()
