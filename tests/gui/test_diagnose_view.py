"""The Diagnose tab against loopback servers: layers, verdict, next steps, copy as text,
suggestion cards and double-clicks landing in the tab, and a window that stays live."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from core.config import Config, HistorySettings, Target
from core.runtime import NetmonCore
from netmon_gui.widgets.diagnose_view import DiagnoseView
from netmon_gui.windows.main_window import MainWindow
from tests.gui.test_console import settle
from tests.support.dns_server import DnsServer
from tests.support.http_server import HttpServer


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rows(view: DiagnoseView) -> dict[str, tuple[str, str]]:
    table = view.layers
    return {table.item(r, 0).text(): (table.item(r, 1).text(), table.item(r, 2).text())
            for r in range(table.rowCount())}


@pytest.fixture
def view(qtbot: QtBot) -> DiagnoseView:
    widget = DiagnoseView()
    qtbot.addWidget(widget)
    widget.system_check.setChecked(False)  # never ask the machine's real nameservers
    widget.show()
    return widget


async def test_a_name_only_a_direct_resolver_knows(view: DiagnoseView, dns_server: DnsServer,
                                                   http_server: HttpServer) -> None:
    dns_server.add_a("git.corp.invalid", "127.0.0.1")
    view.target_edit.setText(f"git.corp.invalid:{http_server.port}")
    view.ns_edit.setText(f"127.0.0.1:{dns_server.port}")
    task = view.start()
    assert task is not None and view.running
    assert not view.run_button.isEnabled() and view.busy.isVisibleTo(view)
    await view.wait()
    layers = rows(view)
    assert layers["OS resolver"][0] == "FAIL" and "dns_not_found" in layers["OS resolver"][1]
    assert layers[f"Resolver 127.0.0.1:{dns_server.port}"] == ("ok", "127.0.0.1")
    assert layers[f"TCP 127.0.0.1:{http_server.port}"][0] == "ok"
    assert "Hosts file" in layers and "Proxy" in layers
    assert view.result is not None and view.result["verdict"]["layer"] != ""
    assert view.steps.toPlainText().startswith("Next steps:")
    assert view.run_button.isEnabled() and not view.busy.isVisibleTo(view)
    view.copy()
    copied = QGuiApplication.clipboard().text()
    assert copied == view.report and "OS RESOLVER" in copied and "git.corp.invalid" in copied


async def test_a_refused_port_is_down_at_the_tcp_layer(view: DiagnoseView) -> None:
    port = closed_port()
    view.run(f"127.0.0.1:{port}", [], include_system=False)
    await view.wait()
    assert view.result is not None and view.result["status"] == "down"
    assert rows(view)[f"TCP 127.0.0.1:{port}"][0] == "FAIL"
    assert "DOWN" in view.verdict.text()


async def test_bad_input_is_said_not_raised(view: DiagnoseView) -> None:
    assert view.start() is None
    assert "Enter a host" in view.verdict.text()
    view.target_edit.setText("db.internal:99999")
    view.start()
    await view.wait()
    assert "bad port" in view.verdict.text() and view.run_button.isEnabled()


@pytest.fixture
async def window(qtbot: QtBot) -> AsyncIterator[tuple[MainWindow, NetmonCore]]:
    # .invalid fails in getaddrinfo for real, in milliseconds, with no network
    config = Config(targets=[Target(name="billing", kind="tcp", host="billing.corp.invalid",
                                    port=closed_port(), system_nameservers=False)],
                    history=HistorySettings(enabled=False))
    core = NetmonCore(config)
    await core.start(schedule=False)
    win = MainWindow(core)
    win.show()
    try:
        yield win, core
    finally:
        win.close()
        await win.aclose()
        win.deleteLater()
        await core.stop()


async def test_suggestion_diagnose_button_opens_the_tab_with_the_result(
        window: tuple[MainWindow, NetmonCore]) -> None:
    win, core = window
    for _ in range(3):
        await core.monitor.run_once()
    win.refresh()
    assert any(s.get("action") == "diagnose" for s in core.status()["suggestions"])
    win.suggestions.request.emit("diagnose", "billing")  # what the card's button sends
    assert win.tabs.currentWidget() is win.diagnose_view.parentWidget()
    assert "Diagnosing billing" in win.diagnose_view.verdict.text()
    await settle(lambda: win.diagnose_view.result is not None)
    assert win.diagnose_view.result["status"] == "down"
    assert rows(win.diagnose_view)["OS resolver"][0] == "FAIL"
    assert "NETMON DIAGNOSE" in win.diagnose_view.report.upper()
    assert core.recovery.trail[-1].action == "diagnose"  # audited like every action


async def test_double_click_on_a_target_diagnoses_it(
        window: tuple[MainWindow, NetmonCore], qtbot: QtBot) -> None:
    win, _ = window
    win.tabs.setCurrentIndex(0)
    table = win.targets_table
    rect = table.visualRect(table.model().index(0, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert win.tabs.currentWidget() is win.diagnose_view.parentWidget()
    await settle(lambda: win.diagnose_view.result is not None)
    assert win.diagnose_view.result["verdict"]["status"] == "down"
