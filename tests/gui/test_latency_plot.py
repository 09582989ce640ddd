"""The latency plot over a MemoryHistory: what it draws, and that its shortcuts (grid lines
filled as rectangles or tiled as a row, the time axis drawn without a QPicture, timestamps
remembered between redraws, one range change) draw what the plain way draws."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage, QPainter, QPicture
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.errors import ErrorKind
from core.history import MemoryHistory
from core.probes.base import ProbeResult
from netmon_gui.widgets import latency_plot
from netmon_gui.widgets.latency_plot import GridAxis, LatencyPlot

START = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def feed(memory: MemoryHistory, first: int, count: int) -> None:
    """Results ``first`` .. ``first + count - 1``, one a second; every 7th fails (every
    other one of those after a measured time: still a gap in the line)."""
    for i in range(first, first + count):
        ok = i % 7 != 3
        latency = 1.0 + (i * 37 % 50) / 3 if ok or i % 14 == 3 else None
        memory.add(ProbeResult("t", "http", ok, latency,
                               START + timedelta(seconds=i),
                               error_kind=None if ok else ErrorKind.CONNECTION_REFUSED,
                               error=None if ok else "refused"))


def shown(qtbot: QtBot, memory: MemoryHistory, width: int = 900) -> LatencyPlot:
    plot = LatencyPlot(memory)
    qtbot.addWidget(plot)
    plot.resize(width, 500)
    plot.show()
    plot.set_target("t")
    QApplication.processEvents()
    return plot


def image(plot: LatencyPlot) -> QImage:
    """The plot as painted, after the axes settled their width to their labels (which
    they do on a paint, for the next layout)."""
    for _ in range(2):
        plot.plot.grab()
        QApplication.processEvents()
    out: QImage = plot.plot.grab().toImage()
    return out


def test_grid_lines_filled_as_rectangles_are_the_pixels_of_pyqtgraphs_lines(
        qtbot: QtBot) -> None:
    """GridAxis.drawPicture paints what AxisItem.drawPicture paints, pixel for pixel, for
    translucent grid lines at fractional positions and under a fractional offset."""
    axis = GridAxis("left")
    axis.setGrid(64)
    pen = pg.mkPen((150, 150, 150, 64))
    ticks = [(pen, pg.Point(10.3 + 37.7 * i, 3.6), pg.Point(10.3 + 37.7 * i, 180.2))
             for i in range(6)]  # vertical, as the time axis's
    ticks += [(pen, pg.Point(240.8, 5.5 + 29.3 * i), pg.Point(2.1, 5.5 + 29.3 * i))
              for i in range(6)]  # horizontal, drawn right to left as the left axis's
    line = (pg.mkPen("k"), pg.Point(1.0, 190.0), pg.Point(250.0, 190.0))
    specs: tuple[Any, ...] = (line, ticks, [])

    def drawn(draw: object) -> QImage:
        picture = QPicture()
        painter = QPainter(picture)
        draw(painter, *specs)  # type: ignore[operator]
        painter.end()
        out = QImage(260, 200, QImage.Format.Format_ARGB32_Premultiplied)
        out.fill(Qt.GlobalColor.white)
        painter = QPainter(out)
        painter.translate(QPointF(0.35, 0.65))
        picture.play(painter)
        painter.end()
        return out

    ours = drawn(axis.drawPicture)
    assert ours == drawn(lambda p, *s: pg.AxisItem.drawPicture(axis, p, *s))
    blank = QImage(ours.size(), ours.format())
    blank.fill(Qt.GlobalColor.white)
    assert ours != blank


def test_the_line_and_marks_come_from_the_ring(qtbot: QtBot) -> None:
    """x is each result's POSIX time, y its latency, a failure a gap (NaN) in the line and
    a mark at the top: also after the ring moved on (timestamps remembered from the last
    redraw must belong to the results now in the ring)."""
    memory = MemoryHistory(maxlen=50)
    feed(memory, 0, 40)
    plot = shown(qtbot, memory)
    for first in (40, 41, 60):
        feed(memory, first, 1 if first != 60 else 30)
        plot.redraw()
        points = memory.points("t")
        xs, ys = plot.curve.getData()
        assert xs.tolist() == [at.timestamp() for at, _, _, _ in points]
        want = [lat if ok and lat is not None else math.nan for _, ok, lat, _ in points]
        assert np.array_equal(ys, np.array(want, dtype=float), equal_nan=True)
        bad = [(at.timestamp(), kind) for at, ok, _, kind in points if not ok]
        marks = plot.failures.data
        assert [(m["x"], m["data"]) for m in marks] == bad
        assert {m["y"] for m in marks} == {max(y for y in want if not math.isnan(y)) * 1.15}


def test_only_failures_draw_marks_and_no_line(qtbot: QtBot) -> None:
    memory = MemoryHistory()
    for i in range(3):
        memory.add(ProbeResult("t", "http", False, None, START + timedelta(seconds=i),
                               error_kind=ErrorKind.CONNECTION_REFUSED, error="refused"))
    plot = shown(qtbot, memory)
    assert plot.point_count() == (0, 3)
    assert {m["y"] for m in plot.failures.data} == {1.15}


def test_successes_without_a_latency_keep_the_default_range(qtbot: QtBot) -> None:
    """Successes that carry no latency (a remote backend may leave it out) draw no line;
    the latency range stays 0 .. 1.08 x 1.15, not a NaN range."""
    memory = MemoryHistory()
    for i in range(3):
        memory.add(ProbeResult("t", "http", True, None, START + timedelta(seconds=i)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "All-NaN slice" would fail here
        plot = shown(qtbot, memory)
    assert plot.point_count() == (0, 0)
    (_, _), (y0, y1) = plot.plot.getPlotItem().getViewBox().viewRange()
    assert (y0, y1) == pytest.approx((0, 1.15 * 1.08))


def test_the_view_is_the_last_span_with_the_same_padding_as_before(qtbot: QtBot) -> None:
    """The time range is the results' span (at least a minute) padded 3 % each side, the
    latency range 0 .. 1.08 x the top of the marks."""
    memory = MemoryHistory()
    feed(memory, 0, 200)
    plot = shown(qtbot, memory)
    (x0, x1), (y0, y1) = plot.plot.getPlotItem().getViewBox().viewRange()
    first, last = START.timestamp(), (START + timedelta(seconds=199)).timestamp()
    pad = (last - first) * 0.03
    assert (x0, x1) == pytest.approx((first - pad, last + pad), abs=1e-6)
    top = max(r.latency_ms or 0 for r in memory.recent("t")) * 1.15
    assert (y0, y1) == pytest.approx((0, top * 1.08))


def spike(memory: MemoryHistory, i: int) -> None:
    """Result ``i`` with a latency above all of feed()'s: the latency range grows."""
    memory.add(ProbeResult("t", "http", True, 80.0, START + timedelta(seconds=i)))


