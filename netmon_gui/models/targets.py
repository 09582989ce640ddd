"""TargetsModel: one row per monitored target, updated row by row as results arrive."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from core.monitor import HealthMonitor, TargetState
from core.probes.base import ProbeResult

from .. import fmt
from ..colors import badge_for
from ..widgets.uptime_bar import UptimeRole

__all__ = ["COLUMNS", "NameRole", "SortRole", "StatusRole", "TargetsModel"]

COLUMNS = ("Target", "Kind", "Status", "Latency", "5 min", "1 h", "Last 24 h", "Error")
(COL_TARGET, COL_KIND, COL_STATUS, COL_LATENCY, COL_5M, COL_1H, COL_UPTIME,
 COL_ERROR) = range(len(COLUMNS))

NameRole = Qt.ItemDataRole.UserRole + 1  # the target's name (any column)
StatusRole = Qt.ItemDataRole.UserRole + 2  # the raw status string ("up", "down"...)
SortRole = Qt.ItemDataRole.UserRole + 3  # a value that sorts sensibly per column

_SEVERITY = {"down": 0, "degraded": 1, "unknown": 2, "up": 3}
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_CENTER = Qt.AlignmentFlag.AlignCenter
_Index = QModelIndex | QPersistentModelIndex


class TargetsModel(QAbstractTableModel):
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
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._names)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        state = self.monitor.states[self._names[index.row()]]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(state, col)
        if role == NameRole:
            return state.name
        if role == StatusRole:
            return str(state.status)
        if role == SortRole:
            return self._sort_key(state, col)
        if col == COL_UPTIME and role == UptimeRole:
            return self._uptime.get(state.name)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._uptime_tip(state.name) if col == COL_UPTIME else self._tooltip(state)
        if col == COL_STATUS and role == Qt.ItemDataRole.BackgroundRole:
            return badge_for(str(state.status)).background
        if col == COL_STATUS and role == Qt.ItemDataRole.ForegroundRole:
            return badge_for(str(state.status)).foreground
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if col in (COL_LATENCY, COL_5M, COL_1H):
                return _RIGHT
            if col == COL_STATUS:
                return _CENTER
        return None

    # --- cells ---------------------------------------------------------------------
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
            return _SEVERITY.get(str(state.status), 9)
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
