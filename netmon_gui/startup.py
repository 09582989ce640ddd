"""Window first: wait for the window's first paint, then start the core with progress shown.

Nothing the network does delays the window: the core's start (history, database connect in
the background, the monitor) runs on the loop after the window has been painted and its
graphs loaded, with a busy indicator and a line in the status bar until it has returned.
The graphs come first so that the first probes are not timed while their imports run.
"""

from __future__ import annotations

import asyncio
import linecache
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QMainWindow, QProgressBar

from core.gc_settle import freeze_startup_objects
from core.runtime import NetmonCore

if TYPE_CHECKING:
    from .windows.main_window import MainWindow

__all__ = ["start_core", "wait_painted"]

_log = logging.getLogger("netmon.gui")

PAINT_WAIT_S = 1.0  # an offscreen or minimised window may never paint: start anyway


class _PaintWatch(QObject):
    def __init__(self, painted: asyncio.Event) -> None:
        super().__init__()
        self.painted = painted

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            self.painted.set()
        return False


async def wait_painted(window: QMainWindow, timeout: float = PAINT_WAIT_S) -> bool:
    """Wait until ``window`` (shown) has been painted once; False after ``timeout``."""
    painted = asyncio.Event()
    watch = _PaintWatch(painted)
    window.installEventFilter(watch)
    try:
        window.update()
        await asyncio.wait_for(painted.wait(), timeout)
        return True
    except TimeoutError:
        return False
    finally:
        window.removeEventFilter(watch)


async def start_core(window: MainWindow, core: NetmonCore) -> None:
    """Start ``core`` once ``window`` is painted and its graphs are built, showing progress
    in its status bar."""
    await wait_painted(window)
    bar = window.statusBar()
    busy = QProgressBar(window)
    busy.setObjectName("startupProgress")
    busy.setRange(0, 0)  # busy: the steps take unknown time
    busy.setMaximumWidth(120)
    busy.setTextVisible(False)
    bar.addWidget(busy)
    steps = []
    if core.history is not None:
        steps.append("reading history")
    if core.database is not None:
        steps.append(f"connecting to {core.database.target.name} in the background")
    bar.showMessage("Starting: " + (", ".join(steps) or "scheduling probes") + "...")
    try:
        try:
            await window.load_graphs()
        except Exception as exc:  # no graphs is no reason not to monitor
            _log.error("console graphs could not be built: %s", exc)
        await core.start()
    except Exception as exc:  # the window stays usable and says what went wrong
        _log.error("netmon core did not start: %s", exc)
        bar.showMessage(f"Start failed: {exc}")
        return
    finally:
        bar.removeWidget(busy)
        busy.deleteLater()
    freeze_startup_objects()
    linecache.clearcache()  # PySide6's import hook read every module's source (~6 MB)
    count = len(core.monitor.states)
    bar.showMessage(f"Monitoring {count} target{'s' if count != 1 else ''}; "
                    "first results within 2 s", 8000)
    _log.debug("console: core started")
