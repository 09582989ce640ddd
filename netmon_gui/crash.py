"""Crash reports: an unhandled exception in the console is written to a file, and its path
is shown (a message box, and stderr), so a user can send it instead of a screenshot.

The report is redacted and ASCII-safe like the log, and goes to the log folder
(``%LOCALAPPDATA%\\netmon\\Logs`` on Windows).
"""

from __future__ import annotations

import platform
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from core.log import ascii_safe, log_dir, redact
from core.version import __version__

__all__ = ["install", "report_crash", "write_report"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def write_report(exc_info: ExcInfo, folder: Path | None = None) -> Path:
    """Write the crash report for ``exc_info`` and return its path."""
    folder = folder or log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    path = folder / f"crash-{now:%Y%m%d-%H%M%S-%f}.txt"
    frozen = "frozen" if getattr(sys, "frozen", False) else "from source"
    text = "".join([
        f"netmon-gui {__version__} ({frozen}) crashed at {now.isoformat()}\n",
        f"Python {platform.python_version()} on {platform.platform()}\n",
        f"command line: {' '.join(sys.argv)}\n\n",
        *traceback.format_exception(*exc_info),
    ])
    path.write_text(ascii_safe(redact(text)), encoding="ascii")
    return path


def report_crash(exc_info: ExcInfo, show: Callable[[str], None]) -> Path | None:
    """Write the report and tell the user where it is (``show`` and stderr)."""
    try:
        path = write_report(exc_info)
    except OSError as exc:
        message = f"netmon-gui crashed and could not write a crash report: {exc}"
        path = None
    else:
        message = f"netmon-gui crashed. A report was written to:\n{path}"
    if sys.stderr is not None:
        print(ascii_safe(message.replace("\n", " ")), file=sys.stderr, flush=True)
    show(message)
    return path


def install(show: Callable[[str], None]) -> None:
    """Report exceptions that reach ``sys.excepthook`` (Qt slots, callbacks) as crashes."""

    def hook(kind: type[BaseException], value: BaseException,
             tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        report_crash((kind, value, tb), show)

    sys.excepthook = hook
