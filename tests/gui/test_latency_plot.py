"""The latency plot over a MemoryHistory: what it plots (the series from the ring, the view's
ranges) and what the canvas paints of it (line, gaps, marks, dots, ticks and labels, the
palette's background), checked on the painted pixels."""

from __future__ import annotations

import itertools
import math
import warnings
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.errors import ErrorKind
from core.history import MemoryHistory
from core.probes.base import ProbeResult
from netmon_gui.widgets.axis_ticks import AxisTicks
from netmon_gui.widgets.latency_canvas import FAIL_COLOR, LINE_COLOR, LatencyCanvas
from netmon_gui.widgets.latency_plot import LatencyPlot

START = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
LINE = LINE_COLOR.name()


def feed(memory: MemoryHistory, first: int, count: int, target: str = "t") -> None:
    """Results ``first`` .. ``first + count - 1``, one a second; every 7th fails (every
    other one of those after a measured time: still a gap in the line)."""
    for i in range(first, first + count):
        ok = i % 7 != 3
        latency = 1.0 + (i * 37 % 50) / 3 if ok or i % 14 == 3 else None
        memory.add(ProbeResult(target, "http", ok, latency,
                               START + timedelta(seconds=i),
                               error_kind=None if ok else ErrorKind.CONNECTION_REFUSED,
                               error=None if ok else "refused"))


def add(memory: MemoryHistory, i: int, latency: float | None, ok: bool = True) -> None:
    memory.add(ProbeResult("t", "http", ok, latency, START + timedelta(seconds=i),
                           error_kind=None if ok else ErrorKind.TIMEOUT,
                           error=None if ok else "timed out"))


def shown(qtbot: QtBot, memory: MemoryHistory, width: int = 900,
          target: str = "t") -> LatencyPlot:
    plot = LatencyPlot(memory)
    qtbot.addWidget(plot)
    plot.resize(width, 500)
    plot.show()
    plot.set_target(target)
    QApplication.processEvents()
    return plot


def image(plot: LatencyPlot) -> QImage:
    out: QImage = plot.canvas.grab().toImage()
    return out


def colors_at(picture: QImage, canvas: LatencyCanvas, x: float, y: float) -> set[str]:
    """The painted colours at the data point (x s, y ms): its pixel and the 8 around it
    (a line or mark is centred on the point to within rounding)."""
    at = canvas.to_pixel(x, y)
    px, py = math.floor(at.x()), math.floor(at.y())
    return {picture.pixelColor(px + dx, py + dy).name() for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)}


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
        series = plot.canvas.series
        assert series.xs.tolist() == [at.timestamp() for at, _, _, _ in points]
        want = [lat if ok and lat is not None else math.nan for _, ok, lat, _ in points]
        assert np.array_equal(series.ys, np.array(want, dtype=float), equal_nan=True)
        assert list(series.marks) == [at.timestamp() for at, ok, _, _ in points if not ok]
        assert series.top == max(y for y in want if not math.isnan(y)) * 1.15
        assert plot.point_count() == (sum(not math.isnan(y) for y in want),
                                      sum(not ok for _, ok, _, _ in points))


def test_only_failures_draw_marks_and_no_line(qtbot: QtBot) -> None:
    memory = MemoryHistory()
    for i in range(3):
        add(memory, i, None, ok=False)
    plot = shown(qtbot, memory)
    assert plot.point_count() == (0, 3)
    assert plot.canvas.series.top == 1.15
    picture = image(plot)
    for x in plot.canvas.series.marks:
        assert FAIL_COLOR.name() in colors_at(picture, plot.canvas, x, 1.15)


