"""The Timeline tab and uptime bars read stored history, also after a restart."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from core.config import Config, HistorySettings, Target
from core.errors import ErrorKind
from core.history import HistoryStore, TimelineSeries
from core.probes.base import ProbeResult
from core.runtime import NetmonCore
from core.testing import FakeClock
from netmon_gui.models.targets import COL_UPTIME
from netmon_gui.widgets.uptime_bar import UptimeRole
from netmon_gui.windows.main_window import MainWindow
from tests.gui.test_console import settle


def result(target: str, when: datetime, ok: bool, latency: float = 25.0) -> ProbeResult:
    return ProbeResult(target=target, kind="http", ok=ok, latency_ms=latency if ok else None,
                       checked_at=when, error_kind=None if ok else ErrorKind.TIMEOUT,
                       error=None if ok else "timed out")


@pytest.fixture
async def restarted(tmp_path: Path, qtbot: QtBot) -> AsyncIterator[MainWindow]:
    """A first run stored 40 min of results; a new core and window over the same file."""
    path = tmp_path / "history.sqlite3"
    now = datetime.now(UTC)
    async with HistoryStore(path) as store:
        for i in range(80):  # every 30 s; minutes 10..15 all failing
            when = now - timedelta(seconds=30 * (80 - i) + 15)  # off the range edges
            store.add(result("api", when, not 20 <= i < 32, 20.0 + i % 7))
            store.add(result("dead", when, False))
    config = Config(targets=[Target(name="api", kind="http", url="http://127.0.0.1:9/"),
                             Target(name="dead", kind="http", url="http://127.0.0.1:9/x")],
                    history=HistorySettings(path=str(path)))
    core = NetmonCore(config)
    await core.start(schedule=False)
    window = MainWindow(core)
    window.resize(1200, 760)
    window.show()
    try:
        yield window
    finally:
        window.close()
        await window.aclose()
        window.deleteLater()
        await core.stop()


async def test_timeline_reads_stored_history_after_a_restart(restarted: MainWindow) -> None:
    window = restarted
    view = window.timeline
    window.select_target("api")
    view.set_range("1h")
    await view.wait_loaded()
    series = view.series
    assert series is not None and series.target == "api"
    assert sum(series.count) == 80 and sum(series.failures) == 12
    assert len(series.outages) == 1
    start, end = series.outages[0]
    assert end - start == pytest.approx(12 * 30, abs=1)  # until the next success
    xs, _ = view.curve.getData()
    assert xs is not None and len(xs) == 80
    assert view.latency_plot.getAxis("left").style["showValues"]
    assert "68/80 ok" in view.readout.text()


async def test_a_target_that_never_succeeded_shows_failures_in_time(
        restarted: MainWindow) -> None:
    window = restarted
    view = window.timeline
    window.select_target("dead")
    await view.wait_loaded()
    assert view.series is not None and not view.series.ever_succeeded
    assert not view.latency_plot.getAxis("left").style["showValues"]  # no 0..1 latency scale
    assert "No successful probe in this range: 80 failures" in view.never.textItem.toPlainText()
    assert len(view.fail_marks.data) == 80  # each failure marked in time
    assert view.series.outages and view.series.outages[0][0] == view.series.ts[0]


async def test_ranges_uptime_bars_and_exports(restarted: MainWindow, tmp_path: Path) -> None:
    window = restarted
    view = window.timeline
    window.select_target("api")
    for key in ("15m", "24h", "7d", "30d"):
        view.set_range(key)
        await view.wait_loaded()
        assert view.series is not None and view.range == key
        # the newest result is 45 s old, so 15 min hold 29 of the results 30 s apart
        assert sum(view.series.count) == (29 if key == "15m" else 80), key
    await settle(lambda: window.targets_model.index(0, COL_UPTIME).data(UptimeRole)
                 is not None)
    bars = window.targets_model.index(0, COL_UPTIME).data(UptimeRole)
    assert sum(n for n, _ in bars) == 80 and sum(f for _, f in bars) == 12
    png = view.export_png(tmp_path / "t.png")
    image = QImage(str(png))
    assert image.width() >= 800 and len({image.pixel(x, image.height() // 3)
                                         for x in range(0, image.width(), 7)}) > 2
    text = view.export_csv(tmp_path / "t.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert sum(int(r["results"]) for r in rows) == 80
    assert rows[0]["time_utc"].endswith("Z") and rows[0]["bucket_s"] == "3600"


async def test_switching_back_draws_the_kept_series_and_new_results_show_up(
        restarted: MainWindow) -> None:
    window = restarted
    view = window.timeline
    store = window.core.history
    assert store is not None
    view.clock = clock = FakeClock()
    reads: list[tuple[str, str]] = []
    timeline = store.timeline

    async def counted(target: str, range_name: str, **kw: Any) -> TimelineSeries:
        reads.append((target, range_name))
        return await timeline(target, range_name, **kw)

    store.timeline = counted  # type: ignore[method-assign]  # the real store, counted
    tab = view.parentWidget()
    assert tab is not None
    window.tabs.setCurrentWidget(tab)  # the view reads only while shown
    window.select_target("api")
    view.set_range("1h")
    await view.wait_loaded()
    window.select_target("dead")
    await view.wait_loaded()
    assert reads == [("api", "1h"), ("dead", "1h")]
    redraws = view.redraws
    window.select_target("api")  # drawn at once from what was read, no second read
    assert view.series is not None and view.series.target == "api"
    assert view.redraws == redraws + 1 and sum(view.series.count) == 80
    clock.advance(10.0)
    view.tick()  # nothing new, the range has hardly moved: nothing to read
    await view.wait_loaded()
    assert reads == [("api", "1h"), ("dead", "1h")]

    newest = result("api", datetime.now(UTC) - timedelta(seconds=5), True, 99.0)
    window.core.monitor.memory.add(newest)  # what the monitor does with each result
    store.add(newest)
    view.tick()
    await view.wait_loaded()
    assert reads[-1] == ("api", "1h") and len(reads) == 3
    assert sum(view.series.count) == 81
    xs, ys = view.curve.getData()
    assert xs is not None and ys is not None and len(xs) == 81 and ys[-1] == 99.0
    assert "69/81 ok" in view.readout.text()

    window.tabs.setCurrentIndex(0)  # another tab: the timeline is hidden
    assert window.tabs.currentWidget() is not tab
    later = result("api", datetime.now(UTC) - timedelta(seconds=2), True, 42.0)
    window.core.monitor.memory.add(later)
    store.add(later)
    clock.advance(2.0)
    view.tick()
    await view.wait_loaded()
    assert len(reads) == 3  # nothing read while hidden
    window.tabs.setCurrentWidget(tab)  # shown again: catches up at once
    await view.wait_loaded()
    assert len(reads) == 4 and sum(view.series.count) == 82


async def test_hover_reads_out_the_point_under_the_pointer(restarted: MainWindow) -> None:
    window = restarted
    view = window.timeline
    window.select_target("api")
    view.set_range("1h")
    await view.wait_loaded()
    series = view.series
    assert series is not None
    box = view.latency_plot.getViewBox()
    wanted = series.ts[40]
    pos = box.mapViewToScene(QPointF(wanted + 1.0, 10.0))
    view._hover((pos,))
    assert all(line.isVisible() and line.value() == wanted for line in view.cursors)
    assert "ok, latency" in view.readout.text() or "FAILED" in view.readout.text()


async def test_a_refresh_keeps_the_users_zoom_and_choosing_the_range_resets_it(
        restarted: MainWindow) -> None:
    window = restarted
    view = window.timeline
    tab = view.parentWidget()
    assert tab is not None
    window.tabs.setCurrentWidget(tab)
    view.clock = clock = FakeClock()
    window.select_target("api")
    view.set_range("1h")
    await view.wait_loaded()
    assert view.series is not None
    box = view.lane_plot.getViewBox()
    middle = (view.series.since + view.series.until) / 2
    box.scaleBy(x=0.25, center=QPointF(middle, 1.0))  # what a wheel turn does, then says so
    box.sigRangeChangedManually.emit([True, False])
    zoomed = box.viewRange()[0]
    assert zoomed[1] - zoomed[0] == pytest.approx(900, rel=0.01)
    newest = result("api", datetime.now(UTC) - timedelta(seconds=5), True, 30.0)
    window.core.monitor.memory.add(newest)
    store = window.core.history
    assert store is not None
    store.add(newest)
    clock.advance(2.0)
    view.tick()  # new data is read and drawn ...
    await view.wait_loaded()
    assert view.series is not None and sum(view.series.count) == 81
    assert box.viewRange()[0] == pytest.approx(zoomed, abs=1.0)  # ... inside the zoom
    view.set_range("1h")  # the range button again: all of it
    start, end = box.viewRange()[0]
    assert end - start == pytest.approx(3600, rel=0.01)
