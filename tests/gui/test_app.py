"""The console starts on the qasync loop and closes cleanly."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import qasync
from pytestqt.qtbot import QtBot

from core.config import Config, Target
from netmon_gui.app import run_window
from netmon_gui.windows.main_window import MainWindow


async def test_window_runs_on_qasync_and_closes(qtbot: QtBot) -> None:
    config = Config(targets=[Target(name="api", kind="http", url="http://127.0.0.1:1/")])
    window = MainWindow(config)
    qtbot.addWidget(window)
    assert isinstance(asyncio.get_running_loop(), qasync.QEventLoop)
    runner = asyncio.create_task(run_window(window))
    for _ in range(100):
        if window.isVisible():
            break
        await asyncio.sleep(0.01)
    assert window.isVisible()
    assert "api" in window.summary.text()
    assert window.windowTitle() == "netmon"
    window.close()
    await asyncio.wait_for(runner, timeout=5)


def test_entry_point_starts_and_exits_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from netmon_gui.app import main; "
         "sys.exit(main(['--quit-after', '200']))"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
