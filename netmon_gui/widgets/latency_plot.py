"""LatencyPlot: latency over time for one target, failures marked in red on top.

Results arrive one by one; the plot only marks itself dirty and redraws at most every
``REDRAW_MS`` from a single-shot QTimer, so a burst of results costs one redraw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from operator import is_
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QFont, QImage, QPainter, QPicture, QShowEvent
from PySide6.QtWidgets import QGraphicsItem, QLabel, QStackedWidget, QVBoxLayout, QWidget

from core.history import MemoryHistory
from core.probes.base import ProbeResult

__all__ = ["MIN_SPAN_S", "REDRAW_MS", "GridAxis", "LatencyPlot", "TimeAxis"]

REDRAW_MS = 250
MIN_SPAN_S = 60.0
_LINE = "#1e88e5"
_FAIL = "#d32f2f"


#: Below this many pixels per probe, the line is drawn without a dot per probe.
MIN_DOT_SPACING_PX = 6


class GridAxis(pg.AxisItem):  # type: ignore[misc]  # pyqtgraph is untyped
    """An axis whose tick (grid) lines are filled as one-pixel rectangles: the very pixels
    of AxisItem's 1 px ``drawLine`` (the rectangle is the line grown by half a pixel each
    way), but a translucent line costs Qt ~60 us per 900 px and the rectangle ~4 us."""

    def drawPicture(self, p: QPainter, axisSpec: tuple[Any, ...],  # noqa: N802, N803
                    tickSpecs: list[tuple[Any, ...]],  # noqa: N803 - pyqtgraph API
                    textSpecs: list[tuple[Any, ...]]) -> None:  # noqa: N803
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        pen, start, stop = axisSpec
        p.setPen(pen)
        p.drawLine(start, stop)
        for pen, start, stop in tickSpecs:  # axis-aligned: one of the sizes is 0
            x0, x1 = sorted((start.x(), stop.x()))
            y0, y1 = sorted((start.y(), stop.y()))
            p.fillRect(QRectF(x0 - 0.5, y0 - 0.5, x1 - x0 + 1, y1 - y0 + 1), pen.color())
        if self.style["tickFont"] is not None:
            p.setFont(self.style["tickFont"])
        p.setPen(self.textPen())
        p.setClipRect(self.boundingRect().toAlignedRect())
        for rect, flags, text in textSpecs:
            p.drawText(rect, int(flags), text)


class TimeAxis(pg.DateAxisItem):  # type: ignore[misc]  # pyqtgraph is untyped
    """The time axis, drawn straight onto the view: not recorded into a QPicture to be played
    back (it moves every second, so each picture would be played once). Its grid lines are
    one translucent row of pixels tiled down the view, not a translucent column per line
    (which Qt blends row by row, ~15x the cost). It remembers the labels of its last ticks:
    as the plot scrolls by a second, the ticks mostly keep their times, so their labels are
    looked up, not formatted again."""

    CACHE_SIZE = 8
    picture: QPicture | None  # AxisItem's: None when the range, size or style changed

    def __init__(self, orientation: str = "bottom") -> None:
        super().__init__(orientation=orientation)
        self._labels: dict[tuple[object, ...], list[str]] = {}
        self._specs: tuple[QFont, Any] = (QFont(), None)  # font, generateDrawSpecs()
        self._columns: dict[tuple[int, int, int], QImage] = {}  # (rgba, width, height)
        self._bounds: QRectF | None = None  # boundingRect(), while the specs are made

    def tickStrings(self, values: list[float], scale: float,  # noqa: N802 - pyqtgraph API
                    spacing: float) -> list[str]:
        key = (tuple(values), scale, spacing, self.zoomLevel, self.utcOffset)
        labels = self._labels.get(key)
        if labels is None:
            if len(self._labels) >= self.CACHE_SIZE:
                self._labels.clear()
            labels = self._labels[key] = super().tickStrings(values, scale, spacing)
        return list(labels)  # a copy: the axis blanks the labels of ticks out of view

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return self._bounds if self._bounds is not None else super().boundingRect()

    def paint(self, p: QPainter, *_: object) -> None:
        if self.picture is None:
            picture = QPicture()  # only a mark: what is drawn is kept as specs
            painter = QPainter(picture)  # measures text as AxisItem.paint's does
            if self.style["tickFont"] is not None:
                painter.setFont(self.style["tickFont"])
            self._bounds = super().boundingRect()  # asked again for every label
            try:
                self._specs = (painter.font(), self.generateDrawSpecs(painter))
            finally:
                self._bounds = None
                painter.end()
            self.picture = picture
        font, specs = self._specs
        if specs is None:
            return
        (pen, start, stop), ticks, texts = specs
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        p.setPen(pen)
        p.drawLine(start, stop)
        if ticks:
            self._draw_grid(p, ticks)
        p.setFont(font)
        p.setPen(self.textPen())
        p.setClipRect(self.boundingRect().toAlignedRect())
        for rect, flags, text in texts:
            p.drawText(rect, int(flags), text)
        p.restore()

    def _draw_grid(self, p: QPainter, ticks: list[tuple[Any, ...]]) -> None:
        """The vertical lines ``ticks`` (pen, top, bottom): in each, the pixels the raster
        engine fills for GridAxis's rectangle around it, as an image of that column. Qt
        blends a translucent fill of many rows on its thread pool, in parts, costing more
        CPU than the fill; it blends an image at a whole pixel itself, in one pass."""
        to_device = p.transform()
        p.resetTransform()
        for pen, start, stop in ticks:
            y0, y1 = sorted((start.y(), stop.y()))
            box = to_device.mapRect(QRectF(start.x() - 0.5, y0 - 0.5, 1, y1 - y0 + 1))
            left, top = _qround(box.left()), _qround(box.top())
            size = (_qround(box.right()) - left, _qround(box.bottom()) - top)
            key = (pen.color().rgba(), *size)
            column = self._columns.get(key)
            if column is None:
                if len(self._columns) >= 8:
                    self._columns.clear()
                column = QImage(*size, QImage.Format.Format_ARGB32_Premultiplied)
                self._columns[key] = column
                painter = QPainter(column)  # the color as is, premultiplied as a fill's
                painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
                painter.fillRect(column.rect(), pen.color())
                painter.end()
            p.drawImage(left, top, column)
        p.setTransform(to_device)


def _qround(value: float) -> int:
    """qRound, as the raster engine rounds a rectangle's edges to pixels."""
    return math.floor(value + 0.5)


