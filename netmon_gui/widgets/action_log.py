"""ActionLogView: every recovery action the console ran, local or remote: when, on which
backend, and what came of it (failures in red)."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from .. import fmt
from ..actions import ActionRecord

__all__ = ["ActionLogView"]

MAX_ENTRIES = 500
_FAILED = QColor("#c62828")


class ActionLogView(QListWidget):
    """Newest first; at most ``MAX_ENTRIES`` lines."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("actionLog")
        self.setWordWrap(True)
        self.records: list[ActionRecord] = []

    def add(self, record: ActionRecord) -> None:
        """Log ``record`` at the top."""
        self.records.insert(0, record)
        del self.records[MAX_ENTRIES:]
        item = QListWidgetItem(f"{fmt.local_time(record.at)}  [{record.backend}]  "
                               f"{'ok' if record.ok else 'FAILED'}: {record.text}")
        if not record.ok:
            item.setForeground(_FAILED)
        self.insertItem(0, item)
        while self.count() > MAX_ENTRIES:
            self.takeItem(self.count() - 1)
