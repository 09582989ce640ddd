"""TargetsModel: one row per monitored target, updated row by row as results arrive."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer

from core.monitor import HealthMonitor, TargetState
from core.probes.base import ProbeResult
from core.stats import SuccessWindows

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
# plain ints: data() is called for every role of every painted cell
_DISPLAY, _TOOLTIP, _ALIGNMENT, _BACKGROUND, _FOREGROUND = (
    int(role.value) for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
                                 Qt.ItemDataRole.TextAlignmentRole,
                                 Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole))
Cell = dict[int, Any]  # one cell's values by role

T = TypeVar("T")  # what a row's cells are read from


class TargetTable(Table, Generic[T]):
    """The targets table's columns and roles, whatever its rows are read from.

    A subclass says what a row is (``_item``) and fills in the per-item cells. Every cell's
    values (text, sort key, badge colors, alignment, uptime bars) are computed once when
    its row changes and kept in ``_cells``, so a paint only looks them up; ``_update_rows``
    recomputes rows and emits ``dataChanged`` for the cells whose values moved, naming the
    roles that did (tooltips are built when asked for).
    """

    COLUMNS = COLUMNS

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cells: list[list[Cell]] = []  # per row, per column: role -> value
        self._keys: list[object] = []  # per row: what its cells were computed from

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

    # --- the cell cache ------------------------------------------------------------
    def _row_key(self, row: int) -> object:
        """What the cells of ``row`` depend on, when a subclass can tell cheaply (a row
        whose key did not move is not recomputed); None: recompute every time."""
        return None

    def _row_cells(self, row: int) -> list[Cell]:
        item = self._item(row)
        name, status = self._name(item), self._status(item)
        cells: list[Cell] = [{_DISPLAY: self._display(item, col),
                              SortRole: self._sort_key(item, col),
                              NameRole: name, StatusRole: status}
                             for col in range(len(COLUMNS))]
        for col in (COL_LATENCY, COL_5M, COL_1H):
            cells[col][_ALIGNMENT] = _RIGHT
        badge = badge_for(status)
        cells[COL_STATUS].update({_ALIGNMENT: _CENTER, _BACKGROUND: badge.background,
                                  _FOREGROUND: badge.foreground})
        cells[COL_UPTIME][UptimeRole] = self._bars(item)
        return cells

    def _rebuild_cells(self) -> None:
        """Compute every row's cells (inside a model reset)."""
        self._keys = [self._row_key(row) for row in range(self.rowCount())]
        self._cells = [self._row_cells(row) for row in range(self.rowCount())]

    def _update_rows(self, rows: Iterable[int], *, force: bool = False) -> None:
        """Recompute ``rows`` (those whose key moved, or all of them with ``force``) and
        emit ``dataChanged`` for each run of cells that changed, with the roles that
        changed (nothing when nothing did)."""
        for row in rows:
            key = self._row_key(row)
            if key is not None and key == self._keys[row] and not force:
                continue
            old, new = self._cells[row], self._row_cells(row)
            self._keys[row], self._cells[row] = key, new
            start, roles = -1, set[int]()
            for col in range(len(new) + 1):
                if col < len(new) and new[col] != old[col]:
                    start = col if start < 0 else start
                    roles.update(k for k in new[col].keys() | old[col].keys()
                                 if new[col].get(k) != old[col].get(k))
                elif start >= 0:
                    self.dataChanged.emit(self.index(row, start), self.index(row, col - 1),
                                          sorted(roles))
                    start, roles = -1, set()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == _TOOLTIP:
            return self._tip(self._item(index.row()), index.column())
        return self._cells[index.row()][index.column()].get(role)


class TargetsModel(TargetTable[TargetState]):
    """Target, kind, status badge, latency, success rates and the last error."""

    def __init__(self, monitor: HealthMonitor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.monitor = monitor
        self._names = list(monitor.states)
        self._rows = {name: row for row, name in enumerate(self._names)}
        self._uptime: dict[str, list[tuple[int, int]]] = {}
        #: per target: (windows revision, slot key) -> the success rates they give
        self._rates_cache: dict[str, tuple[object, dict[str, float | None]]] = {}
        self._dirty: set[str] = set()  # results not shown yet (see ``on_result``)
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(0)
        self._flush.timeout.connect(self._update_dirty)
        self._rebuild_cells()

    # --- updates -------------------------------------------------------------------
    def on_result(self, result: ProbeResult) -> None:
        """A result for one target arrived: its row's changed cells are repainted once
        control returns to the event loop (a burst of results makes one pass)."""
        self._dirty.add(result.target)
        if not self._flush.isActive():
            self._flush.start()

    def set_uptime(self, bars: dict[str, list[tuple[int, int]]]) -> None:
        """New uptime bars (per target, per slice: results, failures): repaint the cells
        whose bars changed."""
        changed = [row for row, name in enumerate(self._names)
                   if bars.get(name) != self._uptime.get(name)]
        self._uptime = bars
        self._update_rows(changed, force=True)

    def reload(self) -> None:
        """The monitor's set of targets changed (an edited config): rebuild the rows."""
        self.beginResetModel()
        self._rates_cache.clear()
        self._dirty.clear()
        self._names = list(self.monitor.states)
        self._rows = {name: row for row, name in enumerate(self._names)}
        self._rebuild_cells()
        self.endResetModel()

    def on_snapshot_changed(self, names: frozenset[str]) -> None:
        """The status snapshot's entries of ``names`` changed (``snapshot_changed``: a
        result, a breaker, success rates moving on a minute): repaint what changed of
        those rows only."""
        self._dirty.update(names)
        self._update_dirty()

    def _update_dirty(self) -> None:
        names, self._dirty = self._dirty, set()
        states = self.monitor.states  # a target removed but not reloaded yet is left alone
        self._update_rows(self._rows[name] for name in names
                          if name in self._rows and name in states)

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
    def _row_key(self, row: int) -> object:
        state = self.monitor.states.get(self._names[row])
        if state is None:  # gone until ``reload``
            return None
        return (state.revision, state.windows.revision,
                SuccessWindows.slot_key(self.monitor.clock.monotonic()))

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
        # Kept until the windows count a result or move on to a new slot (a row is
        # recomputed on its result and again on the snapshot change that follows).
        now = self.monitor.clock.monotonic()
        key = (state.windows.revision, SuccessWindows.slot_key(now))
        cached = self._rates_cache.get(state.name)
        if cached is None or cached[0] != key:
            cached = self._rates_cache[state.name] = (key, state.windows.rates(now))
        return cached[1]

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
