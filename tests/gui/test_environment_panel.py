"""The Environment tab and the support bundle, from the console (nothing leaves loopback:
reading the environment reads files; the bundle probes a loopback server)."""

from __future__ import annotations

import asyncio
import json
import zipfile
from pathlib import Path

from pytestqt.qtbot import QtBot

from core.config import Config, HistorySettings, Target
from core.runtime import NetmonCore
from netmon_gui.windows.main_window import MainWindow
from tests.support.http_server import HttpServer


async def test_environment_is_read_and_a_bundle_is_saved(
    qtbot: QtBot, http_server: HttpServer, tmp_path: Path,
) -> None:
    http_server.route("/", body="ok")
    config = Config(targets=[Target(name="api", kind="http", url=http_server.url_for("/"))],
                    history=HistorySettings(enabled=False))
    core = NetmonCore(config)
    await core.start(schedule=False)
    window = MainWindow(core)
    window.show()
    panel = window.environment
    saved: list[str] = []
    panel.bundleSaved.connect(saved.append)
    try:
        assert not panel.probe_box.isChecked()  # nothing is sent unless asked
        await panel.read()
        assert panel.report.toPlainText().startswith("netmon env")
        assert panel.conditions.text() != "Not read yet."
        await core.monitor.run_once()
        out = tmp_path / "support.zip"
        await panel.save_bundle(out)
        await asyncio.sleep(0)
        assert saved and saved[0].startswith(f"Support bundle saved to {out}")
        with zipfile.ZipFile(out) as bundle:
            names = set(bundle.namelist())
            assert {"manifest.json", "status.json"} <= names
            status = json.loads(bundle.read("status.json"))
        assert [t["name"] for t in status["targets"]] == ["api"]
        assert status["targets"][0]["status"] == "up"  # the console's own snapshot
    finally:
        window.close()
        await window.aclose()
        window.deleteLater()
        await core.stop()
