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
    """One suggestion: severity icon and stripe, title, wrapped detail, optional button.

    ``show_suggestion`` updates it in place; the stripe comes from the panel's style sheet
    (``severity`` property), so a card carries no style sheet of its own."""

    requested = Signal(str, object)  # action, target of the suggestion shown

    def __init__(self, suggestion: Mapping[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.suggestion: dict[str, Any] = {}
        self.setObjectName("suggestionCard")
        self._icon = QLabel(self)
        self._icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.title = QLabel(self)
        self.title.setObjectName("suggestionTitle")
        self.title.setWordWrap(True)
        self.detail = QLabel(self)
        self.detail.setObjectName("suggestionDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text = QVBoxLayout()
        text.setSpacing(4)
        text.addWidget(self.title)
        text.addWidget(self.detail)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(12, 10, 12, 10)
        self._layout.setSpacing(12)
        self._layout.addWidget(self._icon, 0, Qt.AlignmentFlag.AlignTop)
        self._layout.addLayout(text, 1)
        self.button: QPushButton | None = None
        self.show_suggestion(suggestion)

    def show_suggestion(self, suggestion: Mapping[str, Any]) -> None:
        """Show ``suggestion``, touching only what differs from the one shown."""
        new = dict(suggestion)
        if new == self.suggestion:
            return
        severity = str(new.get("severity", "info"))
        severity = severity if severity in _ICONS else "info"
        if severity != self.property("severity"):
            self.setProperty("severity", severity)
            self._icon.setPixmap(self.style().standardIcon(_ICONS[severity]).pixmap(28, 28))
            if self.testAttribute(Qt.WidgetAttribute.WA_WState_Polished):
                # the stripe's property selector is matched at polish time
                self.style().unpolish(self)
                self.style().polish(self)
        self.title.setText(str(new.get("title", "")))
        self.detail.setText(fmt.localize_times(str(new.get("detail", ""))))
        action = new.get("action")
        if action and self.button is None:
            self.button = QPushButton(self)
            self.button.setObjectName("suggestionButton")
            self.button.clicked.connect(self._request)
            self._layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignVCenter)
        elif not action and self.button is not None:
            self._layout.removeWidget(self.button)
            self.button.hide()  # gone now, not when the loop deletes it
            self.button.deleteLater()
            self.button = None
        if self.button is not None:
            self.button.setText(button_text(str(action), new.get("target")))
        self.suggestion = new

    def _request(self) -> None:
        self.requested.emit(str(self.suggestion["action"]), self.suggestion.get("target"))


def _stripes() -> str:
    """The severity stripes of the cards, one rule per severity (colors from ``colors``)."""
    return "\n".join(
        f'#suggestionCard[severity="{severity}"] '
        f"{{ border-left: 5px solid {severity_badge(severity).background.name()}; }}"
        for severity in _ICONS)


ALL_CLEAR = "No suggestions: every target is up and nothing needs your attention."
WAITING = "No suggestions yet: waiting for the first results."


class SuggestionsPanel(QWidget):
    """A scrollable list of suggestion cards; ``request(action, target)`` on a button."""

    request = Signal(str, object)  # action, target (str or None)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cards: list[SuggestionCard] = []
        self._busy = False
        self.empty = QLabel(WAITING, self)
        self.empty.setObjectName("placeholder")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self._list = QWidget()
        self._list.setObjectName("suggestionList")
        self._list.setStyleSheet(_stripes())
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
        """Show ``suggestions`` in their order: a card whose suggestion (same ``id``) is
        unchanged is kept as it is, a changed one is updated in place, new ones are added
        and the others removed. With none, say why from the ``overall`` status: all clear
        only when it is ``healthy``."""
        self.empty.setText(ALL_CLEAR if overall == "healthy" else WAITING if overall == "unknown"
                           else f"No suggestions, but the overall status is {overall}: see "
                                "the targets table.")
        spare: dict[str, list[SuggestionCard]] = {}
        for card in self.cards:
            spare.setdefault(str(card.suggestion.get("id")), []).append(card)
        cards: list[SuggestionCard] = []
        for suggestion in suggestions:
            same_id = spare.get(str(suggestion.get("id")))
            if same_id:
                card = same_id.pop(0)
                card.show_suggestion(suggestion)
            else:
                card = SuggestionCard(suggestion, self._list)
                card.requested.connect(self.request)
            if card.button is not None:
                card.button.setEnabled(not self._busy)
            cards.append(card)
        for gone in spare.values():
            for card in gone:
                self._rows.removeWidget(card)
                card.hide()
                card.deleteLater()
        for index, card in enumerate(cards):  # the stretch stays last
            if self._rows.indexOf(card) != index:
                self._rows.removeWidget(card)
                self._rows.insertWidget(index, card)
        self.cards = cards
        self.empty.setVisible(not cards)
        self._scroll.setVisible(bool(cards))

    def set_busy(self, busy: bool) -> None:
        """Disable the buttons while an action runs (cards shown meanwhile too)."""
        self._busy = busy
        for card in self.cards:
            if card.button is not None:
                card.button.setEnabled(not busy)
