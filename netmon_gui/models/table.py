"""Table-model bases: fixed titled columns, and rows kept as snapshot-style dicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

__all__ = ["DictTable", "Index", "Row", "Table"]

Index = QModelIndex | QPersistentModelIndex
Row = dict[str, Any]


class Table(QAbstractTableModel):
    """A table whose columns are the titles in ``COLUMNS``."""

    COLUMNS: ClassVar[tuple[str, ...]] = ()

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None


class DictTable(Table):
    """A table with one dict per row (a snapshot entry), named by its ``name`` key."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []

    def _set_rows(self, rows: Sequence[Row]) -> None:
        """Show ``rows``: reset only when the names change, else repaint what changed."""
        new = [dict(r) for r in rows]
        if [r.get("name") for r in new] != [r.get("name") for r in self._rows]:
            self.beginResetModel()
            self._rows = new
            self._rows_reset()
            self.endResetModel()
        elif new != self._rows:
            old, self._rows = self._rows, new
            self._rows_changed(old)

    def _rows_reset(self) -> None:
        """Hook: the rows were replaced (inside the model reset)."""

    def _rows_changed(self, old: Sequence[Row]) -> None:
        """The same rows with new values (``old`` before): repaint the rows that changed
        (a subclass may narrow this)."""
        last = len(self.COLUMNS) - 1
        for row, (now, before) in enumerate(zip(self._rows, old, strict=True)):
            if now != before:
                self.dataChanged.emit(self.index(row, 0), self.index(row, last))

    def name_at(self, row: int) -> str:
        """The name shown in ``row``."""
        return str(self._rows[row].get("name"))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)
