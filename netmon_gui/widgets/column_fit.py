"""ColumnFit: a table shows the columns that fit its width, dropping the least needed first.

A table wider than its pane scrolls sideways and hides what matters (the status, the rates)
behind a scroll bar. Instead, while the visible columns do not fit the viewport, the next
column of ``drop_order`` is hidden; each comes back, in reverse order, once there is room.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QTableView

__all__ = ["ColumnFit"]


class ColumnFit(QObject):
    """Keeps ``table``'s columns within its viewport; ``last_min`` is the least width the
    stretching last column needs."""

    def __init__(self, table: QTableView, drop_order: Sequence[int], last_min: int) -> None:
        super().__init__(table)
        self.table = table
        self.drop_order = list(drop_order)
        self.last_min = last_min
        self.unavailable: set[int] = set()  # hidden whatever the width (no data for them)
        self.dropped: list[int] = []  # hidden for want of room, in the order dropped
        self._widths: dict[int, int] = {}
        self._pending = QTimer(self)
        self._pending.setSingleShot(True)
        self._pending.setInterval(0)
        self._pending.timeout.connect(self.fit)
        table.viewport().installEventFilter(self)
        table.horizontalHeader().sectionResized.connect(self._resized)

    def set_available(self, column: int, available: bool) -> None:
        """Show ``column`` only when it has something to show (then only if it fits)."""
        if available:
            self.unavailable.discard(column)
        else:
            self.unavailable.add(column)
        self.fit()

    def fit(self) -> None:
        """Hide or show columns so that the visible ones fit the viewport now."""
        table = self.table
        count = table.model().columnCount() if table.model() is not None else 0
        last = count - 1
        for column in range(last):  # remember the widths of the columns on screen
            if not table.isColumnHidden(column) and table.columnWidth(column) > 0:
                self._widths.setdefault(column, table.columnWidth(column))
        room = table.viewport().width()
        candidates = [c for c in self.drop_order if c not in self.unavailable]
        shown = [c for c in range(last) if c not in self.unavailable]
        dropped: list[int] = []
        while (sum(self._widths.get(c, 0) for c in shown) + self.last_min > room
               and len(dropped) < len(candidates)):
            column = candidates[len(dropped)]
            dropped.append(column)
            shown.remove(column)
        self.dropped = dropped
        for column in range(last):
            hidden = column in self.unavailable or column in dropped
            if table.isColumnHidden(column) != hidden:
                table.setColumnHidden(column, hidden)
                if not hidden and column in self._widths:
                    table.setColumnWidth(column, self._widths[column])

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Resize:
            self._pending.start()
        return False

    def _resized(self, column: int, _old: int, new: int) -> None:
        last = self.table.horizontalHeader().count() - 1
        if column != last and new > 0 and not self.table.isColumnHidden(column):
            self._widths[column] = new  # a width the user chose is the one to keep
