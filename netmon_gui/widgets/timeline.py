"""TimelineView: one target's latency and success rate over 15 min .. 30 days, from history.

Three plots share one time axis: latency (average, and worst as a faint line), success
rate, and a lane with outages and the breaker's open / half-open periods. Outages are also
shaded in the two upper plots. The series comes from ``HistoryStore.timeline`` (on its
worker thread) or, without a history file, from the memory ring. A target that never
succeeded in the range shows its failures in time and says so, with no latency scale.
Hover shows the values under the pointer; drag pans and the wheel zooms the time axis;
"PNG..." and "CSV..." export what is shown.

Each recalled series is kept per (target, range) with its plot arrays, so switching back to
a target or range draws at once without reading the store again. A kept series is read
again (off the GUI thread) only when it is due: the target has a newer result than when it
was read (checked every second while shown: O(1), the memory ring's ``version``) and
the read is ``NEW_DATA_S`` (raw ranges) or ``REFRESH_S`` (bucketed ranges) old, or,
without new data, when the range has slid by about half a percent of its width (at least
``REFRESH_S``). Nothing is read while the view is hidden (another tab is shown).
A redraw reuses the plot items (``setData``) and leaves ranges, bands and labels alone
when they have not changed.
"""

from __future__ import annotations

import asyncio
import bisect
import csv
import logging
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.clock import Clock, SystemClock
from core.history import RANGES, HistoryStore, MemoryHistory, TimelineSeries
from core.history.timeline import series_from_points

from .. import fmt

__all__ = ["RANGE_LABELS", "TimelineView"]

_log = logging.getLogger("netmon.gui")

RANGE_LABELS = {"15m": "15 min", "1h": "1 h", "24h": "24 h", "7d": "7 d", "30d": "30 d"}
TICK_MS = 1000  # how often the view looks for new data (a cheap check)
NEW_DATA_S = 1.0  # raw ranges: new results show within about a second
REFRESH_S = 15.0  # bucketed ranges: new results show within this; the least re-read age
SLIDE_FRACTION = 200  # without new data, re-read once the range slid by 1/200 of its width
CACHE_SIZE = 64  # recalled series kept, least recently shown dropped first
_LINE = "#1e88e5"
_WORST = "#90caf9"
_OK = "#43a047"
_FAIL = "#d32f2f"
_EMPTY = np.zeros(0)
_BANDS = {"outage": (211, 47, 47, 55), "open": (245, 124, 0, 150),
          "forced_open": (245, 124, 0, 150), "half_open": (251, 192, 45, 150)}


def _band(plot: pg.PlotItem, y0: float, height: float,
          rgba: tuple[int, int, int, int]) -> pg.BarGraphItem:
    """One item that draws any number of spans as rectangles (``_set_spans`` fills it)."""
    item = pg.BarGraphItem(x0=np.zeros(0), x1=np.zeros(0), y0=y0, height=height,
                           brush=pg.mkBrush(*rgba), pen=pg.mkPen(None))
    item.setZValue(-10)
    plot.getViewBox().addItem(item, ignoreBounds=True)  # ranges are set explicitly
    return item


def _set_spans(item: pg.BarGraphItem, spans: list[tuple[float, float]],
               height: float | None = None) -> None:
    """Give ``item`` these spans (and height); left alone when they are what it shows."""
    opts = item.opts
    if not spans and not len(opts["x0"]) and height in (None, opts["height"]):
        return
    x0 = np.array([a for a, _ in spans], dtype=float)
    x1 = np.array([b for _, b in spans], dtype=float)
    if (height in (None, opts["height"]) and np.array_equal(x0, opts["x0"])
            and np.array_equal(x1, opts["x1"])):
        return
    new: dict[str, object] = {"x0": x0, "x1": x1}
    if height is not None:
        new["height"] = height
    item.setOpts(**new)


