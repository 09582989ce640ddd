"""TokenCheck: paste a JWT, see its fingerprint, claims and verdict; the token itself is
never kept, shown, stored or logged."""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from core.log import printable

if TYPE_CHECKING:  # core.auth pulls in httpx and PyJWT: imported by the first check
    from core.auth import ResilientAuthService

__all__ = ["TokenCheck", "render_report"]


def _text(value: object) -> str:
    return html.escape(printable(str(value)))


def render_report(report: Mapping[str, Any]) -> str:
    """The rich text shown for an ``inspect_token`` report (escaped: claims are input)."""
    verdict = report["verdict"]
    if verdict.get("valid"):
        head = f"<b style='color:#2e7d32'>VALID</b> (checked {_text(verdict.get('source'))})"
    else:
        head = (f"<b style='color:#c62828'>REFUSED</b>: {_text(verdict.get('reason'))}: "
                f"{_text(verdict.get('detail'))}")
    lines = [head, f"fingerprint sha256:{_text(report['fingerprint'])}..."]
    claims = report.get("claims") or {}
    for key, value in sorted(claims.items()):
        lines.append(f"<tt>{_text(key)}</tt>: {_text(json.dumps(value, default=str))}")
    return "<br>".join(lines)


class TokenCheck(QWidget):
    """One line to paste a token, a Check button, and the verdict under it."""

    checked = Signal(dict)  # the report (fingerprint, header, claims, verdict; no token)

    def __init__(self, auth: ResilientAuthService | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.auth = auth
        self.field = QLineEdit(self)
        self.field.setEchoMode(QLineEdit.EchoMode.Password)  # shoulder-surfing, screenshots
        self.field.setPlaceholderText("Paste a JWT to check it (never stored or logged)")
        self.button = QPushButton("Check token", self)
        self.result = QLabel("", self)
        self.result.setObjectName("tokenVerdict")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.RichText)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addWidget(self.field, 1)
        row.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.result)
        self.button.clicked.connect(self.check)
        self.field.returnPressed.connect(self.check)
        self._task: asyncio.Task[None] | None = None

    def check(self) -> asyncio.Task[None] | None:
        """Check the pasted token on the loop (the field is emptied at once)."""
        token = self.field.text().strip().removeprefix("Bearer ").strip()
        self.field.clear()
        if not token or (self._task is not None and not self._task.done()):
            return None
        self.button.setEnabled(False)
        self.result.setText("Checking...")
        self._task = asyncio.get_running_loop().create_task(self._check(token),
                                                            name="gui-token-check")
        return self._task

    async def _check(self, token: str) -> None:
        from core.auth import inspect_token

        try:
            report = await inspect_token(token, self.auth)
        finally:
            self.button.setEnabled(True)
        self.result.setText(render_report(report))
        self.checked.emit(report)

    async def aclose(self) -> None:
        """Cancel a check still running and wait for it."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
