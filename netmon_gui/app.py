"""``netmon-gui``: the QApplication, one qasync loop, and a clean shutdown."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from core.config import Config, load_config
from core.errors import ConfigError
from core.log import setup_logging

from .windows.main_window import MainWindow


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
    assert app is not None
    app.lastWindowClosed.connect(closed.set)
    window.show()
    await closed.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console; returns the process exit code."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("netmon")
    app.setQuitOnLastWindowClosed(False)  # the asyncio runner decides when to stop
    try:
        config: Config = load_config(args.config)
    except ConfigError as exc:
        QMessageBox.critical(None, "netmon: configuration error", str(exc))
        return 3
    setup_logging(config.logging.level, to_file=config.logging.file)
    window = MainWindow(config)
    if args.quit_after is not None:
        QTimer.singleShot(args.quit_after, window.close)
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(run_window(window))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
