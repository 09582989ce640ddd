"""BreakersModel: one row per circuit breaker of the core."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from core.breaker import BreakerStats, CircuitBreaker

from .. import fmt
from ..colors import badge_for

__all__ = ["COLUMNS", "BreakersModel", "NameRole", "StateRole"]

COLUMNS = ("Breaker", "State", "In a row", "Failures", "Rejected", "Retry at")
COL_NAME, COL_STATE, COL_CONSECUTIVE, COL_FAILURES, COL_REJECTED, COL_RETRY = range(
    len(COLUMNS))

NameRole = Qt.ItemDataRole.UserRole + 1  # the breaker's name
StateRole = Qt.ItemDataRole.UserRole + 2  # the raw state string ("closed", "open"...)

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_Index = QModelIndex | QPersistentModelIndex


class BreakersModel(QAbstractTableModel):
    """Name, state badge, consecutive failures, failures, rejected calls, retry time."""

    def __init__(self, breakers: Mapping[str, CircuitBreaker],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.breakers = breakers
        self._stats: list[BreakerStats] = []
        self.refresh()

    def refresh(self) -> None:
        """Re-read every breaker (rows are reset only when the set of breakers changes)."""
        stats = [b.stats() for b in list(self.breakers.values())]
        if [s.name for s in stats] != [s.name for s in self._stats]:
            self.beginResetModel()
            self._stats = stats
            self.endResetModel()
        elif stats != self._stats:
            self._stats = stats
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(stats) - 1, len(COLUMNS) - 1))

    def name_at(self, row: int) -> str:
        """The breaker name shown in ``row``."""
        return self._stats[row].name

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._stats)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is not Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole and section == COL_CONSECUTIVE:
            return "Consecutive failures / threshold"
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        s = self._stats[index.row()]
        col = index.column()
        state = str(s.state)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(s, col)
        if role == NameRole:
            return s.name
        if role == StateRole:
            return state
        if col == COL_STATE and role == Qt.ItemDataRole.BackgroundRole:
            return badge_for(state).background
        if col == COL_STATE and role == Qt.ItemDataRole.ForegroundRole:
            return badge_for(state).foreground
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (
                COL_CONSECUTIVE, COL_FAILURES, COL_REJECTED):
            return _RIGHT
        if role == Qt.ItemDataRole.ToolTipRole:
            opened = fmt.local_time(s.opened_at) if s.opened_at else "never"
            return (f"{s.name}: {state}\nopened at {opened}\n{s.calls} calls, "
                    f"threshold {s.failure_threshold}, reset after {s.reset_timeout_s:g} s")
        return None

    @staticmethod
    def _display(s: BreakerStats, col: int) -> str:
        if col == COL_NAME:
            return s.name
        if col == COL_STATE:
            return str(s.state)
        if col == COL_CONSECUTIVE:
            return f"{s.consecutive_failures} / {s.failure_threshold}"
        if col == COL_FAILURES:
            return str(s.failures)
        if col == COL_REJECTED:
            return str(s.rejected)
        if s.state == "forced_open":
            return "after reset"
        return fmt.local_time(s.retry_at) if s.retry_at else ""