@dataclass(slots=True, eq=False)
class _Shown:
    """A recalled series with its plot arrays, and what it was read after."""

    series: TimelineSeries
    version: int  # the target's ``MemoryHistory.version`` when it was read
    read_at: float  # clock.monotonic() when it was read
    xs: np.ndarray
    latency: np.ndarray
    worst: np.ndarray
    rate: np.ndarray
    fail_x: np.ndarray
    fail_y: np.ndarray
    top: float  # top of the latency scale (1 when nothing succeeded)
    summary: str

    @classmethod
    def of(cls, series: TimelineSeries, version: int, read_at: float) -> _Shown:
        """Convert ``series`` once (None latencies become NaN gaps)."""
        xs = np.asarray(series.ts, dtype=float)
        latency = np.array(series.latency, dtype=float)  # None -> nan
        worst = np.array(series.latency_max, dtype=float)
        count = np.asarray(series.count, dtype=float)
        failures = np.asarray(series.failures, dtype=float)
        rate = np.where(count > 0, (count - failures) / np.maximum(count, 1) * 100, np.nan)
        bad = failures > 0
        top = 1.0
        if series.ever_succeeded:
            top = float(np.nanmax(worst if series.step else latency)) * 1.1 or 1.0
        return cls(series, version, read_at, xs, latency, worst, rate, xs[bad], rate[bad],
                   top, TimelineView.summary(series))


