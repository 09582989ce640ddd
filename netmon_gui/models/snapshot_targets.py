"""SnapshotTargetsModel: the targets table filled from a status snapshot's ``targets``.

Same columns and roles as ``TargetsModel`` (which reads the local monitor), so the one
targets table shows a remote backend's targets. Fields the backend did not send (named by
the ``RemoteResult`` problems) show as "missing", never as a measured value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from .. import fmt
from ..colors import badge_for
from .breakers import MISSING
from .targets import (
    COL_1H,
    COL_5M,
    COL_KIND,
    COL_LATENCY,
    COL_STATUS,
    COL_TARGET,
    COLUMNS,
    NameRole,
    SortRole,
    StatusRole,
)

__all__ = ["SnapshotTargetsModel", "missing_fields"]

_SEVERITY = {"down": 0, "degraded": 1, "unknown": 2, "up": 3}
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_CENTER = Qt.AlignmentFlag.AlignCenter
_Index = QModelIndex | QPersistentModelIndex
_MISSING = re.compile(r"^missing field '(\w+)' in (\w+)\[(\d+)\]")
Row = dict[str, Any]


def missing_fields(problems: Iterable[str], section: str) -> dict[int, set[str]]:
    """Which fields each entry of ``section`` lacked, from ``RemoteResult.problems``."""
    out: dict[int, set[str]] = {}
    for problem in problems:
        match = _MISSING.match(problem)
        if match and match.group(2) == section:
            out.setdefault(int(match.group(3)), set()).add(match.group(1))
    return out


class SnapshotTargetsModel(QAbstractTableModel):
    """Target, kind, status badge, latency, success rates and the last error."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []
        self._missing: dict[int, set[str]] = {}

    def set_targets(self, targets: Sequence[Row], problems: Iterable[str] = ()) -> None:
        """Show ``targets`` (snapshot entries); rows are reset only when names change."""
        rows = [dict(t) for t in targets]
        self._missing = missing_fields(problems, "targets")
        if [r.get("name") for r in rows] != [r.get("name") for r in self._rows]:
            self.beginResetModel()
            self._rows = rows
            self.endResetModel()
        elif rows != self._rows:
            self._rows = rows
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(rows) - 1, len(COLUMNS) - 1))

    def row(self, name: str) -> Row | None:
        """The snapshot entry of target ``name``."""
        return next((r for r in self._rows if r.get("name") == name), None)

    def row_of(self, name: str) -> int:
        """The row of target ``name`` (-1 when unknown)."""
        return next((i for i, r in enumerate(self._rows) if r.get("name") == name), -1)

    def name_at(self, row: int) -> str:
        """The target name shown in ``row``."""
        return str(self._rows[row].get("name"))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

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
        r = self._rows[index.row()]
        col = index.column()
        status = str(r.get("status") or "unknown")
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(index.row(), col)
        if role == NameRole:
            return r.get("name")
        if role == StatusRole:
            return status
        if role == SortRole:
            return self._sort_key(index.row(), col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(index.row())
        if col == COL_STATUS and role == Qt.ItemDataRole.BackgroundRole:
            return badge_for(status).background
        if col == COL_STATUS and role == Qt.ItemDataRole.ForegroundRole:
            return badge_for(status).foreground
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if col in (COL_LATENCY, COL_5M, COL_1H):
                return _RIGHT
            if col == COL_STATUS:
                return _CENTER
        return None

    def _value(self, row: int, key: str) -> Any:
        if key in self._missing.get(row, ()):
            return MISSING
        return self._rows[row].get(key)

    @staticmethod
    def _rate(rates: Any, window: str) -> float | None:
        value = rates.get(window) if isinstance(rates, dict) else None
        return float(value) if isinstance(value, int | float) else None

    def _display(self, row: int, col: int) -> str:
        r = self._rows[row]
        if col == COL_TARGET:
            return str(r.get("name"))
        if col == COL_KIND:
            return str(self._value(row, "kind") or MISSING)
        if col == COL_STATUS:
            return str(self._value(row, "status") or MISSING)
        if col == COL_LATENCY:
            latency = self._value(row, "latency_ms")
            if latency == MISSING:
                return MISSING
            return fmt.latency(float(latency) if isinstance(latency, int | float) and
                               not r.get("error_kind") else None)
        if col in (COL_5M, COL_1H):
            if self._value(row, "success_rate") == MISSING:
                return MISSING
            return fmt.percent(self._rate(r.get("success_rate"), "5m" if col == COL_5M
                                          else "1h"))
        kind, error = r.get("error_kind"), r.get("error")
        if not kind and not error:
            return ""
        kind = str(kind or "error")
        return f"{kind}: {fmt.shorten(str(error), 60)}" if error else kind

    def _sort_key(self, row: int, col: int) -> Any:
        r = self._rows[row]
        if col == COL_STATUS:
            return _SEVERITY.get(str(r.get("status")), 9)
        if col == COL_LATENCY:
            latency = r.get("latency_ms")
            return float(latency) if isinstance(latency, int | float) else -1.0
        if col in (COL_5M, COL_1H):
            rate = self._rate(r.get("success_rate"), "5m" if col == COL_5M else "1h")
            return -1.0 if rate is None else rate
        return self._display(row, col).lower()

    def _tooltip(self, row: int) -> str:
        r = self._rows[row]
        lines = [f"{r.get('name')} ({self._value(row, 'kind') or MISSING}): "
                 f"{self._value(row, 'status') or MISSING}", str(r.get("reason") or "")]
        if r.get("checked_at"):
            lines.append(f"Checked {fmt.local_time(str(r['checked_at']))}")
        phases = r.get("phases")
        if isinstance(phases, dict) and phases:
            lines.append(", ".join(f"{k} {fmt.latency(v)}" for k, v in phases.items()
                                   if isinstance(v, int | float)))
        if r.get("error_kind") or r.get("error"):
            lines.append(f"{r.get('error_kind') or 'error'}: {r.get('error') or 'no detail'}")
        missing = sorted(self._missing.get(row, ()))
        if missing:
            lines.append("Not sent by the backend: " + ", ".join(missing))
        return "\n".join(line for line in lines if line)
