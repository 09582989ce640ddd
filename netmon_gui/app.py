"""``netmon-gui``: the QApplication, one qasync loop, and a clean shutdown.

The window comes first: a light ``StartupShell`` is painted before the heavier imports (the
core, the window's modules) and before the config is read; the console window replaces it
and is painted before the core starts; the core's start runs on the loop behind it
(``startup``), and the graphs (pyqtgraph, numpy) are built just after that paint. Nothing
before the console's paint imports httpx, dnspython, asyncpg, PyJWT, keyring or pyqtgraph
(``tests/gui/test_first_paint.py``).
Keep this module's top-level imports light (Qt only): that is what the first paint waits
for. ``--demo`` runs in-process loopback servers (``core.demo``); ``--screenshot`` grabs the
real window into a PNG and exits.

To add an option: add it in ``build_parser`` and read it in ``main`` (or in ``_console``
when it needs the running loop). ``--self-test`` checks the installation without a window;
``--remote`` opens on a backend; on Windows the console groups under its own taskbar
button and a windowed exe started from a terminal writes there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from .qtplatform import create_application
from .shell import StartupShell
from .theme import follow_os

if TYPE_CHECKING:
    from core.config import Config
    from core.runtime import NetmonCore

    from .windows.main_window import MainWindow

_log = logging.getLogger("netmon.gui")

APP_USER_MODEL_ID = "netmon.console"  # Windows taskbar grouping
STOP_TIMEOUT_S = 10.0  # the core's own stops are bounded; this bounds the whole shutdown
SCREENSHOT_AFTER_S = 3.0  # --screenshot without --quit-after: long enough for first results


@dataclass(frozen=True)
class Screenshot:
    """Where ``--screenshot`` writes, and which tab it shows."""

    path: Path
    tab: str | None = None


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1024x700") from None
    if not (320 <= width <= 10000 and 240 <= height <= 10000):
        raise argparse.ArgumentTypeError(f"{text!r}: between 320x240 and 10000x10000")
    return width, height


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r}: between 0 and 86400 seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``netmon-gui``."""
    parser = argparse.ArgumentParser(prog="netmon-gui", description="netmon console")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="PATH", help="config file")
    source.add_argument("--demo", action="store_true",
                        help="probe in-process loopback demo servers (no setup, no internet)")
    parser.add_argument("--screenshot", metavar="PATH", type=Path,
                        help="render the window to a PNG and exit 0")
    parser.add_argument("--tab", metavar="NAME",
                        help="with --screenshot: the tab to show (e.g. breakers, events)")
    parser.add_argument("--size", metavar="WxH", type=_size, help="window size, e.g. 1024x700")
    parser.add_argument("--quit-after", type=_seconds, metavar="SECONDS",
                        help="close after SECONDS (with --screenshot: take it then; "
                             f"default {SCREENSHOT_AFTER_S:g})")
    parser.add_argument("--remote", metavar="NAME_OR_URL",
                        help="open on a remote backend (a [[remotes]] name or a URL)")
    parser.add_argument("--token-env", metavar="VAR",
                        help="read that backend's bearer token from this environment variable")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation (loopback only, no window shown), one "
                             "line per check; exit 0 when all pass, 1 otherwise")
    return parser