@pytest.mark.parametrize(("width", "add"), [(900, feed), (640, feed), (900, spike)],
                         ids=["scroll", "scroll-and-resize", "scroll-and-latency-range"])
def test_a_long_lived_plot_looks_like_a_new_one_after_a_scroll(
        qtbot: QtBot, width: int, add: Any) -> None:
    """Redrawn after one more second (and a resize, or a new latency range), the plot is
    pixel for pixel what a plot built from scratch over the same ring shows: time labels,
    grid, line and marks."""
    memory = MemoryHistory()
    feed(memory, 0, 300)
    old = shown(qtbot, memory)
    image(old)
    add(memory, 300) if add is spike else add(memory, 300, 1)
    old.resize(width, 500)
    QApplication.processEvents()  # the resize reaches the view, as it does live
    old.redraw()
    new = shown(qtbot, memory, width)
    assert image(old) == image(new)


class PlainTimeAxis(pg.DateAxisItem):  # type: ignore[misc]  # pyqtgraph is untyped
    """pyqtgraph's own time axis: recorded into a QPicture, grid lines drawn one by one."""


@pytest.mark.parametrize("width", [900, 733], ids=["900", "733"])
def test_the_time_axis_paints_what_pyqtgraphs_time_axis_paints(
        qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    """TimeAxis (drawn without a QPicture, its grid tiled as one row of pixels) paints the
    plot pixel for pixel as pyqtgraph's DateAxisItem does: at first, after scrolls by a
    second, after a new latency range and after a resize."""
    memory = MemoryHistory()
    feed(memory, 0, 300)
    ours = shown(qtbot, memory, width)
    monkeypatch.setattr(latency_plot, "TimeAxis", PlainTimeAxis)
    plain = shown(qtbot, memory, width)
    assert isinstance(plain.plot.getPlotItem().getAxis("bottom"), PlainTimeAxis)
    def resize() -> None:
        for plot in (ours, plain):
            plot.resize(width - 57, 431)

    steps: list[Callable[[], None]] = [
        lambda: None, lambda: feed(memory, 300, 1), lambda: feed(memory, 301, 1),
        lambda: spike(memory, 302), resize]
    for step in steps:
        step()
        QApplication.processEvents()
        for plot in (ours, plain):
            plot.redraw()
        assert image(ours) == image(plain)


def test_times_are_right_after_a_switch_to_a_target_sharing_some_timestamps(
        qtbot: QtBot) -> None:
    """Timestamps remembered from the last redraw are reused only for the same results:
    after a switch to a target whose results share some ``checked_at`` objects with the
    last one's (one stamp for a probe round), each x is still its own result's time."""
    memory = MemoryHistory()
    rounds = [START + timedelta(seconds=i) for i in range(15)]
    for i in range(10):
        memory.add(ProbeResult("t", "http", True, 5.0, rounds[i]))
    for i in [*range(5), *range(10, 15)]:
        memory.add(ProbeResult("u", "http", True, 7.0, rounds[i]))
    plot = shown(qtbot, memory)
    for target in ("u", "t", "u"):
        plot.set_target(target)
        xs, _ = plot.curve.getData()
        assert xs.tolist() == [at.timestamp() for at, _, _, _ in memory.points(target)]
