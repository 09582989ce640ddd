"""TargetsModel: one row per monitored target, updated row by row as results arrive."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer

from core.monitor import HealthMonitor, TargetState
from core.probes.base import ProbeResult
from core.stats import rounded

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
# What a cell keeps, by position: data() looks a role's position up in ``_POSITION``.
_ROLES: tuple[int, ...] = (
    int(Qt.ItemDataRole.DisplayRole.value), SortRole, NameRole, StatusRole,
    int(Qt.ItemDataRole.TextAlignmentRole.value), int(Qt.ItemDataRole.BackgroundRole.value),
    int(Qt.ItemDataRole.ForegroundRole.value), UptimeRole)
_POSITION = {role: position for position, role in enumerate(_ROLES)}
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_ALIGN = tuple(_RIGHT if col in (COL_LATENCY, COL_5M, COL_1H) else _CENTER if col == COL_STATUS
               else None for col in range(len(COLUMNS)))
Cell = tuple[Any, ...]  # one cell's values, in the order of ``_ROLES``
_COLS = range(len(COLUMNS))
# the roles of a cell whose text, sort key or both moved
_TEXT, _SORT = [_ROLES[0]], [SortRole]
_BOTH = [*_TEXT, *_SORT]

T = TypeVar("T")  # what a row's cells are read from


class TargetTable(Table, Generic[T]):
    """The targets table's columns and roles, whatever its rows are read from.

    A subclass says what a row is (``_item``) and what its columns show (``_columns``).
    Every cell's values (text, sort key, badge colors, alignment, uptime bars) are computed
    once when its row changes and kept in ``_cells``, so a paint only looks them up;
    ``_update_rows`` recomputes rows and emits ``dataChanged`` for the cells whose values
    moved, naming the roles that did (tooltips are built when asked for). Each cell's
    ``QModelIndex`` is made once with the cells and kept in ``_indexes`` for those signals
    (a new one per signal cost more than the signal's conversions: its wrapper's creation
    and release).
    """

    COLUMNS = COLUMNS

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cells: list[list[Cell]] = []  # per row, per column
        self._keys: list[object] = []  # per row: what its cells were computed from
        self._indexes: list[list[QModelIndex]] = []  # per row, per column

    def _item(self, row: int) -> T:
        raise NotImplementedError

    def _name(self, item: T) -> Any:
        raise NotImplementedError

    def _status(self, item: T) -> str:
        raise NotImplementedError

    def _columns(self, item: T) -> Sequence[tuple[str, Any]]:
        """(text, sort key) of each column."""
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
        return self._cells_of(self._name(item), self._status(item), self._bars(item),
                              self._columns(item))

    @staticmethod
    def _cells_of(name: Any, status: str, bars: Any,
                  columns: Sequence[tuple[str, Any]]) -> list[Cell]:
        """A row's cells from its name, status, bars and (text, sort key) per column."""
        badge = badge_for(status)
        return [(text, key, name, status, _ALIGN[col],
                 badge.background if col == COL_STATUS else None,
                 badge.foreground if col == COL_STATUS else None,
                 bars if col == COL_UPTIME else None)
                for col, (text, key) in enumerate(columns)]

    def _rebuild_cells(self) -> None:
        """Compute every row's cells and make their indexes (inside a model reset)."""
        rows = range(self.rowCount())
        self._keys = [self._row_key(row) for row in rows]
        self._cells = [self._row_cells(row) for row in rows]
        self._indexes = [[self.createIndex(row, col) for col in _COLS] for row in rows]

    def _update_rows(self, rows: Iterable[int], *, force: bool = False) -> None:
        """Recompute ``rows`` (those whose key moved, or all of them with ``force``) and
        emit ``dataChanged`` for each cell that changed, with the roles that changed
        (nothing when nothing did). One signal per cell, not per run of cells: a view
        repaints a range one pixel wider and taller than its cells (QTableView), so a run
        also repaints the cells right of and below it, at ~0.1 ms a cell.

        A row whose name, status and bars are those its cells show (a new result, mostly)
        can only have moved texts and sort keys: those are compared, and a moved cell
        keeps its other values."""
        emit = self.dataChanged.emit
        for row in rows:
            key = self._row_key(row)
            if key is not None and key == self._keys[row] and not force:
                continue
            self._keys[row] = key
            item = self._item(row)
            name, status, bars = self._name(item), self._status(item), self._bars(item)
            columns, old = self._columns(item), self._cells[row]
            shown = old[COL_UPTIME]
            if name == shown[2] and status == shown[3] and (bars is shown[7]
                                                            or bars == shown[7]):
                moved = [(col, (text, sort, *cell[2:]),
                          _BOTH if text != cell[0] and sort != cell[1]
                          else _TEXT if text != cell[0] else _SORT)
                         for col, (text, sort), cell in zip(_COLS, columns, old, strict=True)
                         if text != cell[0] or sort != cell[1]]
            else:
                new = self._cells_of(name, status, bars, columns)
                moved = [(col, a, [role for role, x, y in zip(_ROLES, a, b, strict=True)
                                   if x != y])
                         for col, a, b in zip(_COLS, new, old, strict=True) if a != b]
            for col, cell, _ in moved:
                old[col] = cell
            indexes = self._indexes[row]
            for col, _, roles in moved:
                emit(indexes[col], indexes[col], roles)

    def cell(self, row: int, column: int) -> Cell:
        """The values ``data()`` gives for the cell, in the order of the roles it keeps
        (text, sort key, name, status, alignment, background, foreground, uptime bars)."""
        return self._cells[row][column]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        position = _POSITION.get(role)
        if position is not None:
            return self._cells[index.row()][index.column()][position]
        if role == _TOOLTIP:
            return self._tip(self._item(index.row()), index.column())
        return None


