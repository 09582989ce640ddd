"""LatencyPlot: latency over time for one target, failures marked in red on top.

Results arrive one by one; the plot only marks itself dirty and redraws at most every
``REDRAW_MS`` from a single-shot QTimer, so a burst of results costs one redraw. What it
draws is a ``LatencyCanvas``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from operator import is_

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from core.history import MemoryHistory
from core.probes.base import ProbeResult

from .latency_canvas import EMPTY, LatencyCanvas, Series

__all__ = ["MIN_SPAN_S", "REDRAW_MS", "LatencyPlot"]

REDRAW_MS = 250
MIN_SPAN_S = 60.0


class LatencyPlot(QWidget):
    """A ``LatencyCanvas`` over ``memory.points(target)`` with a coalesced redraw."""

    def __init__(self, memory: MemoryHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.memory = memory
        self.target: str | None = None
        self.redraws = 0
        self._stale = False  # a redraw was skipped while hidden
        # the last redraw's checked_at and their POSIX times
        self._stamps: tuple[Sequence[datetime], np.ndarray] = ((), np.empty(0))
        self.canvas = LatencyCanvas()
        self.placeholder = QLabel("Select a target to see its latency", self)
        self.placeholder.setObjectName("placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.canvas)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw_if_shown)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.redraw()

    def set_target(self, name: str | None) -> None:
        """Plot ``name`` (None clears); redraws at once."""
        self.target = name
        self._timer.stop()
        self.redraw()

    def on_result(self, result: ProbeResult) -> None:
        """A result arrived: schedule a redraw when it is for the plotted target."""
        if result.target == self.target:
            self.schedule()

    def schedule(self) -> None:
        """Redraw within ``REDRAW_MS`` (several calls in that time make one redraw); while
        the plot is hidden (another tab shown), when it is shown again."""
        if not self.isVisible():
            self._stale = True
        elif not self._timer.isActive():
            self._timer.start()

    def _redraw_if_shown(self) -> None:
        if self.isVisible():
            self.redraw()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._stale:
            self.redraw()

    def stop(self) -> None:
        """Stop the redraw timer (on close)."""
        self._timer.stop()

    def redraw(self) -> None:
        """Rebuild the line and the failure marks from the memory ring."""
        self.redraws += 1
        self._stale = False
        results = self.memory.points(self.target) if self.target else []
        if not results:
            self.canvas.show_series(EMPTY)
            self.placeholder.setText("Select a target to see its latency" if not self.target
                                     else f"No results for {self.target} yet")
            self.stack.setCurrentWidget(self.placeholder)
            return
        ats, oks, latencies, _ = zip(*results, strict=True)
        times = self._timestamps(ats)
        ok = np.array(oks, dtype=bool)
        # A failure is a gap in the line (NaN) and a red mark on top.
        ys = np.array(latencies, dtype=float)  # a missing latency (None) is NaN
        ys[~ok] = math.nan
        measured = ys[~np.isnan(ys)]
        top = (float(measured.max()) if measured.size else 1.0) * 1.15 or 1.0
        first, last = float(times[0]), float(times[-1])
        span = max(last - first, MIN_SPAN_S)  # never zoom below seconds on the time axis
        pad = span * 0.03
        self.canvas.show_series(Series(
            times, ys, tuple(times[~ok].tolist()), top,
            (last - span - pad, last + pad), (0.0, top * 1.08), f"{self.target}: latency"))
        self.stack.setCurrentWidget(self.canvas)

    def _timestamps(self, ats: Sequence[datetime]) -> np.ndarray:
        """POSIX times of ``ats``. The ring only appends and drops its oldest, so the results
        of the last redraw still in it lead ``ats``: their times (the same objects) are
        reused, only the newer ones computed (``timestamp()`` is ~0.4 us a result)."""
        seen, times = self._stamps
        dropped = next((i for i, at in enumerate(seen) if at is ats[0]), len(seen)) if ats else 0
        kept = len(seen) - dropped
        if kept > len(ats) or not all(map(is_, seen[dropped:], ats[:kept])):
            dropped, kept = len(seen), 0
        new = np.fromiter((at.timestamp() for at in ats[kept:]), float, len(ats) - kept)
        out = np.concatenate((times[dropped:], new))
        self._stamps = (ats, out)
        return out

    def point_count(self) -> tuple[int, int]:
        """(latency points, failure marks) currently drawn."""
        series = self.canvas.series
        return int(np.count_nonzero(~np.isnan(series.ys))), len(series.marks)