class TimelineView(QWidget):
    """Latency, success rate, outages and breaker periods of the selected target."""

    loaded = Signal(object)  # the TimelineSeries just read and drawn

    def __init__(self, history: HistoryStore | None, memory: MemoryHistory,
                 breaker_of: Callable[[str], str | None],
                 parent: QWidget | None = None, *, clock: Clock | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.memory = memory
        self.breaker_of = breaker_of
        self.clock: Clock = clock or SystemClock()
        self.target: str | None = None
        self.range = "1h"
        self.series: TimelineSeries | None = None
        self.redraws = 0
        self.reads = 0  # series read (from the store or the memory ring)
        self._cache: OrderedDict[tuple[str, str], _Shown] = OrderedDict()
        self._zoomed = False  # the user dragged or zoomed the time axis of this view
        self._retry_at = -math.inf  # after a failed read, the next tick that may try again
        self._task: asyncio.Task[None] | None = None
        self._closed = False

        bar = QHBoxLayout()
        bar.setSpacing(4)
        self.range_buttons = QButtonGroup(self)
        for key, label in RANGE_LABELS.items():
            button = QToolButton(self)
            button.setText(label)
            button.setCheckable(True)
            button.setObjectName(f"range_{key}")
            button.setChecked(key == self.range)
            button.clicked.connect(lambda _=False, k=key: self.set_range(k))
            self.range_buttons.addButton(button)
            bar.addWidget(button)
        bar.addStretch(1)
        self.png_button = QToolButton(self)
        self.png_button.setText("PNG...")
        self.png_button.setToolTip("Save the timeline as a PNG image")
        self.png_button.clicked.connect(lambda: self._ask_path("PNG image (*.png)", ".png",
                                                               self.export_png))
        self.csv_button = QToolButton(self)
        self.csv_button.setText("CSV...")
        self.csv_button.setToolTip("Save the series shown as CSV")
        self.csv_button.clicked.connect(lambda: self._ask_path("CSV (*.csv)", ".csv",
                                                               self.export_csv))
        bar.addWidget(self.png_button)
        bar.addWidget(self.csv_button)
        self.readout = QLabel("", self)
        self.readout.setObjectName("timelineReadout")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.canvas = pg.GraphicsLayoutWidget(self)
        self.canvas.setBackground(None)
        self.canvas.ci.setSpacing(0)
        self.latency_plot = self.canvas.addPlot(row=0, col=0)
        self.rate_plot = self.canvas.addPlot(row=1, col=0)
        self.lane_plot = self.canvas.addPlot(
            row=2, col=0, axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        layout = self.canvas.ci.layout
        for row, stretch in ((0, 5), (1, 3), (2, 1)):
            layout.setRowStretchFactor(row, stretch)
        for plot in (self.latency_plot, self.rate_plot, self.lane_plot):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setMouseEnabled(x=True, y=False)
            plot.getAxis("left").setWidth(56)
            plot.getViewBox().sigRangeChangedManually.connect(self._zoom)
            plot.setDownsampling(auto=True, mode="peak")  # at most ~2 points per pixel
            plot.setClipToView(True)
        # no grid: its translucent lines were most of a repaint
        for plot in (self.latency_plot, self.rate_plot):
            plot.setXLink(self.lane_plot)
            plot.hideAxis("bottom")
        self.latency_plot.setLabel("left", "latency", units="ms")
        self.latency_plot.getAxis("left").enableAutoSIPrefix(False)
        self.rate_plot.setLabel("left", "success", units="%")
        self.rate_plot.getAxis("left").enableAutoSIPrefix(False)
        self.rate_plot.setYRange(0, 105, padding=0)
        self.lane_plot.setYRange(0, 2, padding=0)
        self.lane_plot.getAxis("left").setTicks([[(0.5, "breaker"), (1.5, "outage")]])
        self.lane_plot.setMaximumHeight(90)
        # Cosmetic 1-px pens and no area fills: wide pens and fills were most of a redraw.
        self.worst = self.latency_plot.plot([], [], pen=pg.mkPen(_WORST), connect="finite")
        self.curve = self.latency_plot.plot([], [], pen=pg.mkPen(_LINE), connect="finite")
        self.rate = self.rate_plot.plot([], [], pen=pg.mkPen(_OK), connect="finite")
        self.outage_bands = [_band(self.latency_plot, 0, 1, _BANDS["outage"]),
                             _band(self.rate_plot, 0, 105, _BANDS["outage"]),
                             _band(self.lane_plot, 1.1, 0.8, _BANDS["outage"])]
        self.breaker_bands = {state: _band(self.lane_plot, 0.1, 0.8, rgba)
                              for state, rgba in _BANDS.items() if state != "outage"}
        self.fail_marks = pg.ScatterPlotItem(size=7, symbol="t1", pen=None,
                                             brush=pg.mkBrush(_FAIL))
        self.rate_plot.addItem(self.fail_marks)
        self.never = pg.TextItem("", color=_FAIL, anchor=(0.5, 0.5))
        self.latency_plot.addItem(self.never, ignoreBounds=True)
        self.cursors = [pg.InfiniteLine(angle=90, movable=False,
                                        pen=pg.mkPen((120, 120, 120), width=1))
                        for _ in range(3)]
        for plot, line in zip((self.latency_plot, self.rate_plot, self.lane_plot),
                              self.cursors, strict=True):
            plot.addItem(line, ignoreBounds=True)
            line.hide()
        self._mouse = pg.SignalProxy(self.canvas.scene().sigMouseMoved, rateLimit=30,
                                     slot=self._hover)

        self.placeholder = QLabel("Select a target to see its timeline", self)
        self.placeholder.setObjectName("placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(6)
        box.addLayout(bar)
        box.addWidget(self.readout)
        box.addWidget(self.canvas, 1)
        box.addWidget(self.placeholder, 1)
        self.canvas.hide()
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self.tick)
        self._timer.start()

    # --- what to show ----------------------------------------------------------------
    def set_target(self, name: str | None) -> None:
        """Show ``name`` (None: a hint) and load its series."""
        if name == self.target:
            return
        self.target = name
        self.series = None
        self._zoomed = False
        self._show_current()

    def set_range(self, key: str) -> None:
        """Show the range ``key`` (a ``RANGES`` key) and load it."""
        if key not in RANGES:
            raise KeyError(key)
        self.range = key
        for button in self.range_buttons.buttons():
            button.setChecked(button.objectName() == f"range_{key}")
        self._zoomed = False  # choosing a range (again) shows all of it
        self._show_current()

    def _show_current(self) -> None:
        """Draw the kept series of the target and range at once, if there is one, and
        read it again when it is due (or was never read)."""
        key = (self.target or "", self.range)
        kept = self._cache.get(key)
        if kept is None:
            self.reload()
            return
        self._cache.move_to_end(key)
        self._show(kept)
        if self._due(kept):
            self.reload()
        elif self._task is not None and not self._task.done():
            self._task.cancel()  # an older read of another target or range

    def tick(self) -> None:
        """Read the shown series again if it is due (the timer calls this every second;
        nothing is read while the view is hidden, e.g. on another tab)."""
        if self.target is None or self._closed or not self.isVisible():
            return
        if self._task is not None and not self._task.done():
            return
        kept = self._cache.get((self.target, self.range))
        if kept is None:
            if self.clock.monotonic() >= self._retry_at:
                self.reload()
        elif self._due(kept):
            self.reload()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Catch up at once when shown again (the tab is chosen)."""
        super().showEvent(event)
        self.tick()

    def _due(self, kept: _Shown) -> bool:
        seconds, step, _ = RANGES[self.range]
        age = self.clock.monotonic() - kept.read_at
        if self.memory.version(kept.series.target) != kept.version:
            return age >= (NEW_DATA_S if step == 0 else REFRESH_S)
        return age >= max(REFRESH_S, seconds / SLIDE_FRACTION)

    def reload(self) -> asyncio.Task[None] | None:
        """Read the series again (on the store's worker thread) and redraw; returns the
        task, owned here (a newer reload cancels an older one)."""
        if self._closed:
            return None
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self.target is None:
            self._task = None
            self.draw(None)
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # built before the loop runs: load once it does
            QTimer.singleShot(0, self.reload)
            return None
        self._task = loop.create_task(self._load(self.target, self.range), name="gui-timeline")
        return self._task

    async def wait_loaded(self) -> None:
        """Wait for the load in progress, if any."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _load(self, target: str, range_name: str) -> None:
        seconds = RANGES[range_name][0]
        version = self.memory.version(target)  # the read below includes this, at least
        read_at = self.clock.monotonic()
        try:
            if self.history is not None:
                series = await self.history.timeline(target, range_name,
                                                     breaker=self.breaker_of(target))
            else:
                until = datetime.now(UTC).timestamp()
                series = series_from_points(target, self.memory.points(target),
                                             until - seconds, until)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a closed or unreadable store: say so, keep running
            _log.warning("timeline of %s could not be read: %s", target, exc)
            self.readout.setText(f"History could not be read: {exc}")
            self._retry_at = self.clock.monotonic() + REFRESH_S
            return
        self.reads += 1
        kept = self._keep(range_name, _Shown.of(series, version, read_at))
        if target == self.target and range_name == self.range:
            self._show(kept)
            self.loaded.emit(series)

    def _keep(self, range_name: str, shown: _Shown) -> _Shown:
        key = (shown.series.target, range_name)
        self._cache[key] = shown
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return shown

    # --- drawing ---------------------------------------------------------------------
    def draw(self, series: TimelineSeries | None) -> None:
        """Draw ``series`` (None: the placeholder)."""
        if series is None:
            self.redraws += 1
            self.series = None
            self.placeholder.setText("Select a target to see its timeline")
            self.canvas.hide()
            self.placeholder.show()
            self.readout.setText("")
            return
        self._show(_Shown.of(series, self.memory.version(series.target),
                             self.clock.monotonic()))

    def _show(self, shown: _Shown) -> None:
        """Put ``shown`` on the plots, reusing their items; ranges, bands, labels and
        texts are set only when they change."""
        self.redraws += 1
        series = self.series = shown.series
        self.placeholder.hide()
        self.canvas.show()
        xs = shown.xs
        self.curve.setData(xs, shown.latency, connect="finite")
        if series.step:
            self.worst.setData(xs, shown.worst, connect="finite")
        else:  # raw points: average and worst are the same
            self.worst.setData(_EMPTY, _EMPTY)
        self.rate.setData(xs, shown.rate, connect="finite")
        self.fail_marks.setData(shown.fail_x, shown.fail_y)
        self._set_range(self.latency_plot, 1, 0.0, shown.top)
        if series.ever_succeeded:
            self._latency_scale(True)
            self._set_text("")
        else:
            failed = int(sum(series.failures))
            self._latency_scale(False)
            self._set_text(
                f"No successful probe in this range: {failed} failure"
                f"{'s' if failed != 1 else ''}, shown below" if failed else
                "No results in this range")
            self.never.setPos((series.since + series.until) / 2, 0.5)
        self._draw_bands(series, shown.top)
        if not self._zoomed:  # a refresh keeps what the user zoomed into
            self._set_range(self.lane_plot, 0, series.since, series.until)
        if self.readout.text() != shown.summary:
            self.readout.setText(shown.summary)

    def _zoom(self, *_: object) -> None:
        self._zoomed = True

    def _set_text(self, text: str) -> None:
        if self.never.textItem.toPlainText() != text:
            self.never.setText(text)

    @staticmethod
    def _set_range(plot: pg.PlotItem, axis: int, low: float, high: float) -> None:
        """Set one axis's range unless it is already within half a pixel of it (a new
        range re-lays the axis and every linked plot out)."""
        box = plot.getViewBox()
        now_low, now_high = box.viewRange()[axis]
        pixels = box.width() if axis == 0 else box.height()
        slack = (high - low) / pixels / 2 if pixels >= 2 else 0.0
        if abs(now_low - low) <= slack and abs(now_high - high) <= slack:
            return
        if axis == 0:
            plot.setXRange(low, high, padding=0)
        else:
            plot.setYRange(low, high, padding=0)

    def _latency_scale(self, shown: bool) -> None:
        """Show or hide the latency scale (changed only when needed: relabelling an axis
        re-lays out the plots)."""
        left = self.latency_plot.getAxis("left")
        if bool(left.style["showValues"]) == shown:
            return
        left.setStyle(showValues=shown)
        self.latency_plot.setLabel("left", "latency" if shown else "", units="ms" if shown
                                   else None)

    def _draw_bands(self, series: TimelineSeries, top: float) -> None:
        latency, rate, lane = self.outage_bands
        _set_spans(latency, series.outages, top)
        _set_spans(rate, series.outages)
        _set_spans(lane, series.outages)
        for state, item in self.breaker_bands.items():
            _set_spans(item, [(p.start, p.end) for p in series.breaker if p.state == state])

    @staticmethod
    def summary(series: TimelineSeries) -> str:
        """The one-line read-out of ``series`` (results, success, latency, outages)."""
        total, failed = sum(series.count), sum(series.failures)
        if not total:
            return f"{series.target}: no results in this range"
        lat = [v for v in series.latency if v is not None]
        avg = fmt.latency(sum(lat) / len(lat)) if lat else fmt.DASH
        down = sum(b - a for a, b in series.outages)
        return (f"{series.target}: {total - failed}/{total} ok "
                f"({fmt.percent((total - failed) / total)}), avg latency {avg}, "
                f"outages {len(series.outages)} ({_duration(down)}), breaker not closed "
                f"{len(series.breaker)}x")

    def _hover(self, event: tuple[QPointF]) -> None:
        series = self.series
        if series is None or not series.ts:
            return
        pos = event[0]
        if not any(plot.getViewBox().sceneBoundingRect().contains(pos)
                   for plot in (self.latency_plot, self.rate_plot, self.lane_plot)):
            return  # over an axis or the margin
        x = self.lane_plot.getViewBox().mapSceneToView(pos).x()
        i = bisect.bisect_left(series.ts, x)
        if i > 0 and (i == len(series.ts) or x - series.ts[i - 1] < series.ts[i] - x):
            i -= 1
        for line in self.cursors:
            line.setPos(series.ts[i])
            line.show()
        when = datetime.fromtimestamp(series.ts[i], UTC)
        count, failed = series.count[i], series.failures[i]
        lat = series.latency[i]
        what = (f"{count - failed}/{count} ok" if series.step else
                ("ok" if not failed else "FAILED"))
        span = f" ({_duration(series.step)} bucket)" if series.step else ""
        self.readout.setText(f"{fmt.local_time(when)}{span}: {what}, latency "
                             f"{fmt.latency(lat) if lat is not None else fmt.DASH}")

    # --- export ----------------------------------------------------------------------
    def export_png(self, path: str | Path) -> Path:
        """Save the plots as a PNG (pyqtgraph's SVG export is broken; PNG only)."""
        exporter = ImageExporter(self.canvas.scene())
        exporter.parameters()["width"] = max(800, self.canvas.width())
        exporter.export(str(path))
        return Path(path)

    def export_csv(self, path: str | Path) -> Path:
        """Save the series shown as CSV: one row per point or bucket (UTC times)."""
        series = self.series
        with open(path, "w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["time_utc", "bucket_s", "results", "failures", "success_rate",
                          "latency_avg_ms", "latency_max_ms"])
            if series is not None:
                for i, ts in enumerate(series.ts):
                    count, failed = series.count[i], series.failures[i]
                    out.writerow([
                        datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z"),
                        series.step, count, failed,
                        f"{(count - failed) / count:.4f}" if count else "",
                        "" if series.latency[i] is None else f"{series.latency[i]:.3f}",
                        "" if series.latency_max[i] is None else f"{series.latency_max[i]:.3f}",
                    ])
        return Path(path)

    def _ask_path(self, filter_: str, suffix: str, save: Callable[[str], Path]) -> None:
        name = f"{self.target or 'timeline'}-{self.range}{suffix}"
        dialog = QFileDialog(self, "Export timeline", name, filter_)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.fileSelected.connect(save)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()  # never a nested event loop under qasync

    # --- shutdown --------------------------------------------------------------------
    async def aclose(self) -> None:
        """Stop refreshing and cancel a load in progress."""
        self.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def stop(self) -> None:
        """Stop the refresh timer (on close); no new loads start."""
        self._closed = True
        self._timer.stop()


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
