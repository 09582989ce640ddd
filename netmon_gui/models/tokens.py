"""Token models for the Tokens tab: cached tokens and refused tokens.

Rows come from ``ResilientAuthService.entries()`` / ``failed_entries()``, which carry a
fingerprint prefix and decoded claims only: a raw token never reaches the console.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from .. import fmt

__all__ = ["CACHED_COLUMNS", "FAILED_COLUMNS", "FingerprintRole", "RowsModel",
           "cached_tokens_model", "failed_tokens_model"]

FingerprintRole = Qt.ItemDataRole.UserRole + 1  # the fingerprint prefix of the row

_Index = QModelIndex | QPersistentModelIndex
Row = dict[str, Any]
Column = tuple[str, Callable[[Row], str]]


def _text(key: str) -> Callable[[Row], str]:
    return lambda row: "" if row.get(key) is None else str(row[key])


CACHED_COLUMNS: tuple[Column, ...] = (
    ("Fingerprint", _text("fingerprint")),
    ("Subject", _text("subject")),
    ("Email", _text("email")),
    ("Role", _text("role")),
    ("Expires", lambda row: fmt.local_time(row.get("expires_at"))),
    ("Source", _text("source")),
    ("Hits", _text("hits")),
)

FAILED_COLUMNS: tuple[Column, ...] = (
    ("Fingerprint", _text("fingerprint")),
    ("Reason", _text("reason")),
    ("Detail", _text("detail")),
    ("Attempts", _text("attempts")),
)


class RowsModel(QAbstractTableModel):
    """A read-only table over a list of dict rows, re-read by ``refresh()``."""

    def __init__(self, columns: Sequence[Column], source: Callable[[], list[Row]],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.columns = tuple(columns)
        self.source = source
        self._rows: list[Row] = []

    def refresh(self) -> None:
        """Reload the rows from the source."""
        rows = self.source()
        if rows != self._rows:
            self.beginResetModel()
            self._rows = rows
            self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section][0]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.columns[index.column()][1](row)
        if role == FingerprintRole:
            return row.get("fingerprint")
        return None


def cached_tokens_model(source: Callable[[], list[Row]],
                        parent: QObject | None = None) -> RowsModel:
    """Cached tokens: fingerprint, subject, email, role, expiry, source, hits."""
    return RowsModel(CACHED_COLUMNS, source, parent)


def failed_tokens_model(source: Callable[[], list[Row]],
                        parent: QObject | None = None) -> RowsModel:
    """Refused tokens: fingerprint, reason, detail, attempts."""
    return RowsModel(FAILED_COLUMNS, source, parent)
