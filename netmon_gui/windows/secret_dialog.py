"""SecretDialog: put a password, API key or token in the OS keyring under an entry name.

The value goes straight to ``core.secrets.store_secret`` and is never returned, shown or
written anywhere else; the caller keeps only the entry name (``*_keyring``). When the
machine has no usable keyring the dialog says so and suggests the ``*_env`` field.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from core.secrets import keyring_address, store_secret

__all__ = ["SecretDialog"]


class SecretDialog(QDialog):
    """Ask for ``what`` (e.g. "password") and store it under keyring ``entry``."""

    def __init__(self, entry: str, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Store {what} in the keyring")
        self.what = what
        self.entry_edit = QLineEdit(entry, self)
        self.entry_edit.setObjectName("secretEntry")
        self.value_edit = QLineEdit(self)
        self.value_edit.setObjectName("secretValue")
        self.value_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel("", self)
        self.error.setObjectName("secretError")
        self.error.setStyleSheet("color: #c62828;")
        self.error.setWordWrap(True)
        self.error.hide()
        note = QLabel(f"The {what} is stored in the OS keyring only; the config file keeps "
                      "the entry name.", self)
        note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Keyring entry", self.entry_edit)
        form.addRow(what.capitalize(), self.value_edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def entry(self) -> str:
        """The keyring entry name (``service/user``)."""
        return self.entry_edit.text().strip()

    def _save(self) -> None:
        entry, value = self.entry(), self.value_edit.text()
        if not entry or not value:
            self._fail("Enter both the entry name and the value.")
            return
        from keyring.errors import KeyringError  # keyring scans its plug-ins on import

        try:
            store_secret(entry, value)
        except KeyringError as exc:
            service, user = keyring_address(entry)
            self._fail(f"No usable keyring here ({type(exc).__name__}). On a headless "
                       f"machine set an environment variable and fill the '*_env' field "
                       f"instead (entry was {service}/{user}).")
            return
        finally:
            self.value_edit.clear()
        self.accept()

    def _fail(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
