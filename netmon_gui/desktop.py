"""Hand things to the desktop: open a folder or file, start a second console on the demo."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices

__all__ = ["demo_command", "launch_demo", "open_path"]

_log = logging.getLogger("netmon.gui")


def open_path(path: Path) -> bool:
    """Open ``path`` (a folder or file) with the desktop's handler; a missing folder is
    created first. False when the desktop refused."""
    if not path.exists() and not path.suffix:
        path.mkdir(parents=True, exist_ok=True)
    ok = QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
    if not ok:
        _log.warning("could not open %s", path)
    return bool(ok)


def demo_command() -> tuple[str, list[str]]:
    """The program and arguments that start ``netmon-gui --demo`` (frozen or not)."""
    if getattr(sys, "frozen", False):
        return sys.executable, ["--demo"]
    return sys.executable, ["-m", "netmon_gui.app", "--demo"]


def launch_demo() -> bool:
    """Start a separate console on the demo; False when it could not be started."""
    program, args = demo_command()
    ok, _pid = QProcess.startDetached(program, args)
    if not ok:
        _log.warning("could not start the demo: %s %s", program, " ".join(args))
    return bool(ok)