def test_successes_without_a_latency_keep_the_default_range(qtbot: QtBot) -> None:
    """Successes that carry no latency (a remote backend may leave it out) draw no line;
    the latency range stays 0 .. 1.08 x 1.15, not a NaN range."""
    memory = MemoryHistory()
    for i in range(3):
        add(memory, i, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "All-NaN slice" would fail here
        plot = shown(qtbot, memory)
        image(plot)
    assert plot.point_count() == (0, 0)
    assert plot.canvas.series.y_range == pytest.approx((0, 1.15 * 1.08))


def test_the_view_is_the_last_span_padded_3_percent_and_at_least_a_minute(
        qtbot: QtBot) -> None:
    """The time range is the results' span (at least a minute) padded 3 % each side, the
    latency range 0 .. 1.08 x the top of the marks."""
    memory = MemoryHistory()
    feed(memory, 0, 200)
    plot = shown(qtbot, memory)
    first, last = START.timestamp(), (START + timedelta(seconds=199)).timestamp()
    pad = (last - first) * 0.03
    assert plot.canvas.series.x_range == pytest.approx((first - pad, last + pad), abs=1e-6)
    top = max(r.latency_ms or 0 for r in memory.recent("t")) * 1.15
    assert plot.canvas.series.y_range == pytest.approx((0, top * 1.08))
    memory.forget("t")
    feed(memory, 0, 10)  # 9 s of results: a minute is shown, ending at the last
    plot.redraw()
    last = (START + timedelta(seconds=9)).timestamp()
    assert plot.canvas.series.x_range == pytest.approx((last - 61.8, last + 1.8))


def test_the_line_joins_measured_points_and_breaks_at_a_failure(qtbot: QtBot) -> None:
    """Painted pixels: the line's colour at every measured point and halfway between two
    neighbours; none halfway across a failure; a red mark at the failure's time, at the
    top; a dot per point while they are far apart."""
    memory = MemoryHistory()
    for i in range(40):
        add(memory, i, 10.0 if i % 2 else 12.0, ok=i != 20)
    plot = shown(qtbot, memory)
    canvas = plot.canvas
    picture = image(plot)
    at = [(START + timedelta(seconds=i)).timestamp() for i in range(40)]
    for i in (1, 2, 18, 22, 39):
        assert LINE in colors_at(picture, canvas, at[i], 10.0 if i % 2 else 12.0), i
    assert LINE in colors_at(picture, canvas, (at[4] + at[5]) / 2, 11.0)
    assert LINE not in colors_at(picture, canvas, at[20], 11.0)  # 19 -> 21 not joined
    assert LINE not in colors_at(picture, canvas, at[20], 10.0)
    assert FAIL_COLOR.name() in colors_at(picture, canvas, at[20], canvas.series.top)
    assert FAIL_COLOR.name() not in colors_at(picture, canvas, at[19], canvas.series.top)
    assert canvas.dots()
    dot = canvas.to_pixel(at[1], 10.0)  # 2 px below a low point: only its dot reaches there
    below = picture.pixelColor(math.floor(dot.x()), math.floor(dot.y()) + 2)
    assert below.blue() - below.red() > 60, below.name()  # the dot's (antialiased) edge


def test_dense_results_are_a_line_without_dots(qtbot: QtBot) -> None:
    memory = MemoryHistory()
    feed(memory, 0, 400)
    plot = shown(qtbot, memory, 700)
    assert len(plot.canvas.series.xs) * 6 > plot.canvas.frame().plot.width()
    assert not plot.canvas.dots()


def test_time_labels_are_local_clock_times_centred_on_their_ticks(qtbot: QtBot) -> None:
    """Five minutes of results: a label per labelled tick, the tick's local time (as
    DateAxisItem words it for the span), centred under it, inside the canvas and
    apart from each other; each minute boundary in view is a labelled tick."""
    memory = MemoryHistory()
    feed(memory, 0, 300)
    plot = shown(qtbot, memory)
    frame = plot.canvas.frame()
    texts = {text: rect for rect, _, text in frame.labels}
    labelled = [(x, t) for x, t in frame.x_ticks if t.label and t.label in texts]
    assert len(labelled) >= 4
    for x, tick in labelled:
        local = datetime.fromtimestamp(tick.value)
        assert tick.label in (local.strftime("%H:%M"), local.strftime("%H:%M:%S"))
        rect = texts[tick.label]
        assert rect.center().x() == pytest.approx(x)
        assert rect.top() >= frame.plot.bottom() and 0 <= rect.left() < rect.right() <= 900
    minutes = {int(t.value) for _, t in labelled}
    x0, x1 = plot.canvas.series.x_range
    assert {m for m in range(int(x0) // 60 * 60 + 60, int(x1), 60)} <= minutes
    rects = sorted((r for _, t in labelled for r in [texts[t.label]]), key=lambda r: r.left())
    assert all(a.right() < b.left() for a, b in itertools.pairwise(rects))


def test_latency_labels_are_round_values_at_their_heights(qtbot: QtBot) -> None:
    memory = MemoryHistory()
    for i in range(30):
        add(memory, i, 20.0 + i % 3)  # top 22 x 1.15, range 0 .. 27.3
    plot = shown(qtbot, memory)
    canvas = plot.canvas
    frame = canvas.frame()
    labels = {text: rect for rect, _, text in frame.labels}
    values = [float(t.label) for _, t in frame.y_ticks if t.label and t.label in labels]
    assert values[:2] == [0.0, 5.0] or values[:2] == [0.0, 10.0]
    assert max(values) >= 20
    for text, rect in labels.items():
        if text.replace(".", "").isdigit():
            y = canvas.to_pixel(0, float(text)).y()
            assert rect.center().y() == pytest.approx(y)
            assert rect.right() < frame.plot.left()


def test_a_scroll_moves_the_ticks_with_the_data(qtbot: QtBot) -> None:
    """One second later the tick times still in view sit further left, each where the new
    range puts its time, and the data are painted where the new range puts them."""
    memory = MemoryHistory()
    feed(memory, 0, 300)
    plot = shown(qtbot, memory)
    before = {t.value: x for x, t in plot.canvas.frame().x_ticks}
    feed(memory, 300, 1)
    plot.redraw()
    canvas = plot.canvas
    after = {t.value: x for x, t in canvas.frame().x_ticks}
    common = set(before) & set(after)
    assert len(common) >= 4
    for value in common:
        assert after[value] < before[value]
        assert after[value] == pytest.approx(canvas.to_pixel(value, 0).x())
    picture = image(plot)
    for at, ok, latency, _ in memory.points("t")[-12:]:
        if ok and latency is not None:
            assert LINE in colors_at(picture, canvas, at.timestamp(), latency)


def spike(memory: MemoryHistory, i: int) -> None:
    """Result ``i`` with a latency above all of feed()'s: the latency range grows."""
    add(memory, i, 80.0)


@pytest.mark.parametrize("change", ["scroll", "scroll-and-resize", "latency-range", "target"])
def test_a_long_lived_plot_paints_what_a_new_one_paints(qtbot: QtBot, change: str) -> None:
    """After a second more, a resize, a new latency range or a switch of target, the plot
    (with what it keeps between paints: layout, ticks, labels, the background pixmap) is
    pixel for pixel what a plot built from scratch over the same ring shows."""
    memory = MemoryHistory()
    feed(memory, 0, 300)
    feed(memory, 0, 301, target="u")  # the same results as "t" a second later: the title
    old = shown(qtbot, memory)  # is all that differs
    image(old)
    width = 900
    if change == "latency-range":
        spike(memory, 300)
    else:
        feed(memory, 300, 1)
    if change == "scroll-and-resize":
        width = 733
        old.resize(width, 500)
        QApplication.processEvents()
    old.redraw()
    if change == "target":
        old.set_target("u")
    new = shown(qtbot, memory, width, "u" if change == "target" else "t")
    assert image(old) == image(new)


@pytest.mark.parametrize("width", [900, 420], ids=["wide", "narrow"])
def test_the_title_stays_clear_of_the_legend_in_grey(qtbot: QtBot, width: int) -> None:
    """A title centred above the plot when there is room; at a narrow width it moves left
    and is shortened with an ellipsis rather than run into the legend; painted in the
    axes' grey (not the line's blue left by the legend's line sample)."""
    memory = MemoryHistory()
    name = "payments-gateway-primary-eu-west"
    for i in range(30):
        memory.add(ProbeResult(name, "http", True, 5.0, START + timedelta(seconds=i)))
    plot = shown(qtbot, memory, width, name)
    canvas = plot.canvas
    title, rect = canvas.title()
    legend_left = canvas.frame().plot.right() - canvas._legend_width()
    assert rect.right() <= legend_left - 12 + 0.01
    if width == 900:
        assert title == f"{name}: latency"
        assert rect.center().x() == pytest.approx(canvas.frame().plot.center().x())
    else:
        assert title.endswith("\u2026") and len(title) < len(f"{name}: latency")
    picture = image(plot)
    inked = [picture.pixelColor(x, y) for x in range(int(rect.left()), int(rect.right()))
             for y in range(int(rect.top()), int(rect.bottom()))]
    assert any(c.name() != picture.pixelColor(1, 1).name() for c in inked)  # text is there
    assert not any(c.blue() - c.red() > 60 for c in inked)  # and none of it blue


def test_a_new_font_measures_the_labels_with_that_font(qtbot: QtBot) -> None:
    """After a font change (a style sheet polish, a system font) the tick labels are laid
    out for the new font: their widths are the new font's, as a plot built with it has."""
    from PySide6.QtGui import QFont, QFontMetricsF

    memory = MemoryHistory()
    feed(memory, 0, 300)
    old = shown(qtbot, memory)
    image(old)
    font = QFont(old.canvas.font())
    font.setPointSizeF(font.pointSizeF() * 1.6)
    old.canvas.setFont(font)
    metrics = QFontMetricsF(font)
    frame = old.canvas.frame()
    for rect, _, text in frame.x_labels:
        assert rect.width() == pytest.approx(metrics.horizontalAdvance(text)), text
    widest = max(metrics.horizontalAdvance(text) for _, _, text in frame.y_labels)
    assert [rect.width() for rect, _, _ in frame.y_labels] == pytest.approx(
        [widest] * len(frame.y_labels))
    new = shown(qtbot, memory)
    new.canvas.setFont(font)
    assert image(old) == image(new)


def test_the_background_is_the_palettes_window_colour(qtbot: QtBot) -> None:
    memory = MemoryHistory()
    feed(memory, 0, 100)
    plot = shown(qtbot, memory)
    palette = QPalette(plot.canvas.palette())
    palette.setColor(QPalette.ColorRole.Window, QColor("#202124"))
    plot.canvas.setPalette(palette)
    assert image(plot).pixelColor(2, 2) == QColor("#202124")


def test_tick_labels_are_date_axis_items_own_and_kept_between_scrolls(qtbot: QtBot) -> None:
    """AxisTicks asks DateAxisItem for its labels: the same words, remembered for a
    repeated set of ticks (the list handed out is not changed by a later call)."""
    import pyqtgraph as pg

    ticks = AxisTicks(time=True, font=QApplication.font())
    theirs = pg.DateAxisItem("bottom")
    theirs.fontMetrics = ticks.metrics
    start = 1_700_000_000.0
    for lo in (start, start, start + 1):
        mine = ticks.ticks(lo, lo + 720, 900)
        levels = theirs.tickValues(lo, lo + 720, 900)
        spacing, values = levels[0]
        shown_values = [v for v in values if lo <= v <= lo + 720]
        assert [t.label for t in mine if t.level == 0] == theirs.tickStrings(
            shown_values, 1.0, spacing)
    assert ticks.ticks(start, start + 720, 900) is ticks.ticks(start, start + 720, 900)


def test_a_scrolling_time_axis_gives_the_ticks_a_fresh_one_gives(qtbot: QtBot) -> None:
    """The time axis keeps its tick levels while the range scrolls (at the density it had,
    within 0.1 %): over 20 minutes of one-second scrolls with a jittering span, a minute
    of growing span and a resize, each range's ticks are those of an axis that never saw
    another range."""
    font = QApplication.font()
    kept = AxisTicks(time=True, font=font)
    start = 1_700_000_000.0
    ranges = [(start + i - 720 + (i % 3) * 0.05, start + i, 900.0) for i in range(0, 1200, 3)]
    ranges += [(start - 300, start + i, 900.0) for i in range(60)]  # the span grows
    ranges += [(start - 720, start + i, 600.0) for i in range(5)]  # narrower
    for lo, hi, length in ranges:
        fresh = AxisTicks(time=True, font=font)
        assert kept.ticks(lo, hi, length) == fresh.ticks(lo, hi, length), (lo, hi, length)


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
        xs = plot.canvas.series.xs
        assert xs.tolist() == [at.timestamp() for at, _, _, _ in memory.points(target)]


def test_marks_are_drawn_at_the_screens_pixel_ratio(qtbot: QtBot) -> None:
    """On a 2x screen the failure cross is an image of twice the pixels (sharp), the same
    size on screen as at 1x, red at its centre."""
    from pyqtgraph import mkPen

    from netmon_gui.widgets.latency_canvas import _symbol

    pen = mkPen(FAIL_COLOR, width=2)
    one, two = _symbol("x", 11, pen, FAIL_COLOR, 1.0), _symbol("x", 11, pen, FAIL_COLOR, 2.0)
    assert two.width() == 2 * one.width() and two.deviceIndependentSize() == one.size()
    for image in (one, two):
        assert image.pixelColor(image.width() // 2, image.height() // 2).name() == \
            FAIL_COLOR.name()
