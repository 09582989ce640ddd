"""BackendSelector: "This machine" and every remote backend, each with a coloured dot for
its overall status and the time of its last answer."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QComboBox, QWidget

from .. import fmt
from ..backends import BackendPoller, Backends
from ..colors import badge_for

__all__ = ["LOCAL_LABEL", "BackendSelector", "backend_text"]

LOCAL_LABEL = "This machine"
_UNREACHABLE = QColor("#c62828")
_REFUSED = QColor("#8e24aa")


def _dot(color: QColor) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(color)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, 12, 12)
    painter.end()
    return QIcon(pixmap)


def _color(state: str) -> QColor:
    if state == "unreachable":
        return _UNREACHABLE
    if state == "refused":
        return _REFUSED
    return badge_for(state).background  # healthy green ... unknown / waiting grey


def backend_text(poller: BackendPoller) -> str:
    """``prod - healthy, 14:03:07`` or ``prod - unreachable (timeout), last 14:01:00``."""
    state = poller.state
    last = poller.last
    if state == "waiting":
        return f"{poller.name} - waiting for the first answer"
    when = fmt.local_time(poller.last_answer_at) if poller.last_answer_at else "never"
    if last is not None and not last.ok:
        return f"{poller.name} - {state} ({last.error_kind}), last answer {when}"
    return f"{poller.name} - {state}, {when}"


class BackendSelector(QComboBox):
    """Emits ``chosen(name)`` (None: this machine) when the user picks a backend."""

    chosen = Signal(object)

    def __init__(self, backends: Backends, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("backendSelector")
        self.setToolTip("Which backend the console shows and acts on")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.backends = backends
        self._rebuilding = False
        self.rebuild()
        backends.changed.connect(self.rebuild)
        backends.updated.connect(self.update_backend)
        self.currentIndexChanged.connect(self._changed)

    def current_name(self) -> str | None:
        """The chosen backend's name (None: this machine)."""
        data = self.currentData()
        return str(data) if data else None

    def choose(self, name: str | None) -> bool:
        """Select backend ``name``; False when there is none."""
        index = self.findData(name or "")
        if index < 0:
            return False
        self.setCurrentIndex(index)
        return True

    def rebuild(self) -> None:
        """One item per backend (keeps the current one when it still exists)."""
        current = self.current_name()
        self._rebuilding = True
        try:
            self.clear()
            self.addItem(_dot(badge_for("healthy").background), LOCAL_LABEL, "")
            for poller in self.backends.pollers.values():
                self.addItem(_dot(_color(poller.state)), backend_text(poller), poller.name)
            index = self.findData(current or "")
            self.setCurrentIndex(max(index, 0))
        finally:
            self._rebuilding = False
        if current and self.findData(current) < 0:
            self.chosen.emit(None)

    def update_backend(self, name: str) -> None:
        """Repaint one backend's dot and text."""
        poller = self.backends.get(name)
        index = self.findData(name)
        if poller is not None and index >= 0:
            self.setItemIcon(index, _dot(_color(poller.state)))
            self.setItemText(index, backend_text(poller))

    def _changed(self, _index: int) -> None:
        if not self._rebuilding:
            self.chosen.emit(self.current_name())
