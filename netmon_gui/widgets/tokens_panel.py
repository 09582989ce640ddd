"""TokensPanel: cached and refused tokens (fingerprints and claims, never a token)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..models.tokens import RowsModel, cached_tokens_model, failed_tokens_model
from .tables import make_table
from .token_check import TokenCheck

if TYPE_CHECKING:  # core.auth pulls in httpx and PyJWT: only there when [auth] is set
    from core.auth import ResilientAuthService

__all__ = ["NOT_CONFIGURED", "TokensPanel"]

NOT_CONFIGURED = "auth not configured"


def _n(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return "missing" if value is None else str(value)


class TokensPanel(QWidget):
    """Two tables and "Clear auth cache"; a notice when the core has no auth service."""

    request = Signal(str, object)  # action, target

    def __init__(self, auth: ResilientAuthService | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.auth = auth
        self.notice = QLabel(
            f"{NOT_CONFIGURED}\n\nSet [auth] supabase_url or a jwt_secret_keyring in the "
            "config to cache and validate tokens.", self)
        self.notice.setObjectName("placeholder")
        self.notice.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.notice.setWordWrap(True)
        self.cached: RowsModel | None = None
        self.failed: RowsModel | None = None
        self.summary = QLabel("", self)
        self.clear_button = QPushButton("Clear auth cache", self)
        self.clear_button.clicked.connect(lambda: self.request.emit("clear_auth_cache", None))
        self.remote_notice = QLabel("", self)
        self.remote_notice.setObjectName("placeholder")
        self.remote_notice.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.remote_notice.setWordWrap(True)
        self.remote: str | None = None  # the backend shown, None: this machine
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.notice)
        self.stack.addWidget(self.remote_notice)
        if auth is not None:
            self.cached = cached_tokens_model(auth.entries, self)
            self.failed = failed_tokens_model(auth.failed_entries, self)
            self.stack.addWidget(self._tables(self.cached, self.failed))
            self.stack.setCurrentIndex(2)
        else:
            self.clear_button.setEnabled(False)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(self.clear_button)
        self.token_check = TokenCheck(auth, self)
        self.token_check.checked.connect(lambda _report: self.refresh())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.stack, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.token_check)
        self.refresh()

    @property
    def configured(self) -> bool:
        """Whether the core has an auth service."""
        return self.auth is not None

    def show_local(self) -> None:
        """Show this machine's auth service again."""
        self.remote = None
        self.token_check.setVisible(True)
        self.stack.setCurrentIndex(2 if self.auth is not None else 0)
        self.clear_button.setEnabled(self.auth is not None)
        self.refresh()

    def show_remote(self, backend: str, auth: Mapping[str, Any] | None) -> None:
        """Show a remote backend's token counters (its status reports no token list)."""
        self.remote = backend
        self.token_check.setVisible(False)  # checks run against this machine's auth only
        self.stack.setCurrentIndex(1)
        self.clear_button.setEnabled(True)
        if auth is None:
            self.remote_notice.setText(f"{backend} sends no auth figures (auth not configured "
                                       "there, or not reported).")
            self.summary.setText("")
            return
        self.remote_notice.setText(
            f"{backend} reports token counts only; the tokens themselves stay on the backend.")
        self.summary.setText(
            f"{backend}: {_n(auth, 'cached_tokens')} cached, {_n(auth, 'failed_tokens')} "
            f"refused; {_n(auth, 'hits')} hits, {_n(auth, 'misses')} misses, "
            f"{_n(auth, 'offline_validations')} offline validations")

    def refresh(self) -> None:
        """Re-read the auth service's entries and counters."""
        if self.remote is not None:
            return
        if self.auth is None or self.cached is None or self.failed is None:
            self.summary.setText("")
            return
        self.cached.refresh()
        self.failed.refresh()
        stats = self.auth.stats()
        self.summary.setText(
            f"{stats['cached_tokens']} cached, {stats['failed_tokens']} refused; "
            f"{stats['hits']} hits, {stats['misses']} misses, "
            f"{stats['offline_validations']} offline validations")

    def set_busy(self, busy: bool) -> None:
        """Disable the button while an action runs."""
        self.clear_button.setEnabled(not busy and (self.auth is not None
                                                   or self.remote is not None))

    def _tables(self, cached: RowsModel, failed: RowsModel) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        for title, model in (("Cached tokens", cached), ("Refused tokens", failed)):
            label = QLabel(title, page)
            label.setObjectName("sectionTitle")
            table = make_table(page)
            table.setModel(model)
            table.setColumnWidth(0, 120)
            layout.addWidget(label)
            layout.addWidget(table, 1)
        return page
