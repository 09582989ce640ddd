"""Window first: the console is painted before the core starts, and a blackholed database
(still being retried) neither delays nor freezes it."""

from __future__ import annotations

import asyncio
import gc
import time

from PySide6.QtWidgets import QApplication, QProgressBar
from pytestqt.qtbot import QtBot

from core.config import parse_config
from core.runtime import NetmonCore
from netmon_gui.app import run_console
from netmon_gui.windows.main_window import MainWindow
from tests.support.fixtures import FaultProxyFactory


def _blackholed_db_config(port: int) -> str:
    return f"""
[history]
enabled = false
[retry]
max_attempts = 100
[database]
target = "db"
[[targets]]
name = "db"
kind = "postgres"
dsn = "postgresql://app@127.0.0.1:{port}/app"
sslmode = "disable"
timeout_s = 30
interval_s = 60
"""


class RecordingCore(NetmonCore):
    """The real core; remembers whether a console window was on screen when start() ran."""

    window_shown_at_start: bool | None = None

    async def start(self, *, schedule: bool = True) -> None:
        self.window_shown_at_start = any(
            isinstance(w, MainWindow) and w.core is self and w.isVisible()
            for w in QApplication.topLevelWidgets())
        await super().start(schedule=schedule)


async def test_window_shows_while_a_blackholed_database_is_retried(
    qtbot: QtBot, fault_proxy_factory: FaultProxyFactory,
) -> None:
    proxy = await fault_proxy_factory("127.0.0.1", 9, mode="blackhole")  # never answers
    core = RecordingCore(parse_config(_blackholed_db_config(proxy.port)))
    console = asyncio.create_task(run_console(core))
    window: MainWindow | None = None
    async with asyncio.timeout(5):
        while window is None or not window.isVisible():
            await asyncio.sleep(0.01)
            window = next((w for w in QApplication.topLevelWidgets()
                           if isinstance(w, MainWindow) and w.core is core), None)
        while not proxy.connections_total:  # the database connect is under way...
            await asyncio.sleep(0.01)
    qtbot.addWidget(window)
    assert core.window_shown_at_start is True  # painted before the core started
    assert core.database is not None
    assert core.database.health()["connecting"] is True  # ...and still not answered
    # the loop is free: a Qt timer fires on time while the database hangs
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        ticks += 1

    window.refresh()
    window._tick.timeout.connect(tick)
    await asyncio.sleep(1.2)
    assert ticks >= 1
    assert window.findChild(QProgressBar, "startupProgress") is None  # start() returned
    assert "Monitoring 1 target" in window.statusBar().currentMessage()
    assert gc.get_freeze_count() > 0  # start-up objects are out of the full collections
    closed_at = time.perf_counter()
    window.close()
    await asyncio.wait_for(console, timeout=10)
    assert time.perf_counter() - closed_at < 3.0
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("netmon-")]


class FailingCore(NetmonCore):
    """The real core whose start fails (as an unexpected error in any part would)."""

    async def start(self, *, schedule: bool = True) -> None:
        raise OSError("disk gone")


async def test_a_failed_start_is_shown_and_the_window_stays(qtbot: QtBot) -> None:
    from core.config import Config, HistorySettings, Target

    core = FailingCore(Config(history=HistorySettings(enabled=False), targets=[
        Target(name="api", kind="tcp", host="127.0.0.1", port=9)]))
    console = asyncio.create_task(run_console(core))
    window: MainWindow | None = None
    async with asyncio.timeout(5):
        while window is None or "Start failed" not in window.statusBar().currentMessage():
            await asyncio.sleep(0.02)
            window = next((w for w in QApplication.topLevelWidgets()
                           if isinstance(w, MainWindow) and w.core is core), None)
    qtbot.addWidget(window)
    assert window.statusBar().currentMessage() == "Start failed: disk gone"
    assert window.isVisible() and not console.done()
    window.close()
    await asyncio.wait_for(console, timeout=10)
