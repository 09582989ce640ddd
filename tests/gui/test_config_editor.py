"""The targets editor and settings: refuse bad input inline, save good input (comments
kept), secrets to the keyring only, and the running core picks the change up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import keyring
import pytest
from PySide6.QtWidgets import QCheckBox, QDialogButtonBox, QLabel
from pytestqt.qtbot import QtBot

from core.config import Target, load_config
from core.monitor import StatusChange, TargetStatus
from core.notify import NotifyPolicy
from core.runtime import NetmonCore
from netmon_gui.windows.main_window import MainWindow
from netmon_gui.windows.secret_dialog import SecretDialog
from netmon_gui.windows.settings_dialog import SectionPage, SettingsDialog
from netmon_gui.windows.target_dialog import TargetDialog
from netmon_gui.windows.targets_editor import TargetsEditor
from tests.gui.test_console import settle
from tests.support.http_server import HttpServer

FILE = """\
# ops team: ask #netops before changing
[monitor]
interval_s = 30  # every half minute

[history]
enabled = false

# our API
[[targets]]
name = "api"  # production
kind = "http"
url = "{url}"
"""


def error_of(dialog: TargetDialog, key: str) -> str:
    label = dialog.rows[key].error
    return label.text() if label.isVisibleTo(dialog) else ""


def ok_enabled(dialog: TargetDialog) -> bool:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


@pytest.fixture
async def setup(http_server: HttpServer, tmp_path: Path,
                qtbot: QtBot) -> AsyncIterator[tuple[MainWindow, NetmonCore, Path]]:
    http_server.route("/health", body="ok")
    http_server.route("/login", body="ok")
    path = tmp_path / "netmon.toml"
    path.write_text(FILE.format(url=http_server.url_for("/health")), "utf-8")
    core = NetmonCore(load_config(path))
    await core.start(schedule=False)
    win = MainWindow(core)
    win.show()
    try:
        yield win, core, path
    finally:
        win.close()
        await win.aclose()
        win.deleteLater()
        await core.stop()


async def test_the_target_dialog_refuses_bad_input_inline(qtbot: QtBot) -> None:
    dialog = TargetDialog(taken=["api"])
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.rows["kind"].set("tcp")
    dialog.rows["name"].set("api")
    dialog.rows["host"].set("127.0.0.1")
    dialog.rows["port"].set("54x")
    assert error_of(dialog, "name") == ""  # one problem per field type first
    assert error_of(dialog, "port") == ("must be a whole number, got a string of 3 "
                                        "characters ('54x') (allowed: 0..65535)")
    assert not ok_enabled(dialog)
    dialog.rows["port"].set("5432")
    assert error_of(dialog, "name") == "duplicate target name 'api'; names must be unique"
    assert not ok_enabled(dialog)
    dialog.rows["name"].set("db")
    assert dialog.errors == {} and ok_enabled(dialog)
    assert dialog.target() == Target(name="db", kind="tcp", host="127.0.0.1", port=5432)
    dialog.rows["kind"].set("http")  # kind decides the fields and the rules
    assert not dialog.rows["port"].box.isVisibleTo(dialog)
    assert error_of(dialog, "url") == "is required for kind 'http'"
    dialog.rows["url"].set("http://user:pw@127.0.0.1/")
    assert "credentials never go in the URL" in error_of(dialog, "url")


async def test_editor_saves_good_input_keeps_comments_and_the_core_picks_it_up(
        setup: tuple[MainWindow, NetmonCore, Path], http_server: HttpServer) -> None:
    window, core, path = setup
    editor = window.edit_targets()
    assert isinstance(editor, TargetsEditor) and editor.path == path
    dialog = editor.add()
    assert dialog is not None
    dialog.rows["name"].set("login")
    dialog.rows["url"].set(http_server.url_for("/login"))
    dialog.rows["interval_s"].set("0")
    assert error_of(dialog, "interval_s") == "0 is out of range (allowed: 1..86400)"
    dialog.rows["interval_s"].set("15")
    dialog.accept()
    editor.table.selectRow(1)
    editor.duplicate()  # "login-2", right after it
    editor.toggle()     # ...disabled
    editor.table.selectRow(0)
    editor.remove()     # "api" goes
    assert [(t.name, t.enabled) for t in editor.targets] == [("login", True),
                                                             ("login-2", False)]
    assert editor.save()
    await settle(lambda: window.targets_model.rowCount() == 1)
    text = path.read_text("utf-8")
    for kept in ("# ops team: ask #netops before changing", "# every half minute"):
        assert kept in text
    saved = load_config(path)
    assert [t.name for t in saved.targets] == ["login", "login-2"]
    assert saved.targets[0].interval_s == 15 and not saved.targets[1].enabled
    assert list(core.monitor.states) == ["login"]  # disabled and removed ones not probed
    await core.monitor.run_once()
    await settle(lambda: window.targets_model.index(0, 2).data() == "up")
    assert window.targets_model.name_at(0) == "login"


async def test_a_password_goes_to_the_keyring_and_only_its_name_to_the_file(
        setup: tuple[MainWindow, NetmonCore, Path], qtbot: QtBot) -> None:
    window, _core, path = setup
    editor = window.edit_targets()
    dialog = editor.add()
    assert dialog is not None
    dialog.rows["kind"].set("postgres")
    dialog.rows["name"].set("db")
    dialog.rows["dsn"].set("postgresql://app@127.0.0.1:5432/app")
    secret = dialog.set_secret("password_keyring")
    assert isinstance(secret, SecretDialog)
    assert secret.entry() == "netmon/db-password"
    secret.value_edit.setText("s3cret-Pa55word")
    secret._save()
    assert secret.value_edit.text() == ""
    assert keyring.get_password("netmon", "db-password") == "s3cret-Pa55word"
    assert dialog.rows["password_keyring"].value() == "netmon/db-password"
    dialog.accept()
    assert editor.save()
    text = path.read_text("utf-8")
    assert "s3cret" not in text and 'password_keyring = "netmon/db-password"' in text


async def test_settings_refuse_bad_values_and_apply_good_ones(
        setup: tuple[MainWindow, NetmonCore, Path]) -> None:
    window, core, path = setup
    dialog = window.edit_settings()
    assert isinstance(dialog, SettingsDialog)
    breaker = dialog.pages[1]
    assert isinstance(breaker, SectionPage) and breaker.section == "breaker"
    breaker.editors["failure_threshold"].setText("0")
    error = breaker.error_labels["failure_threshold"]
    assert isinstance(error, QLabel) and error.text() == "0 is out of range (allowed: 1..1000)"
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    assert not save.isEnabled() and dialog.tabs.tabText(1).endswith("!")
    assert not dialog.save()
    breaker.editors["failure_threshold"].setText("6")
    assert save.isEnabled()
    assert dialog.save()
    await settle(lambda: core.breakers["api"].failure_threshold == 6)
    text = path.read_text("utf-8")
    assert "failure_threshold = 6" in text and "# every half minute" in text
    assert load_config(path).breaker.failure_threshold == 6


async def test_notifications_page_validates_inline_and_save_sets_the_notice_policy(
        setup: tuple[MainWindow, NetmonCore, Path]) -> None:
    window, _core, path = setup
    notifier = window.core.notices.notifier  # the core decides; the tray only shows
    assert notifier.policy == NotifyPolicy()  # the file has no [notifications]
    dialog = window.edit_settings()
    [page] = [p for p in dialog.pages if p.section == "notifications"]
    assert isinstance(page, SectionPage)
    index = dialog.pages.index(page)
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    page.editors["reminder_s"].setText("10")
    assert page.error_labels["reminder_s"].text() == "10 is out of range (allowed: 60..604800)"
    assert not save.isEnabled() and dialog.tabs.tabText(index) == "Notifications !"
    page.editors["quiet_s"].setText("soon")
    assert "must be a number" in page.error_labels["quiet_s"].text()
    page.editors["quiet_s"].setText("0")
    page.editors["reminder_s"].setText("120")
    enabled = page.editors["enabled"]
    assert isinstance(enabled, QCheckBox)
    enabled.setChecked(False)
    assert save.isEnabled() and dialog.tabs.tabText(index) == "Notifications"
    assert dialog.save()
    await settle(lambda: notifier.policy == NotifyPolicy(False, 0.0, 120.0))
    assert load_config(path).notifications.reminder_s == 120
    # the core's notifier now keeps quiet about a target going down
    change = StatusChange("api", TargetStatus.UP, TargetStatus.DOWN, "refused",
                          datetime(2026, 1, 1, tzinfo=UTC))
    assert notifier.on_status(change) is None


async def test_history_page_edits_retention_with_the_loaders_rules(
        setup: tuple[MainWindow, NetmonCore, Path]) -> None:
    window, _core, path = setup
    dialog = window.edit_settings()
    [page] = [p for p in dialog.pages if p.section == "history"]
    assert isinstance(page, SectionPage)
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    page.editors["raw_hours"].setText("0.5")
    assert page.error_labels["raw_hours"].text() == "0.5 is out of range (allowed: 1..8784)"
    page.editors["raw_hours"].setText("96")
    page.editors["minute_days"].setText("2")
    assert "shorter than raw_hours" in page.error_labels["minute_days"].text()
    assert not save.isEnabled()
    page.editors["minute_days"].setText("7")
    assert save.isEnabled() and dialog.save()
    await settle(lambda: window.config.history.raw_hours == 96)
    saved = load_config(path).history
    assert (saved.raw_hours, saved.minute_days, saved.hour_days) == (96, 7, 400)
