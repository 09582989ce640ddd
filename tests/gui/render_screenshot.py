"""Render the console to a PNG for the README (a script, not a test).

    QT_QPA_PLATFORM=offscreen python tests/gui/render_screenshot.py docs/console.png

``--every-tab`` also writes one PNG per tab (``console-breakers.png``...) for review.

Starts real loopback servers from tests/support (HTTP with healthy, slow and failing
routes; a DNS server answering a name the OS resolver does not know), probes a handful of
realistic targets a few rounds, opens one breaker, selects a row and grabs the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import sys
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from core.clock import SystemClock  # noqa: E402
from core.config import Config, HistorySettings, MonitorSettings, Target  # noqa: E402
from core.runtime import NetmonCore  # noqa: E402
from netmon_gui.windows.main_window import MainWindow  # noqa: E402
from tests.support.dns_server import DnsServer  # noqa: E402
from tests.support.http_server import HttpServer  # noqa: E402

ROUNDS = 12
STEP = timedelta(seconds=30)  # the wall-clock spacing the rounds are stamped with
INTERNAL_NAME = "git.corp.invalid"  # getaddrinfo fails for .invalid; our DNS answers it


class ReplayClock(SystemClock):
    """Real monotonic time (so latencies are real); wall time starts ``ROUNDS`` probe
    intervals in the past and catches up round by round, so the graph spans minutes."""

    def __init__(self) -> None:
        self.behind = STEP * ROUNDS

    def now(self) -> datetime:
        return super().now() - self.behind


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_config(http: HttpServer, dns: DnsServer) -> Config:
    """Six targets: healthy, Supabase auth, a dead database, split DNS, slow CDN, 503."""
    return Config(
        monitor=MonitorSettings(timeout_s=2.0),
        history=HistorySettings(enabled=False),
        targets=[
            Target(name="api", kind="http", url=http.url_for("/health")),
            Target(name="auth", kind="supabase", url=http.url),
            Target(name="payments-db", kind="tcp", host="127.0.0.1", port=closed_port()),
            Target(name="internal-dns", kind="dns", host=INTERNAL_NAME,
                   nameservers=[f"127.0.0.1:{dns.port}"], system_nameservers=False,
                   record_types=["A"]),
            Target(name="cdn", kind="http", url=http.url_for("/static/app.js"),
                   latency_threshold_ms=250),
            Target(name="billing", kind="http", url=http.url_for("/v1/invoices/health")),
        ],
    )


async def refused() -> None:
    raise ConnectionRefusedError(111, "Connection refused")


async def render(path: Path, *, every_tab: bool = False) -> None:
    async with HttpServer() as http, DnsServer() as dns:
        http.route("/health", body={"status": "ok"})
        http.route("/auth/v1/health", body={"version": "v2.170.0", "name": "GoTrue"})
        http.route("/static/app.js", body="ok", delay=0.32)
        http.route("/v1/invoices/health", status=503, body={"detail": "maintenance"})
        dns.add_a(INTERNAL_NAME, "10.20.0.15")
        clock = ReplayClock()
        core = NetmonCore(make_config(http, dns), clock=clock)
        await core.start(schedule=False)
        window = MainWindow(core)
        try:
            window.resize(1200, 760)
            window.show()
            jitter = random.Random(7)
            for round_ in range(ROUNDS):
                clock.behind -= STEP
                if round_ in (5, 6):  # the CDN edge fails twice in the middle
                    http.route("/static/app.js", status=502, body="bad gateway")
                else:
                    http.route("/static/app.js", body="ok", delay=jitter.uniform(0.26, 0.42))
                await core.monitor.run_once()
                await asyncio.sleep(0.05)
            for _ in range(3):
                with contextlib.suppress(ConnectionRefusedError):
                    await core.breakers["payments-db"].call(refused)
            window.select_target("cdn")
            window.refresh()
            await asyncio.sleep(0.6)  # coalesced redraws and the refresh timer
            path.parent.mkdir(parents=True, exist_ok=True)
            if not window.grab().save(str(path)):
                raise SystemExit(f"could not write {path}")
            print(f"wrote {path} ({window.width()}x{window.height()})")
            if every_tab:  # for review: one more PNG per tab, beside the first
                for index in range(window.tabs.count()):
                    window.tabs.setCurrentIndex(index)
                    await asyncio.sleep(0.1)
                    name = window.tabs.tabText(index).split(" ")[0].lower()
                    window.grab().save(str(path.with_stem(f"{path.stem}-{name}")))
        finally:
            window.close()
            await window.aclose()
            await core.stop()


def main() -> int:
    """Render to the path given on the command line (default docs/console.png)."""
    args = [a for a in sys.argv[1:] if a != "--every-tab"]
    path = Path(args[0] if args else "docs/console.png")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setStyle("Fusion")
    app.setQuitOnLastWindowClosed(False)
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(render(path, every_tab="--every-tab" in sys.argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
