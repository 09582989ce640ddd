"""BackendStrip: what the last call to a remote backend gave, in words.

URL, time of the last answer, HTTP status and latency of the last call; the failure
(unreachable, refused token, unreadable answer) as a sentence; shape problems with the raw
answer on demand; "Replace token..." when the backend refused the token.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import fmt
from ..backends import BackendPoller

__all__ = ["BackendStrip"]


class BackendStrip(QFrame):
    """Shown while a remote backend is selected; ``replaceToken(name)`` on the button."""

    replaceToken = Signal(str)  # noqa: N815 - Qt signal naming

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("backendStrip")
        self.name: str | None = None
        self.summary = QLabel("", self)
        self.summary.setWordWrap(True)
        self.error = QLabel("", self)
        self.error.setObjectName("backendError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("#backendError { color: #c62828; font-weight: 600; }")
        self.raw = QPlainTextEdit(self)
        self.raw.setObjectName("backendRaw")
        self.raw.setReadOnly(True)
        self.raw.setMaximumHeight(180)
        self.raw.hide()
        self.raw_button = QPushButton("Show the answer", self)
        self.raw_button.setCheckable(True)
        self.raw_button.toggled.connect(self.raw.setVisible)
        self.token_button = QPushButton("Replace token...", self)
        self.token_button.clicked.connect(self._replace_token)
        top = QHBoxLayout()
        text = QVBoxLayout()
        text.addWidget(self.summary)
        text.addWidget(self.error)
        top.addLayout(text, 1)
        top.addWidget(self.token_button)
        top.addWidget(self.raw_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addLayout(top)
        layout.addWidget(self.raw)

    def _replace_token(self) -> None:
        if self.name is not None:
            self.replaceToken.emit(self.name)

    def show_poller(self, poller: BackendPoller) -> None:
        """Describe ``poller``'s last call."""
        self.name = poller.name
        last = poller.last
        when = fmt.local_time(poller.last_answer_at) if poller.last_answer_at else "never"
        head = f"<b>{poller.name}</b>  {poller.backend.base_url}  \u00b7  last answer {when}"
        if last is None:
            self.summary.setText(f"{head}  \u00b7  waiting for the first answer")
            self.error.hide()
            self.token_button.hide()
            self.raw_button.hide()
            self.raw.hide()
            return
        code = f"HTTP {last.status_code}" if last.status_code else "no HTTP answer"
        call = f"{code} in {fmt.latency(last.elapsed_ms)}"
        retry = (f"  \u00b7  next try in {poller.next_delay_s:.0f} s" if poller.failures
                 else "")
        self.summary.setText(f"{head}  \u00b7  last call: {call}{retry}")
        if last.ok:
            self.error.setVisible(bool(last.problems))
            self.error.setText(f"{len(last.problems)} field(s) of this backend's answer differ "
                               "from netmon's shape; missing ones are shown as missing"
                               if last.problems else "")
        else:
            self.error.setText(f"{poller.state.upper()} ({last.error_kind}): {last.error}")
            self.error.show()
        self.token_button.setVisible(poller.state == "refused")
        has_raw = bool(last.problems) or (not last.ok and bool(last.raw))
        self.raw_button.setVisible(has_raw)
        if not has_raw:
            self.raw_button.setChecked(False)
        lines = [f"{last.endpoint}: {code}, {fmt.latency(last.elapsed_ms)}, "
                 f"{last.attempts} attempt(s)"]
        lines += [f"problem: {p}" for p in last.problems]
        if last.raw:
            lines += ["", last.raw]
        self.raw.setPlainText("\n".join(lines))
