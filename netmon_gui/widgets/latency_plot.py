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
from core.history.ring import Point
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
        # the last redraw's checked_at, and its columns (see ``_columns``)
        self._kept: tuple[list[datetime], np.ndarray, np.ndarray, np.ndarray] = (
            [], np.empty(0), np.empty(0, bool), np.empty(0))
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
        times, ok, ys = self._columns(results)
        measured = ys[~np.isnan(ys)]
        top = (float(measured.max()) if measured.size else 1.0) * 1.15 or 1.0
        first, last = float(times[0]), float(times[-1])
        span = max(last - first, MIN_SPAN_S)  # never zoom below seconds on the time axis
        pad = span * 0.03
        self.canvas.show_series(Series(
            times, ys, tuple(times[~ok].tolist()), top,
            (last - span - pad, last + pad), (0.0, top * 1.08), f"{self.target}: latency"))
        self.stack.setCurrentWidget(self.canvas)

    def _columns(self, results: Sequence[Point]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """POSIX times, successes and latencies (NaN for a failure: a gap in the line, or a
        missing latency) of ``results``. The ring only appends and drops its oldest, so the
        results of the last redraw still in it lead ``results``: their columns are reused
        (recognised by their ``checked_at`` objects), only the newer ones converted."""
        seen, times, ok, ys = self._kept
        first = results[0][0]
        dropped = next((i for i, at in enumerate(seen) if at is first), len(seen))
        kept = len(seen) - dropped
        if kept > len(results) or not all(map(is_, seen[dropped:],
                                              (r[0] for r in results[:kept]))):
            dropped, kept = len(seen), 0
        new = results[kept:]
        new_ok = np.fromiter((r[1] for r in new), bool, len(new))
        new_ys = np.fromiter((r[2] if r[1] and r[2] is not None else math.nan for r in new),
                             float, len(new))
        new_times = np.fromiter((r[0].timestamp() for r in new), float, len(new))
        self._kept = ([r[0] for r in results], np.concatenate((times[dropped:], new_times)),
                      np.concatenate((ok[dropped:], new_ok)),
                      np.concatenate((ys[dropped:], new_ys)))
        return self._kept[1:]

    def point_count(self) -> tuple[int, int]:
        """(latency points, failure marks) currently drawn."""
        series = self.canvas.series
        return int(np.count_nonzero(~np.isnan(series.ys))), len(series.marks)
