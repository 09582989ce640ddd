"""What the console shows instead of an empty table: where the config file is, and the
first steps (open its folder, add a target, try the demo)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

__all__ = ["EmptyState"]


class EmptyState(QWidget):
    """First-run panel; its buttons only emit signals (the window decides what they do)."""

    openFolderRequested = Signal()  # noqa: N815 - Qt signal naming
    addTargetRequested = Signal()  # noqa: N815
    demoRequested = Signal()  # noqa: N815

    def __init__(self, config_file: Path, exists: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        title = QLabel("No targets to watch yet", self)
        title.setObjectName("emptyTitle")
        where = "Your configuration file is" if exists else "Your configuration file will be"
        self.path_label = QLabel(
            f"{where}<br><b>{_escape(str(config_file))}</b><br><br>"
            "Add a target to start probing, or try the demo: it probes servers inside "
            "netmon on this machine (no setup, no internet).", self)
        self.path_label.setWordWrap(True)
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.add_button = QPushButton("Add target", self)
        self.add_button.setDefault(True)
        self.folder_button = QPushButton("Open folder", self)
        self.demo_button = QPushButton("Try the demo", self)
        self.add_button.clicked.connect(self.addTargetRequested.emit)
        self.folder_button.clicked.connect(self.openFolderRequested.emit)
        self.demo_button.clicked.connect(self.demoRequested.emit)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.folder_button, self.demo_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.setSpacing(12)
        layout.addWidget(title)
        layout.addWidget(self.path_label)
        layout.addLayout(buttons)
        layout.addStretch(1)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
