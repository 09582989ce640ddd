"""The console starts on the qasync loop, runs the core, and closes cleanly."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import qasync
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.config import Config, Target
from core.runtime import NetmonCore
from netmon_gui.app import run_console, run_window
from netmon_gui.windows.main_window import MainWindow


async def _until_visible(window: MainWindow) -> None:
    for _ in range(200):
        if window.isVisible():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the window never showed")


async def test_window_runs_on_qasync_and_closes(qtbot: QtBot) -> None:
    config = Config(targets=[Target(name="api", kind="http", url="http://127.0.0.1:1/")])
    core = NetmonCore(config, with_history=False)
    window = MainWindow(core)
    qtbot.addWidget(window)
    assert isinstance(asyncio.get_running_loop(), qasync.QEventLoop)
    runner = asyncio.create_task(run_window(window))
    await _until_visible(window)
    assert window.targets_model.name_at(0) == "api"
    assert window.windowTitle() == "netmon - UNKNOWN"  # nothing measured yet
    window.close()
    await asyncio.wait_for(runner, timeout=5)
    await window.aclose()
    assert not window.bridge.connected


async def test_run_console_starts_and_stops_the_core(qtbot: QtBot) -> None:
    config = Config(targets=[Target(name="api", kind="http", url="http://127.0.0.1:1/",
                                    interval_s=60)])
    core = NetmonCore(config, with_history=False)
    console = asyncio.create_task(run_console(core))
    for _ in range(200):
        windows = [w for w in QApplication.topLevelWidgets()
                   if isinstance(w, MainWindow) and w.core is core]
        if windows and windows[0].isVisible():
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the console never showed")
    window = windows[0]
    qtbot.addWidget(window)
    for _ in range(200):  # the core starts behind the painted window
        if core.monitor.running:
            break
        await asyncio.sleep(0.01)
    assert core.monitor.running
    window.close()
    await asyncio.wait_for(console, timeout=10)
    assert not core.monitor.running
    left = [t.get_name() for t in asyncio.all_tasks()
            if t.get_name().startswith(("probe:", "netmon-"))]
    assert left == []


def test_entry_point_starts_and_exits_cleanly(tmp_path: Path) -> None:
    empty = tmp_path / "netmon.toml"  # no targets: the built-in ones would go to the internet
    empty.write_text("", encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from netmon_gui.app import main; "
         f"sys.exit(main(['--config', {str(empty)!r}, '--quit-after', '0.3']))"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr


def test_broken_config_exits_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[monitor]\ninterval_s = 'often'\n", encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    script = ("import sys; from PySide6.QtWidgets import QMessageBox; "
              "QMessageBox.critical = staticmethod(lambda *a, **k: None); "
              "from netmon_gui.app import main; "
              f"sys.exit(main(['--config', {str(bad)!r}]))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 3, out.stderr
