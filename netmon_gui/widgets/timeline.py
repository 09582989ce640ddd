"""TimelineView: one target's latency and success rate over 15 min .. 30 days, from history.

Three plots share one time axis: latency (average, and worst as a faint line), success
rate, and a lane with outages and the breaker's open / half-open periods. Outages are also
shaded in the two upper plots. The series comes from ``HistoryStore.timeline`` (on its
worker thread) or, without a history file, from the memory ring. A target that never
succeeded in the range shows its failures in time and says so, with no latency scale.
Hover shows the values under the pointer; drag pans and the wheel zooms the time axis;
"PNG..." and "CSV..." export what is shown.
"""

from __future__ import annotations

import asyncio
import bisect
import csv
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.history import RANGES, HistoryStore, MemoryHistory, TimelineSeries
from core.history.timeline import series_from_results

from .. import fmt

__all__ = ["RANGE_LABELS", "TimelineView"]

_log = logging.getLogger("netmon.gui")

RANGE_LABELS = {"15m": "15 min", "1h": "1 h", "24h": "24 h", "7d": "7 d", "30d": "30 d"}
REFRESH_MS = 15000
_LINE = "#1e88e5"
_WORST = "#90caf9"
_OK = "#43a047"
_FAIL = "#d32f2f"
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
    opts: dict[str, object] = {"x0": np.array([a for a, _ in spans], dtype=float),
                               "x1": np.array([b for _, b in spans], dtype=float)}
    if height is not None:
        opts["height"] = height
    item.setOpts(**opts)


class TimelineView(QWidget):
    """Latency, success rate, outages and breaker periods of the selected target."""

    loaded = Signal(object)  # the TimelineSeries just drawn

    def __init__(self, history: HistoryStore | None, memory: MemoryHistory,
                 breaker_of: Callable[[str], str | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.memory = memory
        self.breaker_of = breaker_of
        self.target: str | None = None
        self.range = "1h"
        self.series: TimelineSeries | None = None
        self.redraws = 0
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
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.reload)
        self._timer.start()

    # --- what to show ----------------------------------------------------------------
    def set_target(self, name: str | None) -> None:
        """Show ``name`` (None: a hint) and load its series."""
        if name == self.target:
            return
        self.target = name
        self.series = None
        self.reload()

    def set_range(self, key: str) -> None:
        """Show the range ``key`` (a ``RANGES`` key) and load it."""
        if key not in RANGES:
            raise KeyError(key)
        self.range = key
        for button in self.range_buttons.buttons():
            button.setChecked(button.objectName() == f"range_{key}")
        self.reload()

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
        try:
            if self.history is not None:
                series = await self.history.timeline(target, range_name,
                                                     breaker=self.breaker_of(target))
            else:
                until = datetime.now(UTC).timestamp()
                series = series_from_results(target, self.memory.recent(target),
                                             until - seconds, until)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a closed or unreadable store: say so, keep running
            _log.warning("timeline of %s could not be read: %s", target, exc)
            self.readout.setText(f"History could not be read: {exc}")
            return
        if target == self.target and range_name == self.range:
            self.draw(series)
            self.loaded.emit(series)

    # --- drawing ---------------------------------------------------------------------
    def draw(self, series: TimelineSeries | None) -> None:
        """Draw ``series`` (None: the placeholder)."""
        self.redraws += 1
        self.series = series
        if series is None:
            self.placeholder.setText("Select a target to see its timeline")
            self.canvas.hide()
            self.placeholder.show()
            self.readout.setText("")
            return
        self.placeholder.hide()
        self.canvas.show()
        xs = np.asarray(series.ts, dtype=float)
        lat = np.array([math.nan if v is None else v for v in series.latency], dtype=float)
        worst = np.array([math.nan if v is None else v for v in series.latency_max],
                         dtype=float)
        count = np.asarray(series.count, dtype=float)
        failures = np.asarray(series.failures, dtype=float)
        rate = np.where(count > 0, (count - failures) / np.maximum(count, 1) * 100, np.nan)
        self.curve.setData(xs, lat, connect="finite")
        self.worst.setData(xs, worst if series.step else np.full_like(lat, np.nan),
                           connect="finite")
        self.rate.setData(xs, rate, connect="finite")
        bad = failures > 0
        self.fail_marks.setData(xs[bad], rate[bad])
        top = 1.0
        if series.ever_succeeded:
            top = float(np.nanmax(worst if series.step else lat)) * 1.1 or 1.0
            self.latency_plot.setYRange(0, top, padding=0)
            self._latency_scale(True)
            if self.never.textItem.toPlainText():
                self.never.setText("")
        else:
            failed = int(failures.sum())
            self.latency_plot.setYRange(0, 1, padding=0)
            self._latency_scale(False)
            self.never.setText(
                f"No successful probe in this range: {failed} failure"
                f"{'s' if failed != 1 else ''}, shown below" if failed else
                "No results in this range")
            self.never.setPos((series.since + series.until) / 2, 0.5)
        self._draw_bands(series, top)
        self.lane_plot.setXRange(series.since, series.until, padding=0)
        self.readout.setText(self._summary(series))

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
    def _summary(series: TimelineSeries) -> str:
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
        if not self.canvas.sceneBoundingRect().contains(pos):
            return
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
