"""AxisTicks: where a plot axis puts its ticks and what it writes at them.

pyqtgraph's ``AxisItem`` (numbers) and ``DateAxisItem`` (POSIX times, in local time) choose
the ticks: round steps in levels (major, minor), the time format for the zoom level. This
module only asks them (``tickValues``, ``tickStrings``) and applies pyqtgraph's own rules
for which levels get labels and how faint each level's grid line is; it draws nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg
from PySide6.QtGui import QFont, QFontMetricsF

__all__ = ["GRID_ALPHA", "AxisTicks", "Tick"]

#: The grid's opacity, out of 255 (pyqtgraph's ``showGrid(alpha=0.25)``).
GRID_ALPHA = 64
#: (labels already placed, fill ratio): a minor level gets no labels once its labels and
#: those before it would fill this share of the axis (pyqtgraph's ``textFillLimits``).
_FILL_LIMITS = ((0, 0.8), (2, 0.6), (4, 0.4), (6, 0.2))


@dataclass(frozen=True, slots=True)
class Tick:
    """One tick: its value, its level (0 the major one) and its label (None: unlabelled)."""

    value: float
    level: int
    label: str | None


class AxisTicks:
    """The ticks of one axis (``time``: POSIX seconds shown as local clock times), their
    labels measured with ``font``. The last ticks are kept until the range or length moves
    (the latency range rarely does), and the labels of the last few tick sets and the width
    of each label are remembered: as a time axis scrolls by a second its ticks mostly keep
    their values."""

    CACHE_SIZE = 8

    def __init__(self, *, time: bool, font: QFont) -> None:
        self.time = time
        self.metrics = QFontMetricsF(font)
        if time:
            self._axis: pg.AxisItem = pg.DateAxisItem("bottom")
            self._axis.fontMetrics = self.metrics  # what its zoom levels are measured with
        else:
            self._axis = pg.AxisItem("left")
        self._labels: dict[tuple[object, ...], list[str]] = {}
        self._widths: dict[str, float] = {}
        self._last: tuple[tuple[float, float, float], list[Tick]] = ((0.0, 0.0, 0.0), [])
        self._wide: tuple[float, float, float, list[tuple[float, Any]]] = (0.0, 0.0, -1.0, [])

    def ticks(self, lo: float, hi: float, length_px: float) -> list[Tick]:
        """The ticks between ``lo`` and ``hi`` on an axis ``length_px`` long, major level
        first; the labels of a level are left out where they would crowd the axis."""
        if not hi > lo or length_px <= 0:
            return []
        if self._last[0] == (lo, hi, length_px):
            return self._last[1]
        levels = self._levels(lo, hi, length_px)
        out: list[Tick] = []
        labelled = 0
        filled = 0.0
        for level, (spacing, values) in enumerate(levels):
            shown = [v for v in values if lo <= v <= hi]
            labels = self._strings(shown, spacing)
            size = sum(self._extent(text) for text in labels)
            if level > 0 and any(labelled >= n and (filled + size) / length_px >= limit
                                 for n, limit in _FILL_LIMITS):
                labels = [None] * len(shown)  # type: ignore[list-item]
            else:
                labelled += len(shown)
                filled += size
            out.extend(Tick(float(v), level, text) for v, text in zip(shown, labels,
                                                                         strict=True))
        self._last = ((lo, hi, length_px), out)
        return out

    def width(self, text: str) -> float:
        """The width of label ``text`` in pixels."""
        width = self._widths.get(text)
        if width is None:
            if len(self._widths) >= 256:
                self._widths.clear()
            width = self._widths[text] = self.metrics.horizontalAdvance(text)
        return width

    def _levels(self, lo: float, hi: float, length_px: float) -> list[tuple[float, Any]]:
        """The axis's tick levels (spacing, values) for the range; values may lie outside it.

        A time axis picks its ticks from the density (seconds per pixel) alone: each level
        is the multiples of a round step of local time. So the levels are asked for three
        times the range (at the same density) and kept while the range scrolls within that
        and the density stays within 0.1 % (a full ring's span moves by the probes'
        jitter): a scroll by a second costs no call to ``DateAxisItem.tickValues``."""
        if not self.time:
            return list(self._axis.tickValues(lo, hi, length_px))
        density = (hi - lo) / length_px
        kept_density, kept_lo, kept_hi, levels = self._wide
        if not (kept_lo <= lo and hi <= kept_hi
                and abs(density - kept_density) <= kept_density * 1e-3):
            span = hi - lo
            levels = list(self._axis.tickValues(lo - span, hi + span, length_px * 3))
            self._wide = (density, lo - span, hi + span, levels)
        return levels

    def grid_alpha(self, level: int, count: int, length_px: float) -> int:
        """The opacity (0-255) of a grid line of ``level`` when that level has ``count``
        ticks on ``length_px``: pyqtgraph's rule (fainter for minor and crowded levels)."""
        alpha = 255 / (level + 1) * GRID_ALPHA / 255
        return int(alpha * min(max(0.05 * length_px / (count + 1), 0.0), 1.0))

    def _strings(self, values: list[float], spacing: float) -> list[str]:
        key = (tuple(values), spacing, getattr(self._axis, "zoomLevel", None))
        labels = self._labels.get(key)
        if labels is None:
            if len(self._labels) >= self.CACHE_SIZE:
                self._labels.clear()
            labels = self._labels[key] = list(self._axis.tickStrings(values, 1.0, spacing))
        return labels

    def _extent(self, text: str) -> float:
        """How much of the axis a label takes (its width across a horizontal axis)."""
        if self.time:
            return self.width(text)
        return self.metrics.height() * 0.8  # pyqtgraph's measure for a vertical axis
