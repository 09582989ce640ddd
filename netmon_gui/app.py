"""``netmon-gui``: the QApplication, one qasync loop, and a clean shutdown."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from core.config import Config, load_config
from core.errors import ConfigError
from core.log import setup_logging
from core.runtime import NetmonCore

from .windows.main_window import MainWindow

_log = logging.getLogger("netmon.gui")

STOP_TIMEOUT_S = 10.0  # the core's own stops are bounded; this bounds the whole shutdown


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="netmon-gui", description="netmon console")
    parser.add_argument("--config", metavar="PATH", help="config file")
    parser.add_argument("--quit-after", type=int, metavar="MS",
                        help="close the window after MS milliseconds (smoke tests)")
    return parser.parse_args(argv)


async def run_window(window: MainWindow) -> None:
    """Show ``window`` and wait until it is closed."""
    closed = asyncio.Event()
    window.destroyed.connect(closed.set)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.lastWindowClosed.connect(closed.set)
    window.show()
    await closed.wait()


async def run_console(core: NetmonCore, *, quit_after_ms: int | None = None) -> None:
    """Start ``core``, show the console until it is closed, then stop everything (bounded)."""
    await core.start()
    window: MainWindow | None = None
    try:
        window = MainWindow(core)
        if quit_after_ms is not None:
            QTimer.singleShot(quit_after_ms, window.close)
        await run_window(window)
    finally:
        if window is not None:
            await window.aclose()
        try:
            await asyncio.wait_for(core.stop(), STOP_TIMEOUT_S)
        except TimeoutError:
            _log.warning("netmon core did not stop within %.0f s", STOP_TIMEOUT_S)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console; returns the process exit code."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("netmon")
    app.setStyle("Fusion")  # one look on Windows, macOS and Linux; follows light/dark
    app.setQuitOnLastWindowClosed(False)  # the asyncio runner decides when to stop
    try:
        config: Config = load_config(args.config)
    except ConfigError as exc:
        QMessageBox.critical(None, "netmon: configuration error", str(exc))
        return 3
    setup_logging(config.logging.level, to_file=config.logging.file)
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(_console(config, args.quit_after))
    return 0


async def _console(config: Config, quit_after_ms: int | None) -> None:
    # The core is built on the running loop: its parts may bind loop objects.
    await run_console(NetmonCore(config), quit_after_ms=quit_after_ms)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
