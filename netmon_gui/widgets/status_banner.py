"""StatusBanner: the overall status at a glance, on top of the window."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..colors import badge_for

__all__ = ["StatusBanner"]


class StatusBanner(QFrame):
    """HEALTHY / DEGRADED / UNHEALTHY / UNKNOWN (grey: nothing measured yet, or no targets),
    target counts, and the local-network condition."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBanner")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.status_label = QLabel("STARTING", self)
        self.status_label.setObjectName("bannerStatus")
        self.counts_label = QLabel("", self)
        self.counts_label.setObjectName("bannerCounts")
        self.condition_label = QLabel("", self)
        self.condition_label.setObjectName("bannerCondition")
        self.condition_label.setWordWrap(True)
        self.condition_label.hide()
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.counts_label)
        text.addWidget(self.condition_label)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(18, 10, 18, 10)
        layout.setSpacing(20)
        layout.addWidget(self.status_label)
        layout.addLayout(text, 1)
        self.status = "unknown"
        self._paint("unknown")

    def update_from(self, snapshot: Mapping[str, Any]) -> None:
        """Show the overall status, counts and conditions of a ``core.status()`` snapshot."""
        status = str(snapshot.get("status", "unknown"))
        targets = snapshot.get("targets", [])
        counts = Counter(str(t.get("status")) for t in targets)
        parts = [f"{counts.get(s, 0)} {s}" for s in ("up", "degraded", "down")]
        if counts.get("unknown"):
            parts.append(f"{counts['unknown']} not probed yet")
        total = len(targets)
        reason = str(snapshot.get("reason") or "")
        if not total:
            text = "No targets configured: add [[targets]] to the config file."
        else:
            text = f"{total} target{'s' if total != 1 else ''}:  " + "  \u00b7  ".join(parts)
            if status == "unknown" and reason:
                text += f"  \u2014  {reason}"  # e.g. waiting for the first results
        self.counts_label.setText(text)
        conditions = snapshot.get("conditions")  # a foreign backend may send anything here
        local = next((c for c in (conditions if isinstance(conditions, list) else [])
                      if isinstance(c, Mapping) and c.get("id") == "local_network_down"
                      and c.get("active")), None)
        if local is not None:
            detail = html.escape(str(local.get("detail") or "no detail given"))
            self.condition_label.setText(f"<b>Local network down:</b> {detail}")
            self.condition_label.show()
        else:
            self.condition_label.hide()
        self.status_label.setText(status.upper())
        if status != self.status:
            self.status = status
            self._paint(status)

    def show_message(self, status: str, text: str) -> None:
        """A status word without a snapshot (e.g. ``unreachable``) and why, in grey or its
        own badge color."""
        self.counts_label.setText(text)
        self.condition_label.hide()
        self.status_label.setText(status.upper())
        if status != self.status:
            self.status = status
            self._paint(status)

    def _paint(self, status: str) -> None:
        badge = badge_for(status)
        self.setStyleSheet(
            f"#statusBanner {{ background: {badge.background.name()}; border-radius: 6px; }}"
            f"#statusBanner QLabel {{ color: {badge.foreground.name()}; background: none; }}")
