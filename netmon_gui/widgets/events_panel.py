"""The Events tab: a live list of state changes, breaker transitions, recovery actions (who,
from where, result), local-network conditions, notifications and what became of each one
forwarded to chat or mail, newest first."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.breaker import BreakerTransition
from core.forward import ForwardResult
from core.monitor import Condition, StatusChange
from core.notify import Notice
from core.recovery import AuditEntry

from .. import fmt
from ..colors import badge_for
from .tables import make_table

__all__ = ["EventRow", "EventsModel", "EventsPanel"]

COLUMNS = ("Time", "Kind", "Subject", "Change", "Detail")
MAX_ROWS = 2000
_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class EventRow:
    """One line of the Events tab; ``state`` colours the Change cell."""

    at: datetime
    kind: str
    subject: str
    change: str
    detail: str
    state: str = ""

    def as_text(self) -> str:
        return "\t".join((fmt.local_time(self.at), self.kind, self.subject, self.change,
                          self.detail))


def row_for(value: object) -> EventRow | None:
    """The row describing a core event value (None for values it does not know)."""
    if isinstance(value, StatusChange):
        return EventRow(value.at, "status", value.target, f"{value.old} -> {value.new}",
                        value.reason, str(value.new))
    if isinstance(value, BreakerTransition):
        return EventRow(value.at, "breaker", value.breaker, f"{value.old} -> {value.new}",
                        value.reason, str(value.new))
    if isinstance(value, AuditEntry):
        return _audit_row(value)
    if isinstance(value, Condition):
        change = "down" if value.active else "back"
        return EventRow(value.since, "network", value.id.replace("_", " "), change,
                        value.detail, "down" if value.active else "up")
    if isinstance(value, Notice):
        state = {"critical": "down", "warning": "degraded"}.get(value.severity, "up")
        return EventRow(value.at, "notice", value.key, value.title, value.body, state)
    if isinstance(value, ForwardResult):
        return EventRow(value.at, "forward", value.where, "sent" if value.ok else "failed",
                        value.detail, "up" if value.ok else "down")
    return None


def _audit_row(entry: AuditEntry) -> EventRow:
    detail: dict[str, Any] = dict(entry.detail)
    who = str(entry.origin) + (f" ({entry.subject})" if entry.subject else "")
    breakers = [str(b.get("name")) for b in detail.get("breakers") or () if isinstance(b, dict)]
    target = detail.get("target") or ", ".join(breakers) or "all"
    why = detail.get("reason") or detail.get("error") or detail.get("refused")
    result = "ok" if entry.ok else f"failed: {why or 'no reason given'}"
    return EventRow(entry.ts, "recovery", str(target), entry.action.replace("_", " "),
                    f"by {who}; {result}", "up" if entry.ok else "down")


class EventsModel(QAbstractTableModel):
    """Newest first, at most ``MAX_ROWS``."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: deque[EventRow] = deque(maxlen=MAX_ROWS)

    def add(self, value: object) -> EventRow | None:
        """Add the row for a core event value (ignored when unknown)."""
        row = row_for(value)
        if row is None:
            return None
        full = len(self._rows) == MAX_ROWS
        if full:
            self.beginRemoveRows(QModelIndex(), MAX_ROWS - 1, MAX_ROWS - 1)
            self._rows.pop()
            self.endRemoveRows()
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._rows.appendleft(row)
        self.endInsertRows()
        return row

    def rows(self) -> list[EventRow]:
        return list(self._rows)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (fmt.local_time(row.at), row.kind, row.subject, row.change,
                    row.detail)[col]
        if role == Qt.ItemDataRole.ToolTipRole and col == 4:
            return row.detail
        if role == Qt.ItemDataRole.ForegroundRole and col == 3 and row.state:
            return badge_for(row.state).background
        return None


class EventsPanel(QWidget):
    """The events table with a Copy button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = EventsModel(self)
        self.table = make_table(self)
        self.table.setObjectName("eventsTable")
        self.table.setModel(self.model)
        header = self.table.horizontalHeader()  # Detail (last) takes the rest
        for col in (0, 1, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setColumnWidth(2, 110)
        self.count_label = QLabel("No events yet", self)
        copy = QPushButton("Copy", self)
        copy.setToolTip("Copy every event as tab-separated text")
        copy.clicked.connect(self.copy)
        bar = QHBoxLayout()
        bar.addWidget(self.count_label, 1)
        bar.addWidget(copy)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self.model.rowsInserted.connect(self._count)

    def add(self, value: object) -> None:
        """Slot for the bridge's signals and the notices."""
        self.model.add(value)

    def copy(self) -> str:
        """Copy every row to the clipboard; returns the text."""
        text = "\n".join(row.as_text() for row in self.model.rows())
        QGuiApplication.clipboard().setText(text)
        return text

    def _count(self, *_: object) -> None:
        n = self.model.rowCount()
        self.count_label.setText(f"{n} event{'s' if n != 1 else ''} (newest first)")
