"""LatencyCanvas: one target's latency line, its failure marks, axes, grid, title and legend,
painted by one widget.

The plot scrolls every second, so every pixel of it changes each time. Painted as a
pyqtgraph scene (view box, two axis items, a curve, a scatter item, a legend), that cost
~12 ms of CPU on a 900 x 800 plot of a 720-result ring, plus ~2 ms to move the range; here it
is a few fills, one ``drawLines`` for the line and an image per mark. The ticks, their
labels and the mark symbols are still pyqtgraph's (``AxisTicks``, ``drawSymbol``), so the
plot reads like the Timeline tab's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from pyqtgraph import mkBrush, mkPen
from pyqtgraph.graphicsItems.PlotCurveItem import arrayToLineSegments
from pyqtgraph.graphicsItems.ScatterPlotItem import drawSymbol
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from .axis_ticks import AxisTicks, Tick

__all__ = ["EMPTY", "FAIL_COLOR", "LINE_COLOR", "MIN_DOT_SPACING_PX", "Frame", "LatencyCanvas",
           "Series"]

LINE_COLOR = QColor("#1e88e5")
FAIL_COLOR = QColor("#d32f2f")
INK = QColor(150, 150, 150)  # axes, labels and grid: pyqtgraph's default foreground
#: Below this many pixels per probe, the line is drawn without a dot per probe.
MIN_DOT_SPACING_PX = 6
_PAD = 6.0  # around the whole plot
_TEXT_GAP = 5.0  # between a tick label and its axis (pyqtgraph's tickTextOffset)
_ALIGN_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_ALIGN_TOP = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
_LEGEND = ("latency", "failure")  # a line sample, then a mark sample, before each


@dataclass(frozen=True, slots=True, eq=False)
class Series:
    """What the canvas plots: ``xs`` POSIX seconds, ``ys`` latencies in ms (NaN: a gap in
    the line), failure marks at ``marks`` (x) drawn at height ``top``, the view's ranges."""

    xs: np.ndarray
    ys: np.ndarray
    marks: tuple[float, ...]
    top: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    title: str = ""


EMPTY = Series(np.empty(0), np.empty(0), (), 1.0, (0.0, 1.0), (0.0, 1.0))


@dataclass(frozen=True, slots=True)
class Frame:
    """Where everything but the data goes at the canvas's current size and ranges."""

    plot: QRectF  # the data area
    x_ticks: list[tuple[float, Tick]] = field(default_factory=list)  # (pixel x, tick)
    y_ticks: list[tuple[float, Tick]] = field(default_factory=list)  # (pixel y, tick)
    x_labels: list[tuple[QRectF, Qt.AlignmentFlag, str]] = field(default_factory=list)
    y_labels: list[tuple[QRectF, Qt.AlignmentFlag, str]] = field(default_factory=list)

    @property
    def labels(self) -> list[tuple[QRectF, Qt.AlignmentFlag, str]]:
        """Every tick label: (rectangle, alignment, text)."""
        return self.y_labels + self.x_labels


