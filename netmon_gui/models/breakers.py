"""BreakersModel: one row per circuit breaker, from the local core or a snapshot.

Rows are the snapshot's ``breakers`` entries (``BreakerStats.as_dict()`` locally), so the
same model and panel show this machine's breakers and a remote backend's. A field the
source did not send shows as "missing".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt

from core.breaker import CircuitBreaker

from .. import fmt
from ..colors import badge_for
from .table import DictTable, Index, Row

__all__ = ["COLUMNS", "MISSING", "BreakersModel", "NameRole", "StateRole", "local_rows"]

COLUMNS = ("Breaker", "State", "In a row", "Failures", "Rejected", "Retry at")
COL_NAME, COL_STATE, COL_CONSECUTIVE, COL_FAILURES, COL_REJECTED, COL_RETRY = range(
    len(COLUMNS))

NameRole = Qt.ItemDataRole.UserRole + 1  # the breaker's name
StateRole = Qt.ItemDataRole.UserRole + 2  # the raw state string ("closed", "open"...)

MISSING = "missing"  # a field the backend did not send

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def local_rows(breakers: Mapping[str, CircuitBreaker]) -> Callable[[], list[Row]]:
    """A row source over the core's breakers (their stats as the snapshot shows them)."""
    return lambda: [b.stats().as_dict() for b in list(breakers.values())]


def _text(value: Any) -> str:
    return MISSING if value is None else str(value)


class BreakersModel(DictTable):
    """Name, state badge, consecutive failures, failures, rejected calls, retry time."""

    COLUMNS = COLUMNS

    def __init__(self, source: Mapping[str, CircuitBreaker] | Callable[[], Sequence[Row]],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source: Callable[[], Sequence[Row]] = (
            source if callable(source) else local_rows(source))
        self.refresh()

    def set_source(self, source: Callable[[], Sequence[Row]]) -> None:
        """Read rows from ``source`` from now on (the local core or a backend's snapshot)."""
        self.source = source
        self.refresh()

    def refresh(self) -> None:
        """Re-read the rows (reset only when the set of breakers changes)."""
        self._set_rows(self.source())

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole
                and section == COL_CONSECUTIVE):
            return "Consecutive failures / threshold"
        return super().headerData(section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        col = index.column()
        state = str(r.get("state") or "unknown")
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(r, col)
        if role == NameRole:
            return r.get("name")
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
            opened = fmt.local_time(r.get("opened_at")) if r.get("opened_at") else "never"
            reset = r.get("reset_timeout_s")
            return (f"{r.get('name')}: {state}\nopened at {opened}\n{_text(r.get('calls'))} "
                    f"calls, threshold {_text(r.get('failure_threshold'))}, reset after "
                    f"{f'{reset:g} s' if isinstance(reset, int | float) else MISSING}")
        return None

    @staticmethod
    def _display(r: Row, col: int) -> str:
        if col == COL_NAME:
            return _text(r.get("name"))
        if col == COL_STATE:
            return _text(r.get("state"))
        if col == COL_CONSECUTIVE:
            return f"{_text(r.get('consecutive_failures'))} / {_text(r.get('failure_threshold'))}"
        if col == COL_FAILURES:
            return _text(r.get("failures"))
        if col == COL_REJECTED:
            return _text(r.get("rejected"))
        if r.get("state") == "forced_open":
            return "after reset"
        return fmt.local_time(r["retry_at"]) if r.get("retry_at") else ""