class LatencyPlot(QWidget):
    """A PlotWidget over ``memory.points(target)`` with a coalesced redraw."""

    def __init__(self, memory: MemoryHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.memory = memory
        self.target: str | None = None
        self.redraws = 0
        self._stale = False  # a redraw was skipped while hidden
        self._title: str | None = None
        self._marks: tuple[object, ...] = ()  # the failure markers drawn: (xs, top, kinds)
        # the last redraw's checked_at and their POSIX times
        self._stamps: tuple[Sequence[datetime], np.ndarray] = ((), np.empty(0))
        self.plot = pg.PlotWidget(axisItems={"bottom": TimeAxis(), "left": GridAxis("left")},
                                  background=None)
        item = self.plot.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setLabel("left", "latency", units="ms")
        item.getAxis("left").enableAutoSIPrefix(False)
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=True, y=False)
        # The grid is drawn by the axes. The latency axis draws about 70 faint lines over
        # the whole plot: kept as a pixmap, redrawn only when the latency range or the size
        # moves, not on every paint. The time axis moves every second (few lines): a pixmap
        # of it would be redrawn each time, and costs more than drawing it.
        item.getAxis("left").setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.legend = item.addLegend(offset=(-10, 10), labelTextSize="9pt")
        self.curve = item.plot([], [], name="latency",
                               pen=pg.mkPen(_LINE, width=2),
                               symbol="o", symbolSize=5, symbolBrush=_LINE, symbolPen=None)
        self.failures = pg.ScatterPlotItem(size=11, symbol="x", pen=pg.mkPen(_FAIL, width=2),
                                           brush=pg.mkBrush(_FAIL), name="failure")
        item.addItem(self.failures)
        self.curve.setDynamicRangeLimit(None)  # the view always shows all the data
        for hidden in ("top", "right"):  # else they follow every range change, unseen
            item.getAxis(hidden).unlinkFromView()
        self.placeholder = QLabel("Select a target to see its latency", self)
        self.placeholder.setObjectName("placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.plot)
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
        """Rebuild the line and the failure markers from the memory ring."""
        self.redraws += 1
        self._stale = False
        item = self.plot.getPlotItem()
        results = self.memory.points(self.target) if self.target else []
        ats, oks, latencies, kinds = zip(*results, strict=True) if results else ((), (), (), ())
        times = self._timestamps(ats)
        ok = np.array(oks, dtype=bool)
        # A failure is a gap in the line (NaN, connect="finite") and a red mark on top.
        ys = np.array(latencies, dtype=float)  # a missing latency (None) is NaN
        ys[~ok] = math.nan
        bad = np.flatnonzero(~ok)
        measured = ys[~np.isnan(ys)]
        xs = times
        if not measured.size:  # no latency at all (failures, or successes a remote sent
            xs, ys = xs[:0], ys[:0]  # without one): no line
        # a dot per probe while they are apart; a dense line of dots says nothing more
        # than the line (and rebuilding hundreds of symbols costs ~6 ms per redraw)
        symbol = "o" if len(xs) * MIN_DOT_SPACING_PX <= max(self.plot.width(), 1) else None
        if symbol != self.curve.opts["symbol"]:
            self.curve.setSymbol(symbol)
        self.curve.setData(xs, ys, connect="finite")
        top = (float(measured.max()) if measured.size else 1.0) * 1.15 or 1.0
        marks = (tuple(times[bad].tolist()), top, tuple(kinds[i] for i in bad))
        if marks != self._marks:  # the same failures at the same height: kept (rebuilding
            self._marks = marks  # the markers costs ~1 ms; they change every ~10th second)
            self.failures.setData(list(marks[0]), [top] * len(bad), data=list(marks[2]))
        title = f"{self.target}: latency" if self.target else ""
        if title != self._title:  # setting it again lays the plot out again
            self._title = title
            item.setTitle(title)
        if not results:
            self.placeholder.setText("Select a target to see its latency" if not self.target
                                     else f"No results for {self.target} yet")
            self.stack.setCurrentWidget(self.placeholder)
            return
        self.stack.setCurrentWidget(self.plot)
        first, last = float(times[0]), float(times[-1])
        span = max(last - first, MIN_SPAN_S)  # never zoom below seconds on the time axis
        start = last - span
        pad = (last - start) * 0.03  # what setXRange's padding=0.03 adds each side
        # one range change, not one per axis: each one moves and updates both axes
        item.setRange(xRange=(start - pad, last + pad), yRange=(0, top * 1.08), padding=0)
        # the view applies a new range when the scene is about to paint, and the items it
        # moves then ask for a second, partial repaint on the next turn: apply it now
        self.plot.scene().prepareForPaint()

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
        """(latency points, failure markers) currently drawn."""
        _, ys = self.curve.getData()
        points = 0 if ys is None else int(np.count_nonzero(~np.isnan(ys)))
        return points, len(self.failures.data)

