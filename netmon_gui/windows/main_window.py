"""The console's main window."""

from __future__ import annotations

from importlib import resources

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import QLabel, QMainWindow, QVBoxLayout, QWidget

from core.config import Config

ICON = resources.files("resources").joinpath("icons/app.svg")


class MainWindow(QMainWindow):
    """Shows the configured targets; live panels arrive with the monitor."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.setWindowTitle("netmon")
        if ICON.is_file():
            self.setWindowIcon(QIcon(str(ICON)))
        self.resize(960, 600)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        self.summary = QLabel(self._summary_text(), body)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.summary.setObjectName("summary")
        layout.addWidget(self.summary)
        self.setCentralWidget(body)
        source = config.source or "built-in defaults"
        self.statusBar().showMessage(f"Config: {source}")

    def _summary_text(self) -> str:
        count = len(self.config.targets)
        if not count:
            return "No targets configured yet.\nAdd [[targets]] to the config file."
        names = ", ".join(t.name for t in self.config.targets)
        return f"{count} target(s): {names}"

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        event.accept()
