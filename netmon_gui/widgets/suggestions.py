"""SuggestionsPanel: what to look at and do, one card per suggestion.

A suggestion with an ``action`` gets a button; the button asks ``request`` (connected
by the window to the ActionRunner) to run it, so this widget never talks to the core.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from .. import fmt
from ..colors import severity_badge

__all__ = ["SuggestionCard", "SuggestionsPanel", "button_text"]

_ICONS = {
    "critical": QStyle.StandardPixmap.SP_MessageBoxCritical,
    "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
    "info": QStyle.StandardPixmap.SP_MessageBoxInformation,
}


def button_text(action: str, target: str | None) -> str:
    """The label of a suggestion's button."""
    if action == "reset_breaker":
        return f"Reset breaker '{target}'" if target else "Reset all breakers"
    if action in ("probe_now", "diagnose"):
        verb = "Probe" if action == "probe_now" else "Diagnose"
        return f"{verb} '{target}'" if target else verb
    return {"clear_auth_cache": "Clear auth cache", "reconnect_database": "Reconnect database",
            "probe_all": "Probe all now"}.get(action, action.replace("_", " ").capitalize())


class SuggestionCard(QFrame):
    """One suggestion: severity icon and stripe, title, wrapped detail, optional button."""

    def __init__(self, suggestion: Mapping[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.suggestion = dict(suggestion)
        severity = str(suggestion.get("severity", "info"))
        self.setObjectName("suggestionCard")
        self.setProperty("severity", severity)
        color = severity_badge(severity).background.name()
        self.setStyleSheet(f"#suggestionCard {{ border-left: 5px solid {color}; }}")
        icon = QLabel(self)
        icon.setPixmap(self.style().standardIcon(
            _ICONS.get(severity, _ICONS["info"])).pixmap(28, 28))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.title = QLabel(str(suggestion.get("title", "")), self)
        self.title.setObjectName("suggestionTitle")
        self.title.setWordWrap(True)
        self.detail = QLabel(fmt.localize_times(str(suggestion.get("detail", ""))), self)
        self.detail.setObjectName("suggestionDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text = QVBoxLayout()
        text.setSpacing(4)
        text.addWidget(self.title)
        text.addWidget(self.detail)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(12)
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(text, 1)
        self.button: QPushButton | None = None
        action = suggestion.get("action")
        if action:
            self.button = QPushButton(button_text(str(action), suggestion.get("target")), self)
            self.button.setObjectName("suggestionButton")
            layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignVCenter)


ALL_CLEAR = "No suggestions: every target is up and nothing needs your attention."
WAITING = "No suggestions yet: waiting for the first results."


class SuggestionsPanel(QWidget):
    """A scrollable list of suggestion cards; ``request(action, target)`` on a button."""

    request = Signal(str, object)  # action, target (str or None)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cards: list[SuggestionCard] = []
        self._key: list[tuple[Any, ...]] | None = None
        self.empty = QLabel(WAITING, self)
        self.empty.setObjectName("placeholder")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self._list = QWidget()
        self._list.setObjectName("suggestionList")
        self._rows = QVBoxLayout(self._list)
        self._rows.setContentsMargins(4, 4, 4, 4)
        self._rows.setSpacing(8)
        self._rows.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self._list)
        self._scroll = scroll
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.empty)
        layout.addWidget(scroll)
        self.set_suggestions([])

    def set_suggestions(self, suggestions: Sequence[Mapping[str, Any]],
                        overall: str = "unknown") -> None:
        """Show ``suggestions`` (the cards are rebuilt only when they changed); with none,
        say why from the ``overall`` status: all clear only when it is ``healthy``."""
        self.empty.setText(ALL_CLEAR if overall == "healthy" else WAITING if overall == "unknown"
                           else f"No suggestions, but the overall status is {overall}: see "
                                "the targets table.")
        key = [tuple(str(s.get(k)) for k in ("id", "severity", "title", "detail", "action",
                                              "target")) for s in suggestions]
        if key == self._key:
            return
        self._key = key
        for card in self.cards:
            self._rows.removeWidget(card)
            card.deleteLater()
        self.cards = []
        for suggestion in suggestions:
            card = SuggestionCard(suggestion, self._list)
            if card.button is not None:
                action, target = str(suggestion["action"]), suggestion.get("target")
                card.button.clicked.connect(
                    lambda _=False, a=action, t=target: self.request.emit(a, t))
            self._rows.insertWidget(self._rows.count() - 1, card)
            self.cards.append(card)
        self.empty.setVisible(not self.cards)
        self._scroll.setVisible(bool(self.cards))

    def set_busy(self, busy: bool) -> None:
        """Disable the buttons while an action runs."""
        for card in self.cards:
            if card.button is not None:
                card.button.setEnabled(not busy)
