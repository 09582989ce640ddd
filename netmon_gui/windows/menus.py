"""The main window's commands: its toolbar, its menu bar (File, View, Actions, Help) and
their keyboard shortcuts.

View lists the tabs present when it opens, and Ctrl+1..Ctrl+9 select tabs by position, so
tabs added later get a menu entry and a shortcut without touching this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMenu, QToolBar

from core.log import log_dir
from core.version import __version__

from ..desktop import launch_demo, open_path
from ..widgets.tab_list import fill_tab_menu
from .window_modal import tell

if TYPE_CHECKING:
    from .main_window import MainWindow

__all__ = ["about_text", "build_menus", "build_toolbar"]


def about_text() -> str:
    """The About box's text: what netmon is and its version."""
    return ("<b>netmon</b> - network resilience console<br>"
            f"version {__version__}<br><br>Probes DNS, TCP, HTTP, PostgreSQL and Supabase; "
            "circuit breakers, history and recovery suggestions.<br><br>"
            f"Log folder: {log_dir()}")


def build_toolbar(window: MainWindow) -> QToolBar:
    """Add the toolbar to ``window``, making its actions (``probe_action``,
    ``backends_action``, ``pause_action``, ``targets_action``, ``settings_action``: the menus
    and the tray use them too); returns the toolbar."""
    toolbar = QToolBar("Actions", window)
    toolbar.setObjectName("mainToolbar")
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    window.probe_action = QAction("Probe all now", window)
    window.probe_action.setToolTip("Probe every target once, outside the schedule")
    window.probe_action.setShortcut("F5")
    window.probe_action.triggered.connect(lambda: window.run_action("probe_all"))
    toolbar.addAction(window.probe_action)
    toolbar.addSeparator()
    toolbar.addWidget(QLabel(" Backend: ", toolbar))
    toolbar.addWidget(window.remote.selector)
    window.backends_action = QAction("Backends...", window)
    window.backends_action.setToolTip("Add, edit or remove remote backends")
    window.backends_action.triggered.connect(window.remote.edit_backends)
    toolbar.addAction(window.backends_action)
    window.pause_action = QAction("Pause monitoring", window)
    window.pause_action.setCheckable(True)
    window.pause_action.setToolTip("Stop scheduled probes until resumed")
    window.pause_action.toggled.connect(window.set_paused)
    window.targets_action = QAction("Targets...", window)
    window.targets_action.setToolTip("Add, edit, disable or remove targets")
    window.targets_action.triggered.connect(window.edit_targets)
    window.settings_action = QAction("Settings...", window)
    window.settings_action.triggered.connect(window.edit_settings)
    toolbar.addActions([window.targets_action, window.settings_action])
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
    return toolbar


def build_menus(window: MainWindow) -> dict[str, QMenu]:
    """Add the menu bar and shortcuts to ``window``; returns the menus by title."""
    bar = window.menuBar()

    def action(menu: QMenu, text: str, slot: object, shortcut: str | None = None,
               tip: str = "") -> QAction:
        act = QAction(text, window)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    file = bar.addMenu("&File")
    action(file, "Open &config file", lambda: open_path(window.config_file),
           tip="Open the configuration file in its editor")
    action(file, "Open config &folder", lambda: open_path(window.config_file.parent))
    action(file, "Open &log folder", lambda: open_path(log_dir()))
    file.addSeparator()
    action(file, "Save support &bundle...", lambda: window.environment.ask_bundle_path(),
           tip="One redacted zip for a support engineer: status, environment, history, "
               "diagnoses, config, logs")
    action(file, "Try the &demo", launch_demo,
           tip="Start a second console probing loopback demo servers")
    file.addSeparator()
    action(file, "&Quit", window.close, "Ctrl+Q")

    view = bar.addMenu("&View")
    action(view, "&Refresh", window.refresh, "Ctrl+R", "Re-read the core now")
    action(view, "&Find target", window.focus_find, "Ctrl+F", "Filter the targets table")
    view.addSeparator()
    tab_menu = view.addMenu("&Tabs")
    tab_menu.aboutToShow.connect(lambda: fill_tab_menu(tab_menu, window.tabs))
    for position in range(9):  # Ctrl+1..9 work whatever tabs exist
        shortcut = QAction(window)
        shortcut.setShortcut(QKeySequence(f"Ctrl+{position + 1}"))
        shortcut.triggered.connect(lambda _=False, i=position: window.show_tab(i))
        window.addAction(shortcut)

    actions = bar.addMenu("&Actions")
    actions.addAction(window.probe_action)
    action(actions, "Probe &selected target", window.probe_selected, "Ctrl+P",
           "Probe the selected target once, now")
    actions.addSeparator()
    actions.addAction(window.pause_action)

    help_menu = bar.addMenu("&Help")
    action(help_menu, "Open &log folder", lambda: open_path(log_dir()))
    action(help_menu, "Open &config folder", lambda: open_path(window.config_file.parent))
    help_menu.addSeparator()
    action(help_menu, "&About netmon",
           lambda: tell(window, "About netmon", about_text()))
    return {"file": file, "view": view, "actions": actions, "help": help_menu}