class LatencyCanvas(QWidget):
    """Paints a ``Series`` (``show``): grid, axes with time and millisecond labels, the line
    (2 px; a dot per probe while they are at least ``MIN_DOT_SPACING_PX`` apart), a red
    mark per failure, the title above and a legend in the top right corner."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # every pixel is painted
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.series = EMPTY
        self._frame: tuple[tuple[object, ...], Frame] | None = None
        self._pixmap: tuple[tuple[object, ...], QPixmap] | None = None
        self._side: tuple[tuple[object, ...], tuple[QRectF, list[tuple[float, Tick]], list[
            tuple[QRectF, Qt.AlignmentFlag, str]]]] | None = None
        self._use_font()
        self._line_pen = QPen(LINE_COLOR, 2)  # 2 px at any scale (not a cosmetic pen's 2
        # device pixels, thin on a high-DPI screen)
        self._symbols: tuple[float, QImage, QImage] | None = None  # (ratio, dot, cross)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(640, 400)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.FontChange:  # a style sheet's or the system's
            self._use_font()
        super().changeEvent(event)

    def _use_font(self) -> None:
        """Measure and lay out with the widget's current font (from scratch)."""
        self._x_axis = AxisTicks(time=True, font=self.font())
        self._y_axis = AxisTicks(time=False, font=self.font())
        self._frame = self._side = self._pixmap = None

    def show_series(self, series: Series) -> None:
        """Plot ``series`` (repainted on the next paint)."""
        self.series = series
        self.update()

    def dots(self) -> bool:
        """Whether each probe gets a dot: few enough of them for the plot's width."""
        return len(self.series.xs) * MIN_DOT_SPACING_PX <= max(self.frame().plot.width(), 1)

    def to_pixel(self, x: float, y: float) -> QPointF:
        """Where the data point (``x`` s, ``y`` ms) is on the canvas."""
        mapping = self._mapping()
        return QPointF(float(mapping.x(np.array(x))), float(mapping.y(np.array(y))))

    def frame(self) -> Frame:
        """The layout for the current size and ranges (kept until one of them or the font
        moves)."""
        series = self.series
        key = (self.width(), self.height(), series.x_range, series.y_range)
        if self._frame is None or self._frame[0] != key:
            self._frame = (key, self._layout())
        return self._frame[1]

    def _layout(self) -> Frame:
        plot, y_ticks, y_labels = self._latency_side()
        x0, x1 = self.series.x_range
        frame = Frame(plot, y_ticks=y_ticks, y_labels=y_labels)  # x filled below
        line = self._x_axis.metrics.height()
        x_scale = plot.width() / (x1 - x0) if x1 > x0 else 0.0
        placed: list[QRectF] = []
        for tick in self._x_axis.ticks(x0, x1, plot.width()):
            x = plot.left() + (tick.value - x0) * x_scale
            frame.x_ticks.append((x, tick))
            if tick.label:
                width = self._x_axis.width(tick.label)
                rect = QRectF(x - width / 2, plot.bottom() + _TEXT_GAP / 2, width, line)
                roomy = rect.adjusted(-4, 0, 4, 0)
                if (rect.left() >= 0 and rect.right() <= self.width()
                        and not any(roomy.intersects(other) for other in placed)):
                    placed.append(rect)
                    frame.x_labels.append((rect, _ALIGN_TOP, tick.label))
        return frame

    def _latency_side(self) -> tuple[QRectF, list[tuple[float, Tick]],
                                     list[tuple[QRectF, Qt.AlignmentFlag, str]]]:
        """The data area, the latency ticks and their labels: they follow the size, the
        font and the latency range, not the time, so they are kept until one of those
        moves."""
        key = (self.width(), self.height(), self.series.y_range)
        if self._side is not None and self._side[0] == key:
            return self._side[1]
        metrics = self._y_axis.metrics
        line = metrics.height()
        top = _PAD + QFontMetricsF(self._title_font()).height() + 8  # title and legend
        bottom = self.height() - _PAD - line - _TEXT_GAP
        y0, y1 = self.series.y_range
        height = max(bottom - top, 1.0)
        ticks = self._y_axis.ticks(y0, y1, height)
        widest = max((self._y_axis.width(t.label) for t in ticks if t.label), default=0.0)
        left = _PAD + line + _TEXT_GAP + widest + _TEXT_GAP
        plot = QRectF(left, top, max(self.width() - _PAD - 10.0 - left, 1.0), height)
        y_scale = plot.height() / (y1 - y0) if y1 > y0 else 0.0
        y_ticks, y_labels = [], []
        for tick in ticks:
            y = plot.bottom() - (tick.value - y0) * y_scale
            y_ticks.append((y, tick))
            if tick.label:
                rect = QRectF(left - _TEXT_GAP - widest, y - line / 2, widest, line)
                if plot.top() - line / 2 <= rect.center().y() <= plot.bottom() + 1:
                    y_labels.append((rect, _ALIGN_RIGHT, tick.label))
        self._side = (key, (plot, y_ticks, y_labels))
        return self._side[1]

    def _mapping(self) -> _Mapping:
        plot = self.frame().plot
        (x0, x1), (y0, y1) = self.series.x_range, self.series.y_range
        return _Mapping(x0, plot.width() / (x1 - x0) if x1 > x0 else 0.0, plot.left(),
                        y0, plot.height() / (y1 - y0) if y1 > y0 else 0.0, plot.bottom())

    def _title_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.2)
        return font

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        frame = self.frame()
        plot = frame.plot
        painter = QPainter(self)
        try:
            painter.drawPixmap(0, 0, self._background(frame))
            background = self.palette().color(QPalette.ColorRole.Window)
            self._paint_grid(painter, frame.x_ticks, plot, background, vertical=True)
            painter.setPen(INK)
            painter.drawLine(QPointF(plot.left(), plot.top()), plot.bottomLeft())
            painter.drawLine(plot.bottomLeft(), plot.bottomRight())
            for rect, flags, text in frame.x_labels:
                painter.drawText(rect, int(flags), text)
            painter.setClipRect(plot.adjusted(0, -8, 0, 0))  # the marks may reach above
            self._paint_data(painter)
        finally:
            painter.end()

    def _background(self, frame: Frame) -> QPixmap:
        """What does not move as time goes by: the background, the latency grid and labels,
        the title and the legend; drawn again only when the size, the latency range, the
        title, the palette or the font changed."""
        ratio = self.devicePixelRatioF()
        background = self.palette().color(QPalette.ColorRole.Window)
        key = (self.width(), self.height(), ratio, frame.plot.getRect(),
               tuple(frame.y_ticks), self.series.title, background.rgba())
        if self._pixmap is not None and self._pixmap[0] == key:
            return self._pixmap[1]
        pixmap = QPixmap(round(self.width() * ratio), round(self.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(background)
        painter = QPainter(pixmap)
        try:
            self._paint_grid(painter, frame.y_ticks, frame.plot, background, vertical=False)
            painter.setPen(INK)
            for rect, flags, text in frame.y_labels:
                painter.drawText(rect, int(flags), text)
            self._paint_legend(painter, frame.plot)
            self._paint_titles(painter, frame.plot)
        finally:
            painter.end()
        self._pixmap = (key, pixmap)
        return pixmap

    def _paint_grid(self, painter: QPainter, ticks: list[tuple[float, Tick]], plot: QRectF,
                    background: QColor, *, vertical: bool) -> None:
        """Faint lines at every tick, fainter for minor levels: each filled opaque in the
        colour a translucent line takes over the background (a translucent fill of a long
        column is blended row by row; an opaque one is a plain fill)."""
        counts: dict[int, int] = {}
        for _, tick in ticks:
            counts[tick.level] = counts.get(tick.level, 0) + 1
        axis, length = (self._x_axis, plot.width()) if vertical else (self._y_axis,
                                                                        plot.height())
        colors = {level: _over(INK, axis.grid_alpha(level, count, length), background)
                  for level, count in counts.items()}
        for at, tick in ticks:
            pixel = math.floor(at)
            if vertical and plot.left() < at <= plot.right():
                painter.fillRect(QRectF(pixel, plot.top(), 1, plot.height()),
                                 colors[tick.level])
            elif not vertical and plot.top() <= at < plot.bottom():
                painter.fillRect(QRectF(plot.left(), pixel, plot.width(), 1),
                                 colors[tick.level])

    def title(self) -> tuple[str, QRectF]:
        """The title as shown and where: centred above the plot, moved left and then
        shortened with an ellipsis where it would reach the legend."""
        plot = self.frame().plot
        legend = plot.right() - self._legend_width()
        metrics = QFontMetricsF(self._title_font())
        room = max(legend - 12 - plot.left(), 0.0)
        title = metrics.elidedText(self.series.title, Qt.TextElideMode.ElideRight, room)
        width = metrics.horizontalAdvance(title)
        left = max(min(plot.center().x() - width / 2, legend - 12 - width), plot.left())
        return title, QRectF(left, _PAD, width, plot.top() - _PAD)

    def _paint_titles(self, painter: QPainter, plot: QRectF) -> None:
        """The title above the plot and the rotated latency axis label at its left."""
        painter.setPen(INK)
        title, rect = self.title()
        if title:
            painter.save()
            painter.setFont(self._title_font())
            painter.drawText(rect.adjusted(0, 0, 1, 0), int(Qt.AlignmentFlag.AlignVCenter),
                             title)
            painter.restore()
        painter.save()
        painter.translate(_PAD, plot.center().y())
        painter.rotate(-90)
        line = self._y_axis.metrics.height()
        painter.drawText(QRectF(-plot.height() / 2, 0, plot.height(), line),
                         int(Qt.AlignmentFlag.AlignCenter), "latency (ms)")
        painter.restore()

    def _paint_data(self, painter: QPainter) -> None:
        series = self.series
        mapping = self._mapping()
        xs, ys = mapping.x(series.xs), mapping.y(series.ys)
        if len(xs) > 1:
            painter.setPen(self._line_pen)
            segments = arrayToLineSegments(xs, ys, connect="finite", finiteCheck=True)
            painter.drawLines(*segments.drawargs())
        if len(xs) and self.dots():
            self._stamp(painter, self._marks()[0], xs[np.isfinite(ys)], ys[np.isfinite(ys)])
        if series.marks:
            marks = mapping.x(np.array(series.marks))
            self._stamp(painter, self._marks()[1], marks,
                        mapping.y(np.full(len(marks), series.top)))

    def _marks(self) -> tuple[QImage, QImage]:
        """The dot and the failure cross (pyqtgraph's "o" and "x" symbols) as images at the
        screen's pixel ratio."""
        ratio = self.devicePixelRatioF()
        if self._symbols is None or self._symbols[0] != ratio:
            self._symbols = (ratio, _symbol("o", 5, QPen(Qt.PenStyle.NoPen), LINE_COLOR, ratio),
                             _symbol("x", 11, mkPen(FAIL_COLOR, width=2), FAIL_COLOR, ratio))
        return self._symbols[1], self._symbols[2]

    @staticmethod
    def _stamp(painter: QPainter, image: QImage, xs: np.ndarray, ys: np.ndarray) -> None:
        """``image`` centred on each point, on whole pixels (crisp, as each copy is alike)."""
        size = image.deviceIndependentSize()
        lefts = np.floor(xs - size.width() / 2 + 0.5).astype(int).tolist()
        tops = np.floor(ys - size.height() / 2 + 0.5).astype(int).tolist()
        for x, y in zip(lefts, tops, strict=True):
            painter.drawImage(x, y, image)

    def _legend_width(self) -> float:
        metrics = self._y_axis.metrics
        return sum(metrics.horizontalAdvance(text) + 24 + 14 for text in _LEGEND) - 14

    def _paint_legend(self, painter: QPainter, plot: QRectF) -> None:
        """The line's and the marks' meaning, right-aligned above the plot (not over it:
        the newest results, and failures, are at its top right)."""
        metrics = self._y_axis.metrics
        y = (_PAD + plot.top()) / 2
        right = plot.right()
        for text in reversed(_LEGEND):
            width = metrics.horizontalAdvance(text)
            painter.setPen(INK)
            painter.drawText(QRectF(right - width, y - metrics.height() / 2, width,
                                    metrics.height()), int(Qt.AlignmentFlag.AlignVCenter), text)
            if text == "latency":
                painter.setPen(self._line_pen)
                painter.drawLine(QPointF(right - width - 24, y), QPointF(right - width - 6, y))
            else:
                self._stamp(painter, self._marks()[1], np.array([right - width - 12]),
                            np.array([y]))
            right -= width + 24 + 14


@dataclass(frozen=True, slots=True)
class _Mapping:
    """Data (x s, y ms) to canvas pixels: ``left + (x - x0) * sx``, ``bottom - (y - y0) * sy``."""

    x0: float
    sx: float
    left: float
    y0: float
    sy: float
    bottom: float

    def x(self, values: np.ndarray) -> np.ndarray:
        return self.left + (values - self.x0) * self.sx

    def y(self, values: np.ndarray) -> np.ndarray:
        return self.bottom - (values - self.y0) * self.sy


def _symbol(name: str, size: float, pen: QPen, color: QColor, ratio: float) -> QImage:
    """pyqtgraph's symbol ``name`` (as its scatter plots draw it), ``size`` pixels across,
    as an image at pixel ratio ``ratio``."""
    side = math.ceil((size + max(math.ceil(pen.widthF()), 1)) * ratio)
    image = QImage(side, side, QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(ratio)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(side / ratio / 2, side / ratio / 2)
        drawSymbol(painter, name, size, pen, mkBrush(color))
    finally:
        painter.end()
    return image


def _over(ink: QColor, alpha: int, background: QColor) -> QColor:
    """``ink`` at opacity ``alpha`` (0-255) over an opaque ``background``."""
    a = alpha / 255
    return QColor(round(ink.red() * a + background.red() * (1 - a)),
                  round(ink.green() * a + background.green() * (1 - a)),
                  round(ink.blue() * a + background.blue() * (1 - a)))
