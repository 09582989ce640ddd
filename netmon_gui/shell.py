"""The first thing on screen: a light window painted before the console's heavy imports
(the core, httpx, pyqtgraph) and before the config is read. Imports only Qt.
The console replaces it as soon as its own window is shown."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QVBoxLayout, QWidget

from .windows.placement import DEFAULT_SIZE, clamp_to_screen

__all__ = ["StartupShell"]


class StartupShell(QMainWindow):
    """"Starting netmon..." with a busy bar, where the console window will appear."""

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setObjectName("startupShell")
        self.setWindowTitle("netmon - starting")
        geometry = settings.value("window/geometry") if settings is not None else None
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*DEFAULT_SIZE)
        clamp_to_screen(self)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.addStretch(1)
        label = QLabel("Starting netmon...", body)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        busy = QProgressBar(body)
        busy.setRange(0, 0)
        busy.setTextVisible(False)
        busy.setMaximumWidth(240)
        layout.addWidget(label)
        layout.addWidget(busy, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        self.setCentralWidget(body)
