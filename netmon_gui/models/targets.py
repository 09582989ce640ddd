"""TargetsModel: one row per monitored target, updated row by row as results arrive."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from PySide6.QtCore import QModelIndex, QObject, Qt

from core.monitor import HealthMonitor, TargetState
from core.probes.base import ProbeResult

from .. import fmt
from ..colors import badge_for
from ..widgets.uptime_bar import UptimeRole
from .table import Index, Table

__all__ = ["COLUMNS", "SEVERITY", "NameRole", "SortRole", "StatusRole", "TargetTable",
           "TargetsModel"]

COLUMNS = ("Target", "Kind", "Status", "Latency", "5 min", "1 h", "Last 24 h", "Error")
(COL_TARGET, COL_KIND, COL_STATUS, COL_LATENCY, COL_5M, COL_1H, COL_UPTIME,
 COL_ERROR) = range(len(COLUMNS))

NameRole = Qt.ItemDataRole.UserRole + 1  # the target's name (any column)
StatusRole = Qt.ItemDataRole.UserRole + 2  # the raw status string ("up", "down"...)
SortRole = Qt.ItemDataRole.UserRole + 3  # a value that sorts sensibly per column

SEVERITY = {"down": 0, "degraded": 1, "unknown": 2, "up": 3}  # worst first, for sorting
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_CENTER = Qt.AlignmentFlag.AlignCenter

T = TypeVar("T")  # what a row's cells are read from


class TargetTable(Table, Generic[T]):
    """The targets table's columns and roles, whatever its rows are read from.

    A subclass says what a row is (``_item``) and fills in the per-item cells.
    """

    COLUMNS = COLUMNS

    def _item(self, row: int) -> T:
        raise NotImplementedError

    def _name(self, item: T) -> Any:
        raise NotImplementedError

    def _status(self, item: T) -> str:
        raise NotImplementedError

    def _display(self, item: T, col: int) -> str:
        raise NotImplementedError

    def _sort_key(self, item: T, col: int) -> Any:
        raise NotImplementedError

    def _tip(self, item: T, col: int) -> str:
        raise NotImplementedError

    def _bars(self, item: T) -> Any:
        """The uptime bars of the row (``UptimeRole``); None when there are none."""
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self._item(index.row())
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(item, col)
        if role == NameRole:
            return self._name(item)
        if role == StatusRole:
            return self._status(item)
        if role == SortRole:
            return self._sort_key(item, col)
        if col == COL_UPTIME and role == UptimeRole:
            return self._bars(item)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tip(item, col)
        if col == COL_STATUS and role == Qt.ItemDataRole.BackgroundRole:
            return badge_for(self._status(item)).background
        if col == COL_STATUS and role == Qt.ItemDataRole.ForegroundRole:
            return badge_for(self._status(item)).foreground
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if col in (COL_LATENCY, COL_5M, COL_1H):
                return _RIGHT
            if col == COL_STATUS:
                return _CENTER
        return None


class TargetsModel(TargetTable[TargetState]):
    """Target, kind, status badge, latency, success rates and the last error."""

    def __init__(self, monitor: HealthMonitor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.monitor = monitor
        self._names = list(monitor.states)
        self._rows = {name: row for row, name in enumerate(self._names)}
        self._uptime: dict[str, list[tuple[int, int]]] = {}
        self._rates_cache: dict[str, dict[str, float | None]] = {}  # until the next repaint

    # --- updates -------------------------------------------------------------------
    def on_result(self, result: ProbeResult) -> None:
        """A result for one target arrived: repaint that row only."""
        row = self._rows.get(result.target)
        self._rates_cache.pop(result.target, None)
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def set_uptime(self, bars: dict[str, list[tuple[int, int]]]) -> None:
        """New uptime bars (per target, per slice: results, failures): repaint that column."""
        self._uptime = bars
        if self._names:
            self.dataChanged.emit(self.index(0, COL_UPTIME),
                                  self.index(len(self._names) - 1, COL_UPTIME))

    def reload(self) -> None:
        """The monitor's set of targets changed (an edited config): rebuild the rows."""
        self.beginResetModel()
        self._rates_cache.clear()
        self._names = list(self.monitor.states)
        self._rows = {name: row for row, name in enumerate(self._names)}
        self.endResetModel()

    def on_snapshot_changed(self, names: frozenset[str]) -> None:
        """The status snapshot's entries of ``names`` changed (``snapshot_changed``: a
        result, a breaker, success rates moving on a minute): repaint those rows only."""
        last = len(COLUMNS) - 1
        for name in names:
            row = self._rows.get(name)
            self._rates_cache.pop(name, None)
            if row is not None:
                self.dataChanged.emit(self.index(row, 0), self.index(row, last))

    def row_of(self, name: str) -> int:
        """The row of target ``name`` (-1 when unknown)."""
        return self._rows.get(name, -1)

    def name_at(self, row: int) -> str:
        """The target name shown in ``row``."""
        return self._names[row]

    # --- Qt model API --------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._names)

    # --- cells ---------------------------------------------------------------------
    def _item(self, row: int) -> TargetState:
        return self.monitor.states[self._names[row]]

    def _name(self, state: TargetState) -> str:
        return state.name

    def _status(self, state: TargetState) -> str:
        return str(state.status)

    def _bars(self, state: TargetState) -> list[tuple[int, int]] | None:
        return self._uptime.get(state.name)

    def _tip(self, state: TargetState, col: int) -> str:
        return self._uptime_tip(state.name) if col == COL_UPTIME else self._tooltip(state)

    def _rates(self, state: TargetState) -> dict[str, float | None]:
        # Computed once per refresh, not once per cell and role (a 50-row repaint spent
        # most of its time here).
        rates = self._rates_cache.get(state.name)
        if rates is None:
            rates = self._rates_cache[state.name] = state.windows.rates(
                self.monitor.clock.monotonic())
        return rates

    def _display(self, state: TargetState, col: int) -> str:
        last = state.last
        if col == COL_TARGET:
            return state.name
        if col == COL_KIND:
            return state.target.kind
        if col == COL_STATUS:
            return str(state.status)
        if col == COL_LATENCY:
            return fmt.latency(last.latency_ms if last is not None and last.ok else None)
        if col == COL_5M:
            return fmt.percent(self._rates(state)["5m"])
        if col == COL_1H:
            return fmt.percent(self._rates(state)["1h"])
        if col == COL_UPTIME:
            return "" if state.name in self._uptime else fmt.DASH
        if last is None or last.ok:
            return ""
        kind = str(last.error_kind) if last.error_kind else "error"
        return f"{kind}: {fmt.shorten(last.error or '', 60)}" if last.error else kind

    def _sort_key(self, state: TargetState, col: int) -> Any:
        last = state.last
        if col == COL_STATUS:
            return SEVERITY.get(str(state.status), 9)
        if col == COL_LATENCY:
            return last.latency_ms if last is not None and last.ok and last.latency_ms else -1.0
        if col == COL_UPTIME:
            bars = self._uptime.get(state.name) or []
            total = sum(n for n, _ in bars)
            return (total - sum(f for _, f in bars)) / total if total else -1.0
        if col in (COL_5M, COL_1H):
            rate = self._rates(state)["5m" if col == COL_5M else "1h"]
            return -1.0 if rate is None else rate
        return self._display(state, col).lower()

    def _uptime_tip(self, name: str) -> str:
        bars = self._uptime.get(name) or []
        total = sum(n for n, _ in bars)
        if not total:
            return f"{name}: no results in the last 24 h"
        good = total - sum(f for _, f in bars)
        return (f"{name}, last 24 h: {good}/{total} ok ({fmt.percent(good / total)}); "
                "each bar is half an hour")

    def _tooltip(self, state: TargetState) -> str:
        last = state.last
        lines = [f"{state.name} ({state.target.kind}): {state.status}", state.reason]
        if last is not None:
            lines.append(f"Checked {fmt.local_time(last.checked_at)}")
            if last.phases:
                lines.append(", ".join(f"{k} {fmt.latency(v)}" for k, v in last.phases.items()))
            if not last.ok:
                lines.append(f"{last.error_kind or 'error'}: {last.error or 'no detail'}")
        return "\n".join(line for line in lines if line)
