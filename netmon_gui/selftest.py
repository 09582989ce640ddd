"""``netmon-gui --self-test``: the core's checks on the console's own loop (qasync), then Qt's.

Qt must create and paint the main window (offscreen under ``QT_QPA_PLATFORM=offscreen``; on a
desktop the real platform plugin is loaded, but no window is shown), load the SVG icon and
the ``.ico`` through their plugins, and pyqtgraph must import.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

import qasync
from PySide6.QtCore import QLibraryInfo, qVersion
from PySide6.QtGui import QGuiApplication, QIcon, QImage
from PySide6.QtWidgets import QApplication

from core.selftest import Check, CheckFailedError, check_forward, core_checks, run_checks

__all__ = ["gui_checks", "main"]


def gui_checks() -> list[Check]:
    """The console's checks, run after the core's: forwarding notices, then Qt."""
    return [("forward", check_forward), ("qt", check_qt), ("window", check_window)]


def main(out: TextIO | None = None) -> int:
    """Run every check on a qasync loop; the exit code (0 all passed, 1 any failed)."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        outcomes = runner.run(run_checks([*core_checks(), *gui_checks()], out or sys.stdout))
    return 1 if any(o.status == "FAIL" for o in outcomes) else 0


async def check_qt() -> str:
    """Qt and its plugins: platform, SVG icon engine, ico reader; pyqtgraph imports."""
    import pyqtgraph

    from .windows.main_window import ICON

    icon = QIcon(str(ICON))
    if icon.isNull() or icon.pixmap(32, 32).isNull():
        raise CheckFailedError(f"the SVG icon {ICON} does not render (iconengines/qsvgicon?)")
    ico = ICON.parent / "app.ico"  # type: ignore[attr-defined]
    if QImage(str(ico)).isNull():
        raise CheckFailedError(f"{ico} does not load (imageformats/qico?)")
    plugins = QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)
    return (f"Qt {qVersion()}, platform {QGuiApplication.platformName()}, "
            f"pyqtgraph {pyqtgraph.__version__}, loop {type(asyncio.get_running_loop()).__name__}"
            f", plugins {plugins}")


async def check_window() -> str:
    """The main window is built over an (unstarted) core and paints something."""
    from core.config import Config, Target
    from core.runtime import NetmonCore

    from .windows.main_window import MainWindow

    config = Config(targets=[Target(name="selftest", kind="http", url="http://127.0.0.1:9/")])
    window = MainWindow(NetmonCore(config, with_history=False))
    try:
        image = window.grab().toImage()
    finally:
        await window.aclose()
        window.deleteLater()
    width, height = image.width(), image.height()
    if width < 100 or height < 100:
        raise CheckFailedError(f"painted {width}x{height} pixels")
    colours = {image.pixel(x, y) for x in range(0, width, 7) for y in range(0, height, 7)}
    if len(colours) < 3:
        raise CheckFailedError(f"painted {width}x{height} pixels in {len(colours)} colour(s)")
    return f"main window painted {width}x{height} pixels, {len(colours)} colours sampled"
