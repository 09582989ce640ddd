"""Dialogs for remote backends: add / edit / remove them, and store a bearer token.

The token goes to keyring (entry ``netmon/remote/<name>``) and only the entry's name goes
to the config; the field never shows a stored token, and nothing here logs one. Saving
writes the config atomically and keeps the user's comments (``core.config.save_config``).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.config import Config, RemoteSettings, config_path, is_http_url, save_config
from core.config.urls import url_has_credentials
from core.secrets import SecretError, store_secret

from .window_modal import ask_yes_no, open_dialog, tell

__all__ = ["BackendForm", "BackendsDialog", "TokenDialog", "save_remotes", "token_entry",
           "validate_backend"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def token_entry(name: str) -> str:
    """The keyring entry that holds backend ``name``'s bearer token."""
    return f"netmon/remote/{name}"


def validate_backend(name: str, url: str, taken: set[str]) -> dict[str, str]:
    """Field -> problem, for the inline messages (empty: valid)."""
    problems: dict[str, str] = {}
    if not _NAME.match(name):
        problems["name"] = "letters, digits, '.', '_' or '-' (up to 64)"
    elif name in taken:
        problems["name"] = f"a backend called {name!r} already exists"
    elif name == "local":
        problems["name"] = "'local' is the console on this machine; pick another name"
    if url_has_credentials(url):
        problems["url"] = "no credentials in the URL: the token goes in the field below"
    elif not is_http_url(url):
        problems["url"] = "an http:// or https:// URL with a host"
    return problems


def save_remotes(config: Config, remotes: list[RemoteSettings]) -> Config:
    """``config`` with ``remotes``, written to its file (or the default one)."""
    updated = dataclasses.replace(config, remotes=remotes)
    path = save_config(updated, config.source or config_path())
    return dataclasses.replace(updated, source=Path(path))


class TokenDialog(QDialog):
    """Asks for a bearer token and stores it in keyring (never shows a stored one)."""

    def __init__(self, backend: str, parent: QWidget | None = None, *,
                 reason: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Token for {backend}")
        self.entry = token_entry(backend)
        self.token = QLineEdit(self)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("paste the bearer token")
        self.message = QLabel(reason or f"Stored in your keyring as {self.entry}; the "
                              "config names only the entry.", self)
        self.message.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.token)
        layout.addWidget(buttons)

    def accept(self) -> None:
        value = self.token.text().strip()
        if not value or not value.isascii() or any(c.isspace() for c in value):
            self.message.setText("The token is empty or has spaces or non-ASCII characters.")
            return
        try:
            store_secret(self.entry, value)
        except SecretError as exc:
            self.message.setText(str(exc))
            return
        self.token.clear()
        super().accept()


class BackendForm(QDialog):
    """Name, URL, token and TLS verification of one backend, validated as you type."""

    def __init__(self, taken: set[str], settings: RemoteSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit backend" if settings else "Add backend")
        self.original = settings
        self.taken = taken
        self.name = QLineEdit(settings.name if settings else "", self)
        self.url = QLineEdit(settings.url if settings else "", self)
        self.url.setPlaceholderText("https://backend.example:8787")
        self.token = QLineEdit(self)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        has_token = bool(settings and (settings.token_keyring or settings.token_env))
        self.token.setPlaceholderText("leave empty to keep the stored token" if has_token
                                      else "bearer token (stored in keyring)")
        self.verify = QCheckBox("Verify the TLS certificate", self)
        self.verify.setChecked(settings.verify_tls if settings else True)
        self.errors = {key: QLabel("", self) for key in ("name", "url")}
        for label in self.errors.values():
            label.setStyleSheet("color: #c62828;")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("", self.errors["name"])
        form.addRow("URL", self.url)
        form.addRow("", self.errors["url"])
        form.addRow("Token", self.token)
        form.addRow("", self.verify)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.name.textChanged.connect(self.validate)
        self.url.textChanged.connect(self.validate)
        self.validate()

    def validate(self) -> bool:
        """Show the problems beside their fields; Save is enabled only without any."""
        problems = validate_backend(self.name.text().strip(), self.url.text().strip(),
                                    self.taken)
        for key, label in self.errors.items():
            label.setText(problems.get(key, ""))
            label.setVisible(key in problems)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not problems)
        return not problems

    def result_settings(self) -> RemoteSettings:
        """The edited settings; a typed token is stored in keyring here."""
        name = self.name.text().strip()
        base = self.original or RemoteSettings(name=name, url="")
        keyring_entry = base.token_keyring if base.name == name else ""
        token = self.token.text().strip()
        if token:
            keyring_entry = token_entry(name)
            store_secret(keyring_entry, token)
            self.token.clear()
        return dataclasses.replace(base, name=name, url=self.url.text().strip(),
                                   verify_tls=self.verify.isChecked(),
                                   token_keyring=keyring_entry)

    def accept(self) -> None:
        if self.validate():
            super().accept()


class BackendsDialog(QDialog):
    """The list of backends with Add, Edit and Remove; Save writes the config."""

    def __init__(self, config: Config, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Backends")
        self.config = config
        self.remotes = list(config.remotes)
        self.list = QListWidget(self)
        self.add_button = QPushButton("Add...", self)
        self.edit_button = QPushButton("Edit...", self)
        self.remove_button = QPushButton("Remove", self)
        self.add_button.clicked.connect(lambda: self.edit(None))
        self.edit_button.clicked.connect(lambda: self.edit(self.list.currentRow()))
        self.remove_button.clicked.connect(self.remove)
        side = QVBoxLayout()
        for button in (self.add_button, self.edit_button, self.remove_button):
            side.addWidget(button)
        side.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.list, 1)
        row.addLayout(side)
        where = config.source or config_path()
        note = QLabel(f"Saved to {where}; tokens go to your keyring.", self)
        note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.form: BackendForm | None = None  # the open form (tests drive it)
        self._fill()

    def _fill(self) -> None:
        self.list.clear()
        for r in self.remotes:
            self.list.addItem(f"{r.name}  {r.url}")

    def edit(self, row: int | None) -> None:
        """Open the form for a new backend (row None) or the one in ``row``."""
        current = self.remotes[row] if row is not None and 0 <= row < len(self.remotes) \
            else None
        if row is not None and current is None:
            return
        taken = {r.name for r in self.remotes if r is not current}
        form = self.form = BackendForm(taken, current, self)
        open_dialog(form, lambda: self.apply(row, form.result_settings()))
        form.finished.connect(lambda _: setattr(self, "form", None))

    def apply(self, row: int | None, settings: RemoteSettings) -> None:
        """Put ``settings`` in ``row`` (None: append)."""
        if row is None:
            self.remotes.append(settings)
        else:
            self.remotes[row] = settings
        self._fill()

    def remove(self) -> None:
        """Remove the selected backend (after asking)."""
        row = self.list.currentRow()
        if 0 <= row < len(self.remotes):
            chosen = self.remotes[row]
            ask_yes_no(self, "Remove backend", f"Remove {chosen.name} from the config?",
                       lambda: self._remove(chosen))

    def _remove(self, chosen: RemoteSettings) -> None:
        if chosen in self.remotes:
            self.remotes.remove(chosen)
            self._fill()

    def save(self) -> Config:
        """Write the backends to the config file; returns the new config."""
        self.config = save_remotes(self.config, self.remotes)
        return self.config

    def accept(self) -> None:
        try:
            self.save()
        except OSError as exc:
            tell(self, "Cannot save", f"Cannot write the config: {exc}",
                 QMessageBox.Icon.Critical)
            return
        super().accept()
