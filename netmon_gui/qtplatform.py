"""Create the QApplication, and say which library is missing when Qt's platform cannot load.

When the xcb platform plugin fails to load, Qt prints "xcb-cursor0 or libxcb-cursor0 is
needed" whatever library is really missing, then aborts. While the QApplication is created,
a message handler watches Qt's messages: on that fatal error it runs ``ldd`` on the plugin
and names the missing libraries and the Debian/Ubuntu packages that likely provide them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QLibraryInfo, QMessageLogContext, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

__all__ = ["create_application", "debian_package", "explain_platform_failure",
           "missing_libraries"]

_FAILED_PLUGIN = re.compile(r'Could not load the Qt platform plugin "([^"]+)"')
_CURSOR_HINT = "xcb-cursor0 or libxcb-cursor0 is needed"
_PACKAGE_EXCEPTIONS = {"libglib-2.0.so.0": "libglib2.0-0", "libgobject-2.0.so.0": "libglib2.0-0",
                       "libgthread-2.0.so.0": "libglib2.0-0"}


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that usually ships ``soname`` (``libxcb-icccm.so.4`` ->
    ``libxcb-icccm4``; a name ending in a digit takes a hyphen: ``libxkbcommon-x11-0``)."""
    if soname in _PACKAGE_EXCEPTIONS:
        return _PACKAGE_EXCEPTIONS[soname]
    base, _, version = soname.partition(".so")
    version = version.lstrip(".").split(".")[0]
    sep = "-" if base[-1:].isdigit() and version else ""
    return f"{base}{sep}{version}".lower()


def missing_libraries(plugin: Path) -> list[str] | None:
    """Libraries ``plugin`` needs that the loader cannot find (``ldd``); None without ldd."""
    ldd = shutil.which("ldd")
    if ldd is None or not plugin.is_file():
        return None
    try:
        output = subprocess.run([ldd, str(plugin)], capture_output=True, text=True,
                                timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = (line.split("=>")[0].strip() for line in output.splitlines() if "not found" in line)
    return list(dict.fromkeys(found))


def explain_platform_failure(platform: str, plugins_dir: Path) -> str:
    """What to tell the user when the ``platform`` plugin could not load."""
    plugin = next(iter(sorted(plugins_dir.joinpath("platforms").glob(f"*q{platform}.*"))), None)
    missing = missing_libraries(plugin) if plugin is not None else None
    if missing:
        packages = " ".join(dict.fromkeys(debian_package(name) for name in missing))
        return (f"netmon-gui: Qt's {platform} platform plugin cannot load: missing "
                f"{', '.join(missing)}. On Debian/Ubuntu: sudo apt install {packages}")
    if missing == []:
        return (f"netmon-gui: every library Qt's {platform} platform plugin needs is installed; "
                "see Qt's messages above (no display? try QT_QPA_PLATFORM=offscreen)")
    return f"netmon-gui: Qt's {platform} platform plugin could not load (see Qt's messages)"


def create_application(argv: list[str]) -> QApplication:
    """``QApplication(argv)``, explaining on stderr a platform plugin that cannot load."""
    failed: list[str] = []
    held: list[str] = []

    def handler(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
        category = context.category if context.category not in (None, "default") else None
        text = f"{category}: {message}" if category else message
        match = _FAILED_PLUGIN.search(message)
        if match:
            failed.append(match[1])
        if _CURSOR_HINT in message:  # misleading when another library is the missing one
            held.append(text)
            return
        if mode == QtMsgType.QtFatalMsg and failed and sys.platform.startswith("linux"):
            plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
            for platform in dict.fromkeys(failed):
                explanation = explain_platform_failure(platform, plugins)
                if "cannot load: missing" not in explanation:
                    _stderr(*held)
                _stderr(explanation)
        _stderr(text)

    previous = qInstallMessageHandler(handler)
    try:
        app = QApplication(argv)
    finally:
        qInstallMessageHandler(previous)
    _stderr(*held)  # another platform loaded: Qt's hint is all there is to say
    return app


def _stderr(*lines: str) -> None:
    for line in lines:
        print(line, file=sys.stderr, flush=True)
