"""Window geometry and open tab remembered in QSettings, always clamped to a screen, and
the default split between the targets table and the tabs."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRect, QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow, QTabWidget

from ..screenshot import tab_index, tab_names

__all__ = ["DEFAULT_SIZE", "clamp_to_screen", "restore", "save", "split_sizes"]

DEFAULT_SIZE = (1200, 760)
_GEOMETRY = "window/geometry"
_TAB = "window/tab"


def available() -> QRect:
    """The primary screen's available area (without task bar)."""
    screen = QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1024, 700)


def clamp_to_screen(window: QMainWindow, area: QRect | None = None) -> None:
    """Shrink ``window`` to fit ``area`` (default: the screen it is on) and move it inside."""
    screen = window.screen()
    area = area or (screen.availableGeometry() if screen is not None else available())
    frame = window.frameGeometry()
    extra_w, extra_h = frame.width() - window.width(), frame.height() - window.height()
    width = min(window.width(), area.width() - extra_w)
    height = min(window.height(), area.height() - extra_h)
    if (width, height) != (window.width(), window.height()):
        window.resize(max(width, window.minimumWidth()), max(height, window.minimumHeight()))
    frame = window.frameGeometry()
    x = min(max(frame.x(), area.left()), area.right() + 1 - frame.width())
    y = min(max(frame.y(), area.top()), area.bottom() + 1 - frame.height())
    if (x, y) != (frame.x(), frame.y()):
        window.move(max(x, area.left()), max(y, area.top()))


def restore(window: QMainWindow, tabs: QTabWidget, settings: QSettings) -> None:
    """Restore the saved geometry (or the default size) clamped to the screen, and the tab."""
    geometry = settings.value(_GEOMETRY)
    if not (isinstance(geometry, QByteArray) and window.restoreGeometry(geometry)):
        window.resize(*DEFAULT_SIZE)
    clamp_to_screen(window)
    tab = settings.value(_TAB)
    if isinstance(tab, str) and (index := tab_index(tabs, tab)) >= 0:
        tabs.setCurrentIndex(index)


def save(window: QMainWindow, tabs: QTabWidget, settings: QSettings) -> None:
    """Remember the geometry and the open tab (by name: positions change as tabs come)."""
    settings.setValue(_GEOMETRY, window.saveGeometry())
    names = tab_names(tabs)
    if 0 <= tabs.currentIndex() < len(names):
        settings.setValue(_TAB, names[tabs.currentIndex()])
    settings.sync()


def split_sizes(window_width: int, tabs: QTabWidget) -> tuple[int, int]:
    """(table, tabs) widths for a window ``window_width`` px wide: the tabs get room for
    every tab's title when the table can still have 560 px (its columns); the table gets at
    most 720 px and the tabs at least 400 px."""
    total = max(window_width - 32, 600)
    corner = tabs.cornerWidget()
    bar = tabs.tabBar()
    # room too for a count in a title ("Suggestions (12)") and the open tab's bold
    reserve = bar.fontMetrics().horizontalAdvance(" (99)") + 24
    all_tabs = bar.sizeHint().width() + reserve + (
        corner.sizeHint().width() if corner is not None else 0)
    left = min(720, max(total - all_tabs, min(560, total - 400)))
    return left, total - left
