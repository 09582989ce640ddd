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

from core.config import Config, is_http_url, load_config
from core.errors import ConfigError
from core.log import setup_logging
from core.runtime import NetmonCore

from . import crash
from .local_service import LocalEndpoints
from .qtplatform import create_application
from .windows.main_window import MainWindow

_log = logging.getLogger("netmon.gui")

APP_USER_MODEL_ID = "netmon.console"  # Windows taskbar grouping
STOP_TIMEOUT_S = 10.0  # the core's own stops are bounded; this bounds the whole shutdown


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="netmon-gui", description="netmon console")
    parser.add_argument("--config", metavar="PATH", help="config file")
    parser.add_argument("--remote", metavar="NAME_OR_URL",
                        help="open on a remote backend (a [[remotes]] name or a URL)")
    parser.add_argument("--token-env", metavar="VAR",
                        help="read that backend's bearer token from this environment variable")
    parser.add_argument("--quit-after", type=int, metavar="MS",
                        help="close the window after MS milliseconds (smoke tests)")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation (loopback only, no window shown), one "
                             "line per check; exit 0 when all pass, 1 otherwise")
    return parser.parse_args(argv)


def _attach_parent_console() -> None:
    """A windowed Windows exe has no stdout: started from a terminal, write to that one
    (``--help``, ``--self-test`` and errors); started from Explorer, nothing changes."""
    if sys.platform != "win32" or sys.stdout is not None:
        return
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


async def run_window(window: MainWindow) -> None:
    """Show ``window`` and wait until it is closed."""
    closed = asyncio.Event()
    window.destroyed.connect(closed.set)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.lastWindowClosed.connect(closed.set)
    window.show()
    await closed.wait()


async def run_console(core: NetmonCore, *, quit_after_ms: int | None = None,
                      remote: str | None = None, token_env: str | None = None) -> None:
    """Start ``core``, show the console until it is closed, then stop everything (bounded).

    With ``[service] console = true`` the console also serves its endpoints on 127.0.0.1;
    ``remote`` opens the window on that backend."""
    await core.start()
    window: MainWindow | None = None
    endpoints = LocalEndpoints(core) if core.config.service.console else None
    try:
        window = MainWindow(core)
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
        if quit_after_ms is not None:
            QTimer.singleShot(quit_after_ms, window.close)
        await run_window(window)
    finally:
        if endpoints is not None:
            await endpoints.aclose()
        if window is not None:
            await window.aclose()
        try:
            await asyncio.wait_for(core.stop(), STOP_TIMEOUT_S)
        except TimeoutError:
            _log.warning("netmon core did not stop within %.0f s", STOP_TIMEOUT_S)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console; returns the process exit code."""
    _attach_parent_console()
    args = _parse(sys.argv[1:] if argv is None else argv)
    _set_app_user_model_id()
    app = QApplication.instance() or create_application(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("netmon")
    app.setStyle("Fusion")  # one look on Windows, macOS and Linux; follows light/dark
    app.setQuitOnLastWindowClosed(False)  # the asyncio runner decides when to stop
    if args.self_test:
        from . import selftest  # only when asked

        return selftest.main()
    crash.install(_show_crash)
    try:
        return _run(app, args)
    except Exception as exc:  # a crash: a report file, its path shown
        crash.report_crash((type(exc), exc, exc.__traceback__), _show_crash)
        return 1


def _run(app: QApplication, args: argparse.Namespace) -> int:
    try:
        config: Config = load_config(args.config)
    except ConfigError as exc:
        if sys.stderr is not None:
            print(f"netmon-gui: error: {exc}", file=sys.stderr)
        QMessageBox.critical(None, "netmon: configuration error", str(exc))
        return 3
    if args.remote and args.remote not in {r.name for r in config.remotes} \
            and not is_http_url(args.remote):
        known = ", ".join(r.name for r in config.remotes) or "none configured"
        QMessageBox.critical(None, "netmon: unknown backend",
                             f"--remote {args.remote}: neither a [[remotes]] name ({known}) "
                             "nor an http(s) URL")
        return 3
    setup_logging(config.logging.level, to_file=config.logging.file)
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(_console(config, args))
    return 0


async def _console(config: Config, args: argparse.Namespace) -> None:
    # The core is built on the running loop: its parts may bind loop objects.
    await run_console(NetmonCore(config), quit_after_ms=args.quit_after, remote=args.remote,
                      token_env=args.token_env)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
