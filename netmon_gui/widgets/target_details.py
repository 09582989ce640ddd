"""TargetDetails: the selected target's endpoint, reason, timings and full last error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QSizePolicy, QWidget

from core.breaker import CircuitBreaker
from core.monitor import HealthMonitor

from .. import fmt

__all__ = ["TargetDetails"]

_FIELDS = ("Endpoint", "Status", "Checked", "Timings", "Breaker", "Last error")


class TargetDetails(QFrame):
    """A small form under the targets table, refreshed by the window."""

    def __init__(self, monitor: HealthMonitor, breakers: Mapping[str, CircuitBreaker],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("targetDetails")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.monitor = monitor
        self.breakers = breakers
        self.target: str | None = None
        self.row: dict[str, Any] | None = None
        self.heading = QLabel("", self)
        self.heading.setObjectName("sectionTitle")
        form = QFormLayout(self)
        form.setContentsMargins(12, 8, 12, 10)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(5)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.addRow(self.heading)
        self.values: dict[str, QLabel] = {}
        for name in _FIELDS:
            value = QLabel("", self)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label = QLabel(name, self)
            label.setObjectName("fieldLabel")
            form.addRow(label, value)
            self.values[name] = value
        self.show_target(None)

    def show_target(self, name: str | None) -> None:
        """Describe target ``name`` (None: a hint to select one)."""
        self.target = name
        self.row = None
        self.refresh()

    def show_row(self, row: Mapping[str, Any] | None) -> None:
        """Describe a target from a (remote) snapshot entry instead of the local monitor."""
        self.target = None
        self.row = dict(row) if row is not None else None
        self.refresh()

    def _show_row(self, r: Mapping[str, Any]) -> None:
        self.heading.setText(f"{r.get('name')}  ({r.get('kind') or 'kind missing'})")
        phases = r.get("phases")
        breaker = r.get("breaker")
        self.values["Endpoint"].setText("on the backend")
        self.values["Status"].setText(f"{r.get('status') or 'missing'}: {r.get('reason') or ''}")
        self.values["Checked"].setText(fmt.local_time(r.get("checked_at"))
                                       if r.get("checked_at") else "not probed yet")
        self.values["Timings"].setText(
            ", ".join(f"{k} {fmt.latency(v)}" for k, v in phases.items()
                      if isinstance(v, int | float))
            if isinstance(phases, dict) and phases else fmt.DASH)
        self.values["Breaker"].setText(str(breaker.get("state")) if isinstance(breaker, dict)
                                       else fmt.DASH)
        self.values["Last error"].setText(
            f"{r.get('error_kind') or 'error'}: {r.get('error') or 'no detail'}"
            if r.get("error_kind") or r.get("error") else "none")

    def refresh(self) -> None:
        """Re-read the target's state."""
        if self.row is not None:
            self._show_row(self.row)
            return
        state = self.monitor.states.get(self.target) if self.target else None
        if state is None:
            self.heading.setText("Select a target for details")
            for value in self.values.values():
                value.setText("")
            return
        target, last = state.target, state.last
        self.heading.setText(f"{target.name}  ({target.kind})")
        endpoint = target.url or target.dsn.split("@")[-1] or (
            f"{target.host}:{target.port}" if target.port else target.host)
        breaker = self.breakers.get(target.breaker or target.name)
        self.values["Endpoint"].setText(endpoint or fmt.DASH)
        self.values["Status"].setText(f"{state.status}: {state.reason}")
        self.values["Checked"].setText(
            f"{fmt.local_time(last.checked_at)}, {state.probes} probes" if last else
            "not probed yet")
        self.values["Timings"].setText(
            ", ".join(f"{k} {fmt.latency(v)}" for k, v in last.phases.items())
            if last and last.phases else fmt.DASH)
        self.values["Breaker"].setText(str(breaker.state) if breaker else fmt.DASH)
        self.values["Last error"].setText(
            f"{last.error_kind or 'error'}: {last.error or 'no detail'}"
            if last and not last.ok else "none")