def _attach_parent_console() -> None:
    """A windowed Windows exe has no stdout: started from a terminal, write to that one
    (``--help``, ``--self-test`` and errors); started from Explorer, nothing changes."""
    if sys.platform == "win32" and sys.stdout is None:
        import ctypes

        if ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
            sys.stdout = open("CONOUT$", "w", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
            sys.stderr = open("CONOUT$", "w", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115


def _set_app_user_model_id() -> None:
    """Group the console's windows under its own taskbar button and icon on Windows."""
    if sys.platform == "win32":
        import ctypes

        ctypes.windll.shell32.SetCurrentProcessExplicitAppUserModelID(APP_USER_MODEL_ID)


def _show_crash(message: str) -> None:
    if QApplication.instance() is not None:
        QMessageBox.critical(None, "netmon: crash", message)


async def run_window(window: MainWindow, replaces: QWidget | None = None) -> None:
    """Show ``window`` (closing ``replaces``) and wait until it is closed."""
    closed = asyncio.Event()
    window.destroyed.connect(closed.set)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.lastWindowClosed.connect(closed.set)
    window.closed.connect(closed.set)
    window.show()
    if replaces is not None:
        replaces.close()
    await closed.wait()


async def run_console(
    core: NetmonCore, *, quit_after_s: float | None = None,
    size: tuple[int, int] | None = None, screenshot: Screenshot | None = None,
    settings: QSettings | None = None, source: str | None = None,
    replaces: QWidget | None = None, remote: str | None = None, token_env: str | None = None,
) -> None:
    """Show the console over ``core``, start the core behind it, run until the window is
    closed, then stop everything (bounded). ``screenshot`` saves the window at
    ``quit_after_s`` and closes it (OSError/ValueError when it cannot); ``settings``
    remembers the window's geometry and tab; ``source`` names a config without a file;
    ``replaces`` (the start-up shell) is closed once the console is on screen; ``remote``
    opens the window on that backend. With ``[service] console = true`` the console also
    serves its endpoints on 127.0.0.1."""
    from .local_service import LocalEndpoints
    from .startup import start_core
    from .windows.main_window import MainWindow

    window = MainWindow(core, settings)
    if source is not None:
        window.source_label.setText(f"Config: {source}")
    if size is not None:
        window.resize(*size)
    starting = asyncio.get_running_loop().create_task(
        start_core(window, core), name="netmon-gui-start")
    shot: asyncio.Task[None] | None = None
    endpoints = LocalEndpoints(core) if core.config.service.console else None
    try:
        if endpoints is not None:
            try:
                url = await endpoints.start()
                served = f"Serving this console's endpoints on {url}"
            except (ImportError, OSError, RuntimeError) as exc:
                served = f"Cannot serve this console's endpoints: {exc}"
                _log.warning("RESILIENT: %s", served)
            window.statusBar().showMessage(served, 15000)
        if remote:
            window.remote.open(remote, token_env)
        if screenshot is not None:
            shot = asyncio.get_running_loop().create_task(
                _shoot(window, starting, screenshot, quit_after_s or SCREENSHOT_AFTER_S),
                name="netmon-gui-screenshot")
        elif quit_after_s is not None:
            QTimer.singleShot(int(quit_after_s * 1000), window.close)
        await run_window(window, replaces)
        if shot is not None:
            await shot  # raises what the screenshot raised
    finally:
        for task in (starting, shot):
            if task is not None and not task.done():
                task.cancel()
        await asyncio.gather(*(t for t in (starting, shot) if t is not None),
                             return_exceptions=True)
        if endpoints is not None:
            await endpoints.aclose()
        await window.aclose()
        try:
            await asyncio.wait_for(core.stop(), STOP_TIMEOUT_S)
        except TimeoutError:
            _log.warning("netmon core did not stop within %.0f s", STOP_TIMEOUT_S)


async def _shoot(window: MainWindow, starting: asyncio.Task[None], shot: Screenshot,
                 after_s: float) -> None:
    from .screenshot import capture

    try:
        await asyncio.sleep(after_s)
        await capture(window, window.tabs, shot.path, shot.tab)
    finally:
        window.close()


@contextlib.asynccontextmanager
async def _demo_or(config: Config | None) -> AsyncIterator[Config]:
    if config is not None:
        yield config
        return
    from core.demo import Demo

    async with Demo() as demo:
        yield demo.config()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console; returns the process exit code."""
    _attach_parent_console()
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.tab and not args.screenshot:
        parser.error("--tab needs --screenshot")
    _set_app_user_model_id()
    app = QApplication.instance() or create_application(sys.argv[:1])
    assert isinstance(app, QApplication)
    if args.self_test:
        from . import selftest  # only when asked

        return selftest.main()
    app.setApplicationName("netmon")
    app.setOrganizationName("netmon")
    app.setStyle("Fusion")  # one look on Windows, macOS and Linux
    follow_os(app)  # light or dark as the OS says, also when it switches
    app.setQuitOnLastWindowClosed(False)  # the asyncio runner decides when to stop
    shell = StartupShell(None if args.screenshot else QSettings())
    if args.size:
        shell.resize(*args.size)
    shell.show()
    app.processEvents()  # painted now, before the imports below
    from . import crash

    crash.install(_show_crash)
    try:
        return _run(app, args, shell)
    except Exception as exc:  # a crash: a report file, its path shown
        crash.report_crash((type(exc), exc, exc.__traceback__), _show_crash)
        return 1


def _run(app: QApplication, args: argparse.Namespace, shell: StartupShell) -> int:
    import qasync

    from core.config import is_http_url, load_config
    from core.errors import ConfigError
    from core.log import setup_logging

    config: Config | None = None
    if not args.demo:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            shell.close()
            if sys.stderr is not None:
                print(f"netmon-gui: error: {exc}", file=sys.stderr)
            QMessageBox.critical(None, "netmon: configuration error", str(exc))
            return 3
        if args.remote and args.remote not in {r.name for r in config.remotes} \
                and not is_http_url(args.remote):
            shell.close()
            known = ", ".join(r.name for r in config.remotes) or "none configured"
            message = (f"--remote {args.remote}: neither a [[remotes]] name ({known}) "
                       "nor an http(s) URL")
            if sys.stderr is not None:
                print(f"netmon-gui: error: {message}", file=sys.stderr)
            QMessageBox.critical(None, "netmon: unknown backend", message)
            return 3
        setup_logging(config.logging.level, to_file=config.logging.file)
    else:
        setup_logging("INFO", to_file=False)
    shot = Screenshot(args.screenshot, args.tab) if args.screenshot else None
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        try:
            runner.run(_console(config, args, shot, shell))
        except (OSError, ValueError) as exc:
            if shot is None:
                raise
            print(f"netmon-gui: screenshot failed: {exc}", file=sys.stderr)
            return 1
    if shot is not None:
        print(f"wrote {shot.path}")
    return 0


async def _console(config: Config | None, args: argparse.Namespace, shot: Screenshot | None,
                   shell: QWidget) -> None:
    # The core (and the demo's servers) are built on the running loop: they bind loop objects.
    from core.runtime import NetmonCore

    async with _demo_or(config) as chosen:
        await run_console(NetmonCore(chosen), quit_after_s=args.quit_after, size=args.size,
                          screenshot=shot, settings=None if shot else QSettings(),
                          source="demo (loopback servers in this process)"
                          if config is None else None, replaces=shell, remote=args.remote,
                          token_env=args.token_env)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
