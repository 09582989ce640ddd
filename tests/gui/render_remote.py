"""Render the console showing a remote backend to a PNG for the README (a script).

    QT_QPA_PLATFORM=offscreen python tests/gui/render_remote.py docs/console-remote.png

Starts a real netmon service (``core.service`` under uvicorn on loopback, bearer auth)
over the same loopback targets as ``render_screenshot.py`` (three rounds open the dead
database's breaker), then opens the console on that backend and grabs the window.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import jwt  # noqa: E402
import qasync  # noqa: E402
import uvicorn  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from core.config import (  # noqa: E402
    AuthSettings,
    Config,
    HistorySettings,
    RemoteSettings,
)
from core.runtime import NetmonCore  # noqa: E402
from core.service import create_app  # noqa: E402
from netmon_gui.windows.main_window import MainWindow  # noqa: E402
from tests.gui.render_screenshot import INTERNAL_NAME, make_config  # noqa: E402
from tests.support.dns_server import DnsServer  # noqa: E402
from tests.support.http_server import HttpServer  # noqa: E402

SECRET = os.urandom(24).hex()  # this run's JWT secret; never printed


async def render(path: Path) -> None:
    os.environ["NETMON_DEMO_JWT"] = SECRET
    os.environ["NETMON_DEMO_TOKEN"] = jwt.encode(
        {"sub": "ops@example.test", "role": "service_role", "exp": 4102444800},
        SECRET, algorithm="HS256")
    async with HttpServer() as http, DnsServer() as dns:
        http.route("/health", body={"status": "ok"})
        http.route("/auth/v1/health", body={"version": "v2.170.0", "name": "GoTrue"})
        http.route("/static/app.js", body="ok", delay=0.3)
        http.route("/v1/invoices/health", status=503, body={"detail": "maintenance"})
        dns.add_a(INTERNAL_NAME, "10.20.0.15")
        served = make_config(http, dns)
        backend = NetmonCore(Config(
            monitor=served.monitor, history=HistorySettings(enabled=False),
            auth=AuthSettings(jwt_secret_env="NETMON_DEMO_JWT", algorithms=["HS256"]),
            targets=served.targets))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(create_app(backend), log_config=None))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        for _ in range(3):
            await backend.monitor.run_once()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        local = NetmonCore(Config(history=HistorySettings(enabled=False), remotes=[
            RemoteSettings(name="prod-eu", url=url, token_env="NETMON_DEMO_TOKEN")]))
        await local.start(schedule=False)
        window = MainWindow(local)
        try:
            window.resize(1200, 760)
            window.show()
            poller = window.remote.open("prod-eu")
            while poller.last is None:
                await asyncio.sleep(0.05)
            window.select_target("billing")
            window.tabs.setCurrentIndex(1)  # Breakers
            window.breakers_panel.select("payments-db")
            await asyncio.sleep(0.5)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not window.grab().save(str(path)):
                raise SystemExit(f"could not write {path}")
            print(f"wrote {path} ({window.width()}x{window.height()})")
        finally:
            window.close()
            await window.aclose()
            await local.stop()
            server.should_exit = True
            await serving
            sock.close()


def main() -> int:
    """Render to the path given on the command line (default docs/console-remote.png)."""
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console-remote.png")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setStyle("Fusion")
    app.setQuitOnLastWindowClosed(False)
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(render(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
