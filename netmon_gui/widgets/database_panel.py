"""DatabasePanel: the database layer's figures from a snapshot's ``database`` part, with
Reconnect (for the local core; a remote backend has no endpoint for it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .. import fmt
from ..models.breakers import MISSING

__all__ = ["FIELDS", "NO_DATABASE", "DatabasePanel"]

NO_DATABASE = "No database layer: set [database] target to a postgres target."
FIELDS = ("Status", "Mode", "Pool", "Last error", "Breaker", "Next attempt")


def _get(data: Mapping[str, Any], key: str) -> Any:
    return data.get(key, MISSING)


class DatabasePanel(QWidget):
    """Status, mode (normal / emergency), pool size and use, last error, breaker, next
    attempt; ``request("reconnect_database", None)`` on Reconnect."""

    request = Signal(str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notice = QLabel(NO_DATABASE, self)
        self.notice.setObjectName("placeholder")
        self.notice.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.notice.setWordWrap(True)
        self.values: dict[str, QLabel] = {}
        self.form = QWidget(self)
        form = QFormLayout(self.form)
        for name in FIELDS:
            value = QLabel("", self.form)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(name, value)
            self.values[name] = value
        self.reconnect = QPushButton("Reconnect", self)
        self.reconnect.clicked.connect(lambda: self.request.emit("reconnect_database", None))
        self._can_reconnect = True
        self._has_data = False
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.reconnect)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.notice)
        layout.addWidget(self.form)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.set_database(None)

    def set_database(self, data: Mapping[str, Any] | None, *,
                     can_reconnect: bool = True) -> None:
        """Show a snapshot's ``database`` part (None: no database layer)."""
        self._can_reconnect = can_reconnect
        self._has_data = data is not None
        self.notice.setVisible(data is None)
        self.form.setVisible(data is not None)
        self.reconnect.setEnabled(data is not None and can_reconnect)
        self.reconnect.setToolTip("" if can_reconnect else
                                  "This backend has no endpoint to reconnect its database")
        if data is None:
            return
        status = _get(data, "status")
        if data.get("connecting"):
            status = f"{status} (connecting)"
        pool = data.get("pool")
        if isinstance(pool, Mapping):
            pool_text = (f"{pool.get('in_use', MISSING)} in use, {pool.get('idle', MISSING)} "
                         f"idle, size {pool.get('size', MISSING)} of "
                         f"{pool.get('max', MISSING)}")
            wait = data.get("acquire_wait_p95_ms")
            if isinstance(wait, int | float):
                pool_text += f"; acquire wait p95 {fmt.latency(wait)}"
        else:
            pool_text = MISSING
        error = data.get("last_error")
        kind = data.get("last_error_kind")
        next_at = data.get("next_attempt_at")
        self.values["Status"].setText(str(status))
        self.values["Mode"].setText(str(_get(data, "mode")))
        self.values["Pool"].setText(pool_text)
        self.values["Last error"].setText(f"{kind or 'error'}: {error}" if error else
                                          "none" if "last_error" in data else MISSING)
        breaker = data.get("breaker", MISSING)
        if isinstance(breaker, Mapping):
            breaker = breaker.get("state", MISSING)
        self.values["Breaker"].setText(str(breaker))
        self.values["Next attempt"].setText(fmt.local_time(next_at) if next_at else
                                            fmt.DASH if "next_attempt_at" in data else MISSING)

    def set_busy(self, busy: bool) -> None:
        """Disable Reconnect while an action runs."""
        self.reconnect.setEnabled(not busy and self._can_reconnect and self._has_data)
