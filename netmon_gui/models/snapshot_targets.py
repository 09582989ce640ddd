"""SnapshotTargetsModel: the targets table filled from a status snapshot's ``targets``.

Same columns and roles as ``TargetsModel`` (which reads the local monitor), so the one
targets table shows a remote backend's targets. Fields the backend did not send (named by
the ``RemoteResult`` problems) show as "missing", never as a measured value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import QObject

from .. import fmt
from .breakers import MISSING
from .table import DictTable, Row
from .targets import (
    COL_1H,
    COL_5M,
    COL_KIND,
    COL_LATENCY,
    COL_STATUS,
    COL_TARGET,
    SEVERITY,
    TargetTable,
)

__all__ = ["SnapshotTargetsModel", "missing_fields"]

_MISSING = re.compile(r"^missing field '(\w+)' in (\w+)\[(\d+)\]")


def missing_fields(problems: Iterable[str], section: str) -> dict[int, set[str]]:
    """Which fields each entry of ``section`` lacked, from ``RemoteResult.problems``."""
    out: dict[int, set[str]] = {}
    for problem in problems:
        match = _MISSING.match(problem)
        if match and match.group(2) == section:
            out.setdefault(int(match.group(3)), set()).add(match.group(1))
    return out


class SnapshotTargetsModel(DictTable, TargetTable[int]):
    """Target, kind, status badge, latency, success rates and the last error."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._missing: dict[int, set[str]] = {}

    def set_targets(self, targets: Sequence[Row], problems: Iterable[str] = ()) -> None:
        """Show ``targets`` (snapshot entries); rows are reset only when names change."""
        self._missing = missing_fields(problems, "targets")
        self._set_rows(targets)
        self._update_rows(range(len(self._rows)))  # the cells that changed (or lost a field)

    def _rows_reset(self) -> None:
        self._rebuild_cells()

    def _rows_changed(self, old: Sequence[Row]) -> None:
        """Nothing here: ``set_targets`` repaints the cells that changed."""

    def row(self, name: str) -> Row | None:
        """The snapshot entry of target ``name``."""
        return next((r for r in self._rows if r.get("name") == name), None)

    def row_of(self, name: str) -> int:
        """The row of target ``name`` (-1 when unknown)."""
        return next((i for i, r in enumerate(self._rows) if r.get("name") == name), -1)

    # --- cells (an item is a row number) -------------------------------------------
    def _item(self, row: int) -> int:
        return row

    def _name(self, row: int) -> Any:
        return self._rows[row].get("name")

    def _status(self, row: int) -> str:
        return str(self._rows[row].get("status") or "unknown")

    def _tip(self, row: int, col: int) -> str:
        return self._tooltip(row)

    def _value(self, row: int, key: str) -> Any:
        if key in self._missing.get(row, ()):
            return MISSING
        return self._rows[row].get(key)

    @staticmethod
    def _rate(rates: Any, window: str) -> float | None:
        value = rates.get(window) if isinstance(rates, dict) else None
        return float(value) if isinstance(value, int | float) else None

    def _columns(self, row: int) -> list[tuple[str, Any]]:
        return [(self._display(row, col), self._sort_key(row, col))
                for col in range(len(self.COLUMNS))]

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
            return SEVERITY.get(str(r.get("status")), 9)
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