class TargetsModel(TargetTable[TargetState]):
    """Target, kind, status badge, latency, success rates and the last error."""

    def __init__(self, monitor: HealthMonitor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.monitor = monitor
        self._names = list(monitor.states)
        self._rows = {name: row for row, name in enumerate(self._names)}
        self._uptime: dict[str, list[tuple[int, int]]] = {}
        self._uptime_cells: dict[str, tuple[str, float]] = {}  # per name: (text, sort key)
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
        self._uptime_cells = {name: _uptime_cell(b) for name, b in bars.items()}
        self._update_rows(changed, force=True)

    def reload(self) -> None:
        """The monitor's set of targets changed (an edited config): rebuild the rows."""
        self.beginResetModel()
        self._dirty.clear()
        self._names = list(self.monitor.states)
        self._rows = {name: row for row, name in enumerate(self._names)}
        self._rebuild_cells()
        self.endResetModel()

    def on_snapshot_changed(self, names: frozenset[str]) -> None:
        """The status snapshot's entries of ``names`` changed (``snapshot_changed``: a
        result, a breaker, success rates moving on a minute): repaint what changed of
        those rows only, recomputed whatever their key (rates moving on with the clock
        alone move no row key)."""
        self._dirty.update(names)
        self._update_dirty(force=True)

    def _update_dirty(self, *, force: bool = False) -> None:
        names, self._dirty = self._dirty, set()
        states = self.monitor.states  # a target removed but not reloaded yet is left alone
        self._update_rows((self._rows[name] for name in names
                           if name in self._rows and name in states), force=force)

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
        """The target's revisions (a result, a pause, a breaker's move...); the success
        rates moving on with the clock alone move neither: ``on_snapshot_changed`` brings
        those."""
        state = self.monitor.states.get(self._names[row])
        if state is None:  # gone until ``reload``
            return None
        return state.revision, state.windows.revision

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

    def _columns(self, state: TargetState) -> list[tuple[str, Any]]:
        # Sort keys have the precision shown (ties keep config order): a result that moves
        # a rate or a latency by less than its text shows repaints nothing.
        last, name, kind, status = state.last, state.name, state.target.kind, str(state.status)
        latency = last.latency_ms if last is not None and last.ok else None
        rates = state.windows.shared_rates(self.monitor.clock.monotonic())
        five, hour = rates["5m"], rates["1h"]
        if last is None or last.ok:
            error = ""
        else:
            error = str(last.error_kind) if last.error_kind else "error"
            error = f"{error}: {fmt.shorten(last.error, 60)}" if last.error else error
        return [(name, name.lower()), (kind, kind.lower()),
                (status, SEVERITY.get(status, 9)),
                (fmt.latency(latency), _shown_latency(latency)),
                _rate_cell(five), _rate_cell(hour),
                self._uptime_cells.get(name, _NO_BARS), (error, error.lower())]

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


@functools.lru_cache(maxsize=4096)  # rates come rounded to 4 places: few distinct values
def _rate_cell(rate: float | None) -> tuple[str, float]:
    """A success-rate column's (text, sort key) for ``rate`` (-1 for none)."""
    return fmt.percent(rate), -1.0 if rate is None else rounded(rate, 3)


def _uptime_cell(bars: list[tuple[int, int]] | None) -> tuple[str, float]:
    """The uptime column's (text, sort key) for ``bars``: the share of good results (-1
    for none); no text, the bars are drawn (a dash when there are no bars)."""
    total = sum(n for n, _ in bars or ())
    uptime = (total - sum(f for _, f in bars or ())) / total if total else -1.0
    return ("" if bars is not None else fmt.DASH, uptime)


_NO_BARS = _uptime_cell(None)


def _shown_latency(ms: float | None) -> float:
    """A latency rounded as ``fmt.latency`` shows it (-1 for none)."""
    if not ms:
        return -1.0
    return rounded(ms, 1) if ms < 10 else rounded(ms, 0) if ms < 1000 else round(ms, -2)
