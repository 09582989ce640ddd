"""The Settings dialog's Notifications tab: the tray settings plus where notices are
forwarded (apprise destinations).

A destination is added as a name and an apprise URL typed in a password-style field; the
URL (and any token in it) goes straight to the OS keyring (entry ``netmon/forward/<name>``)
and only the name reaches the config. "Send test" sends through the running core's
forwarder, so the result is also in the Events tab and the audit, and says "sent" only when
apprise reported success.
"""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.config import FORWARD_NAME, NotificationSettings, forward_entry
from core.forward import Forwarder, ForwardResult, apprise_available
from core.secrets import store_secret

from .settings_dialog import SectionPage

__all__ = ["NotificationsPage"]

_OK, _BAD = "color: #2e7d32;", "color: #c62828;"


class NotificationsPage(SectionPage):
    """``[notifications]``: the tray settings, then the forwarding destinations."""

    def __init__(self, current: NotificationSettings, forwarder: Forwarder | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__("notifications", current, parent)
        self.forwarder = forwarder or Forwarder(timeout_s=current.forward_timeout_s)
        self.test_task: asyncio.Task[ForwardResult] | None = None
        box = QGroupBox("Forward notices to chat or mail (apprise)", self)
        self.destinations = QListWidget(box)
        self.destinations.setObjectName("forwardDestinations")
        self.destinations.addItems(list(current.forward))
        self.name_edit = QLineEdit(box)
        self.name_edit.setObjectName("forwardName")
        self.name_edit.setPlaceholderText("name, e.g. ops-chat")
        self.url_edit = QLineEdit(box)
        self.url_edit.setObjectName("forwardUrl")
        self.url_edit.setEchoMode(QLineEdit.EchoMode.Password)  # tokens live in URLs
        self.url_edit.setPlaceholderText("apprise URL, e.g. tgram://bottoken/chatid")
        self.add_button = QPushButton("Add", box)
        self.remove_button = QPushButton("Remove", box)
        self.test_button = QPushButton("Send test", box)
        self.status = QLabel("", box)
        self.status.setObjectName("forwardStatus")
        self.status.setWordWrap(True)
        note = QLabel("Each URL is stored in the OS keyring only; the config file keeps its "
                      "name. Removing a name leaves its keyring entry (keyring del "
                      "netmon/forward NAME deletes it). Where there is no keyring (a service "
                      "account running netmon serve or monitor), the environment variable "
                      "NETMON_FORWARD_NAME (upper case, other characters as _: ops-chat -> "
                      "NETMON_FORWARD_OPS_CHAT) can hold the URL; the keyring entry wins.",
                      box)
        note.setWordWrap(True)
        entry = QHBoxLayout()
        entry.addWidget(self.name_edit, 1)
        entry.addWidget(self.url_edit, 2)
        entry.addWidget(self.add_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(box)
        layout.addWidget(note)
        layout.addWidget(self.destinations)
        layout.addLayout(entry)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        form = self.layout()
        assert form is not None
        form.addWidget(box)
        self.add_button.clicked.connect(self.add)
        self.url_edit.returnPressed.connect(self.add)
        self.remove_button.clicked.connect(self.remove)
        self.test_button.clicked.connect(self.send_test)
        self.destinations.currentRowChanged.connect(self._buttons)
        if not apprise_available():
            self._say("apprise is not installed: forwarding needs netmon's notify extra "
                      "(pip install netmon[notify]).", ok=False)
        self._buttons()

    def names(self) -> list[str]:
        """The destinations listed, in order."""
        return [self.destinations.item(i).text() for i in range(self.destinations.count())]

    def add(self) -> bool:
        """Store the typed URL in the keyring under the typed name and list the name."""
        name, url = self.name_edit.text().strip(), self.url_edit.text().strip()
        self.url_edit.clear()  # the URL is never kept in the widget
        if not FORWARD_NAME.fullmatch(name):
            return self._say("Name: letters, digits, '.', '_' or '-' (up to 64), starting "
                             "with a letter or digit.", ok=False)
        if name in self.names():
            return self._say(f"{name!r} is already listed; remove it first to replace its "
                             "URL.", ok=False)
        scheme, sep, rest = url.partition("://")
        if not (sep and scheme.isalnum() and rest):
            return self._say("URL: an apprise URL, service://..., e.g. json://host/path or "
                             "mailto://...", ok=False)
        from keyring.errors import KeyringError  # keyring scans its plug-ins on import

        try:
            store_secret(forward_entry(name), url)
        except KeyringError as exc:
            return self._say(f"No usable keyring here ({type(exc).__name__}): the URL was "
                             "not stored and nothing was added.", ok=False)
        self.destinations.addItem(name)
        self.destinations.setCurrentRow(self.destinations.count() - 1)
        self.name_edit.clear()
        self._edited()
        return self._say(f"Added {name} ({scheme.lower()}); its URL is in the keyring entry "
                         f"{forward_entry(name)}. Save to keep it in the list.", ok=True)

    def remove(self) -> None:
        """Take the selected destination off the list."""
        row = self.destinations.currentRow()
        if row < 0:
            return
        item = self.destinations.takeItem(row)
        self._edited()
        self._say(f"Removed {item.text()} from the list.", ok=True)

    def send_test(self) -> asyncio.Task[ForwardResult] | None:
        """Send a test message to the selected destination; the label shows the result."""
        item = self.destinations.currentItem()
        if item is None or (self.test_task is not None and not self.test_task.done()):
            return None
        name = item.text()
        self.test_button.setEnabled(False)
        self._say(f"Sending a test to {name}...", ok=True)
        self.test_task = asyncio.get_running_loop().create_task(
            self._send_test(name), name="gui-forward-test")
        return self.test_task

    def cancel(self) -> None:
        """Stop waiting for a test in flight (the dialog is closing)."""
        if self.test_task is not None:
            self.test_task.cancel()

    async def _send_test(self, name: str) -> ForwardResult:
        try:
            result = await self.forwarder.send_test(name)
        finally:
            self._buttons()
        if result.ok:
            self._say(f"{name}: sent", ok=True)
        else:
            self._say(f"{name}: failed: {result.reason}", ok=False)
        return result

    def _edited(self, *args: object) -> None:
        if hasattr(self, "destinations"):
            self.extra["forward"] = self.names()
        super()._edited(*args)

    def _buttons(self, *_: object) -> None:
        selected = self.destinations.currentRow() >= 0
        self.remove_button.setEnabled(selected)
        self.test_button.setEnabled(selected and (self.test_task is None
                                                  or self.test_task.done()))

    def _say(self, text: str, *, ok: bool) -> bool:
        self.status.setText(text)
        self.status.setStyleSheet(_OK if ok else _BAD)
        return ok
