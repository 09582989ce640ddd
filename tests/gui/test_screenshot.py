"""``--demo --screenshot``: the real window, every tab, as a PNG that is not blank."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from core.demo import Demo
from core.runtime import NetmonCore
from netmon_gui.app import Screenshot, run_console
from netmon_gui.screenshot import tab_names
from netmon_gui.windows.main_window import MainWindow


def colours(path: Path) -> int:
    """How many distinct colours a PNG has (sampled on a grid): a blank one has one or two."""
    image = QImage(str(path))
    assert not image.isNull(), f"{path} is not an image"
    step = 7
    return len({image.pixel(x, y) for x in range(0, image.width(), step)
                for y in range(0, image.height(), step)})


def test_demo_screenshot_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(
        [sys.executable, "-m", "netmon_gui.app", "--demo", "--screenshot", str(out),
         "--tab", "breakers", "--size", "1024x700", "--quit-after", "1.5"],
        capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1024, 700)
    assert colours(out) > 20, f"{colours(out)} colours: {run.stderr[-2000:]}"


def test_unknown_tab_fails_with_the_tab_names(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(
        [sys.executable, "-m", "netmon_gui.app", "--demo", "--screenshot",
         str(tmp_path / "x.png"), "--tab", "nosuch", "--quit-after", "0.2"],
        capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 1
    assert "no tab 'nosuch'; tabs: latency, breakers" in run.stderr
    assert not (tmp_path / "x.png").exists()


async def test_every_tab_of_the_demo_renders_to_a_non_blank_png(
    qtbot: QtBot, tmp_path: Path,
) -> None:
    async with Demo() as demo:
        probe = MainWindow(NetmonCore(demo.config(), with_history=False))
        names = tab_names(probe.tabs)
        await probe.aclose()
        probe.deleteLater()
        assert {"latency", "breakers", "suggestions", "events", "log"} <= set(names)
        for name in names:
            path = tmp_path / f"{name}.png"
            core = NetmonCore(demo.config(), with_history=False)
            await asyncio.wait_for(run_console(
                core, size=(1024, 700), quit_after_s=0.6 if name != names[0] else 2.5,
                screenshot=Screenshot(path, name)), timeout=20)
            assert colours(path) > 8, f"tab {name} looks blank"
