"""Settings > Notifications: add a forwarding destination (URL to the keyring only), send a
test to a real loopback server and see "sent", see the reason against a closed port; a
notice the tray shows is forwarded and the result is in the Events tab."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import keyring
import pytest
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from core.config import load_config
from core.forward import TEST_TITLE
from core.monitor import StatusChange, TargetStatus
from core.runtime import NetmonCore
from netmon_gui.windows.forward_page import NotificationsPage
from netmon_gui.windows.main_window import MainWindow
from tests.support.http_server import HttpServer
from tests.support.running import settle

FILE = """\
# forwarding test
[history]
enabled = false
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def window(http_server: HttpServer, tmp_path: Path,
                 qtbot: QtBot) -> AsyncIterator[MainWindow]:
    http_server.route("/hook")
    path = tmp_path / "netmon.toml"
    path.write_text(FILE, "utf-8")
    core = NetmonCore(load_config(path))
    await core.start(schedule=False)
    win = MainWindow(core)
    win.show()
    try:
        yield win
    finally:
        win.close()
        await win.aclose()
        win.deleteLater()
        await core.stop()


def notifications_page(win: MainWindow) -> NotificationsPage:
    dialog = win.edit_settings()
    [page] = [p for p in dialog.pages if p.section == "notifications"]
    assert isinstance(page, NotificationsPage)
    return page


def add(page: NotificationsPage, name: str, url: str) -> None:
    page.name_edit.setText(name)
    page.url_edit.setText(url)
    assert page.url_edit.echoMode() == QLineEdit.EchoMode.Password
    page.add_button.click()


async def test_add_destination_send_test_shows_sent_and_save_keeps_only_the_name(
        window: MainWindow, http_server: HttpServer) -> None:
    page = notifications_page(window)
    url = f"json://127.0.0.1:{http_server.port}/hook"
    add(page, "ops-chat", url)
    assert page.names() == ["ops-chat"] and page.url_edit.text() == ""
    assert keyring.get_password("netmon/forward", "ops-chat") == url
    assert page.test_button.isEnabled()

    page.test_button.click()
    assert page.test_task is not None
    result = await page.test_task
    assert result.ok
    assert page.status.text() == "ops-chat: sent"
    [request] = http_server.requests
    assert request.json()["title"] == TEST_TITLE
    rows = window.events_panel.model.rows()
    assert [(r.kind, r.subject, r.change) for r in rows[:1]] == [
        ("forward", "ops-chat (json)", "sent")]

    dialog = page.window()
    assert dialog.save()  # type: ignore[attr-defined]
    text = window.config_file.read_text("utf-8")
    assert 'forward = ["ops-chat"]' in text and url not in text and "127.0.0.1" not in text
    await settle(lambda: window.core.forwarder.destinations == ["ops-chat"])

    # the core's next notice goes there too, and to the tray
    shown: list[object] = []
    window.tray.noticeShown.connect(shown.append)
    window.core.monitor.status_changed.emit(StatusChange(
        "api", TargetStatus.UP, TargetStatus.DOWN, "refused", datetime(2026, 1, 1, tzinfo=UTC)))
    await settle(lambda: len(http_server.requests) == 2)
    assert [n.title for n in shown] == ["api is down"]  # type: ignore[attr-defined]
    body = http_server.requests[1].json()
    assert (body["title"], body["message"], body["type"]) == ("api is down", "refused",
                                                              "failure")
    await settle(lambda: window.events_panel.model.rows()[0].kind == "forward")


async def test_send_test_to_a_closed_port_shows_the_failure_reason(
        window: MainWindow) -> None:
    page = notifications_page(window)
    add(page, "dead", f"json://127.0.0.1:{closed_port()}/hook")
    page.test_button.click()
    assert page.test_task is not None
    result = await page.test_task
    assert not result.ok
    text = page.status.text()
    assert text.startswith("dead: failed: ") and "Connection refused" in text
    assert "sent" not in text
    [row] = [r for r in window.events_panel.model.rows() if r.kind == "forward"]
    assert row.change == "failed" and "Connection refused" in row.detail


async def test_add_refuses_a_bad_name_a_repeat_and_a_non_url(window: MainWindow) -> None:
    page = notifications_page(window)
    add(page, "ops chat", "json://127.0.0.1:9/x")
    assert "Name:" in page.status.text() and page.names() == []
    add(page, "ops", "not a url")
    assert "URL:" in page.status.text() and page.names() == []
    assert keyring.get_password("netmon/forward", "ops") is None
    add(page, "ops", "json://127.0.0.1:9/x")
    add(page, "ops", "json://127.0.0.1:9/y")
    assert "already listed" in page.status.text() and page.names() == ["ops"]
    assert keyring.get_password("netmon/forward", "ops") == "json://127.0.0.1:9/x"
    page.remove_button.click()
    assert page.names() == [] and page.values()["forward"] == []
