"""The Log tab: the ``netmon`` log live, filtered by level and prefix (RESILIENT / CIRCUIT
BREAKER / NETWORK), with Copy and Open log folder."""

from __future__ import annotations

import logging
from collections import deque

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.log import PREFIX_BREAKER, PREFIX_NETWORK, PREFIX_RESILIENT

from .. import fmt
from ..bridge import LogLine

__all__ = ["LEVELS", "PREFIXES", "LogPanel"]

MAX_LINES = 5000
LEVELS = {"Debug": logging.DEBUG, "Info": logging.INFO, "Warning": logging.WARNING,
          "Error": logging.ERROR}
PREFIXES = {"All prefixes": "", "RESILIENT": PREFIX_RESILIENT,
            "CIRCUIT BREAKER": PREFIX_BREAKER, "NETWORK": PREFIX_NETWORK}


class LogPanel(QWidget):
    """Keeps the last ``MAX_LINES`` lines; the filters apply to what is kept."""

    openFolderRequested = Signal()  # noqa: N815 - Qt signal naming

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lines: deque[LogLine] = deque(maxlen=MAX_LINES)
        self.level = QComboBox(self)
        self.level.addItems(list(LEVELS))
        self.level.setCurrentText("Info")
        self.level.setToolTip("Lowest level shown")
        self.prefix = QComboBox(self)
        self.prefix.addItems(list(PREFIXES))
        self.prefix.setToolTip("Only lines with this prefix")
        for combo in (self.level, self.prefix):  # may shrink in a narrow window
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(7)
        copy = QPushButton("Copy", self)
        copy.setToolTip("Copy the lines shown")
        folder = QPushButton("Log folder", self)
        folder.setToolTip("Open the folder the log files are in")
        self.view = QPlainTextEdit(self)
        self.view.setObjectName("logView")
        self.view.setReadOnly(True)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.view.setPlaceholderText("Log lines of this session appear here.")
        self.level.currentTextChanged.connect(self._rerender)
        self.prefix.currentTextChanged.connect(self._rerender)
        copy.clicked.connect(self.copy)
        folder.clicked.connect(self.openFolderRequested.emit)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Level", self))
        bar.addWidget(self.level)
        bar.addWidget(self.prefix)
        bar.addStretch(1)
        bar.addWidget(copy)
        bar.addWidget(folder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)

    def add(self, line: LogLine) -> None:
        """Slot for ``LogBridge.lineLogged``."""
        self._lines.append(line)
        if self._shown(line):
            self.view.appendPlainText(self._text(line))

    def shown_text(self) -> str:
        """The lines the filters let through, as shown."""
        return "\n".join(self._text(line) for line in self._lines if self._shown(line))

    def copy(self) -> str:
        """Copy the lines shown to the clipboard; returns the text."""
        text = self.shown_text()
        QGuiApplication.clipboard().setText(text)
        return text

    def _shown(self, line: LogLine) -> bool:
        prefix = PREFIXES[self.prefix.currentText()]
        return (line.level >= LEVELS[self.level.currentText()]
                and (not prefix or prefix in line.message))

    @staticmethod
    def _text(line: LogLine) -> str:
        return f"{fmt.local_time(line.at)}  {line.levelname:<7} {line.message}"

    def _rerender(self, *_: object) -> None:
        self.view.setPlainText(self.shown_text())
        self.view.moveCursor(self.view.textCursor().MoveOperation.End)  # newest in view...
        self.view.horizontalScrollBar().setValue(0)  # ...from its start, not its end
