"""The tray icon (coloured by overall status, with Show / Probe all / Pause / Quit) and the
notifications it shows. What deserves a notification is decided in the core
(``core.notify``, published by ``core.notice_feed``); the tray only shows it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from core.notify import Notice

from .colors import badge_for

__all__ = ["StatusTray", "status_icon"]

_ICON_PX = 64
_ICONS = {"critical": QSystemTrayIcon.MessageIcon.Critical,
          "warning": QSystemTrayIcon.MessageIcon.Warning}


def status_icon(status: str) -> QIcon:
    """A filled circle in the colour of an overall status."""
    pixmap = QPixmap(_ICON_PX, _ICON_PX)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(badge_for(status).background)
    painter.drawEllipse(4, 4, _ICON_PX - 8, _ICON_PX - 8)
    painter.end()
    return QIcon(pixmap)


class StatusTray(QObject):
    """Owns the tray icon; ``show()`` puts the core's notices up as tray messages."""

    showRequested = Signal()  # noqa: N815 - Qt signal naming
    probeAllRequested = Signal()  # noqa: N815
    pauseToggled = Signal(bool)  # noqa: N815
    quitRequested = Signal()  # noqa: N815
    noticeShown = Signal(object)  # noqa: N815

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.status = "unknown"
        self.icon = QSystemTrayIcon(status_icon(self.status), self)
        self.icon.setToolTip("netmon")
        menu = QMenu()
        self._menu = menu  # QSystemTrayIcon does not own its menu
        self.show_action = QAction("Show netmon", menu)
        self.probe_action = QAction("Probe all now", menu)
        self.pause_action = QAction("Pause monitoring", menu)
        self.pause_action.setCheckable(True)
        self.quit_action = QAction("Quit", menu)
        self.show_action.triggered.connect(self.showRequested.emit)
        self.probe_action.triggered.connect(self.probeAllRequested.emit)
        self.pause_action.toggled.connect(self.pauseToggled.emit)
        self.quit_action.triggered.connect(self.quitRequested.emit)
        menu.addAction(self.show_action)
        menu.addAction(self.probe_action)
        menu.addAction(self.pause_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        self.icon.setContextMenu(menu)
        self.icon.activated.connect(self._activated)
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.icon.show()

    def update_status(self, snapshot: Mapping[str, Any], title: str) -> None:
        """Recolour the icon for the snapshot's overall status; ``title`` is the tooltip."""
        status = str(snapshot.get("status", "unknown"))
        if status != self.status:
            self.status = status
            self.icon.setIcon(status_icon(status))
        self.icon.setToolTip(title)

    def close(self) -> None:
        """Hide the icon."""
        self.icon.hide()

    def show(self, notice: Notice) -> None:
        """Slot for ``CoreBridge.noticePublished``: a tray message (where the desktop shows
        them); ``noticeShown`` follows."""
        if self.icon.isVisible() and QSystemTrayIcon.supportsMessages():
            icon = _ICONS.get(notice.severity, QSystemTrayIcon.MessageIcon.Information)
            self.icon.showMessage(notice.title, notice.body, icon, 10000)
        self.noticeShown.emit(notice)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.showRequested.emit()
