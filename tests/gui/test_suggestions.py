"""SuggestionsPanel: cards follow the suggestions in proportion to what changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from netmon_gui.colors import severity_badge
from netmon_gui.widgets.suggestions import SuggestionCard, SuggestionsPanel
from netmon_gui.windows.main_window import STYLESHEET


def styled_host(panel: SuggestionsPanel, width: int, height: int) -> QWidget:
    """A shown window under the console's style sheet holding ``panel``."""
    host = QWidget()
    host.setStyleSheet(STYLESHEET.read_text(encoding="utf-8"))
    QVBoxLayout(host).addWidget(panel)
    host.resize(width, height)
    host.show()
    return host


@pytest.fixture
def panel() -> Iterator[SuggestionsPanel]:
    """A panel shown under the console's style sheet (its cards' frame comes from there)."""
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    host = styled_host(shown := SuggestionsPanel(), 900, 1400)
    yield shown
    host.close()
    host.deleteLater()
    app.processEvents()


def suggestion(name: str, severity: str = "warning", action: str | None = "probe_now",
               detail: str = "Seen: connection refused.") -> dict[str, Any]:
    return {"id": f"tcp_refused:{name}", "severity": severity,
            "title": f"{name}: connection refused at {name}.internal:443", "detail": detail,
            "action": action, "target": name}


def ids(panel: SuggestionsPanel) -> list[str]:
    return [str(card.suggestion["id"]) for card in panel.cards]


def settled(panel: SuggestionsPanel) -> None:
    """Let deletions and the layout happen."""
    for _ in range(2):
        QApplication.processEvents()
    layout = panel.layout()
    assert layout is not None
    layout.activate()


def top_to_bottom(panel: SuggestionsPanel) -> list[str]:
    settled(panel)
    cards = [c for c in panel.cards if c.isVisible()]
    return [str(c.suggestion["id"]) for c in sorted(cards, key=lambda c: c.y())]


def stripe(card: SuggestionCard) -> QColor:
    """The color of the card's left severity stripe, as painted."""
    image = card.grab().toImage()
    return image.pixelColor(QPoint(2, image.height() // 2))


def test_the_same_suggestions_again_rebuild_no_card(panel: SuggestionsPanel) -> None:
    shown = [suggestion(n) for n in ("a", "b", "c")]
    panel.set_suggestions(shown, "unhealthy")
    before = list(panel.cards)
    panel.set_suggestions([dict(s) for s in shown], "unhealthy")
    assert all(a is b for a, b in zip(panel.cards, before, strict=True))


def test_one_changed_suggestion_updates_only_its_card(panel: SuggestionsPanel) -> None:
    panel.set_suggestions([suggestion(n) for n in ("a", "b", "c")], "unhealthy")
    settled(panel)
    a, _, c = panel.cards
    changed = suggestion("b", "critical", detail="Seen: timed out after 5.0 s.")
    panel.set_suggestions([suggestion("a"), changed, suggestion("c")], "unhealthy")
    assert panel.cards[0] is a and panel.cards[2] is c  # untouched
    card = panel.cards[1]
    assert card.suggestion == changed
    assert card.detail.text() == "Seen: timed out after 5.0 s."
    assert card.property("severity") == "critical"
    assert stripe(card) == severity_badge("critical").background
    assert stripe(a) == severity_badge("warning").background
    assert top_to_bottom(panel) == ids(panel) == [
        "tcp_refused:a", "tcp_refused:b", "tcp_refused:c"]


def test_cards_follow_the_new_order_and_removed_ones_go(panel: SuggestionsPanel) -> None:
    panel.set_suggestions([suggestion(n) for n in ("a", "b", "c", "d")], "unhealthy")
    settled(panel)
    a, b, c, _ = panel.cards
    # d turns critical (sorted first), b recovers (gone), e appears at the end
    panel.set_suggestions([suggestion("d", "critical"), suggestion("a"), suggestion("c"),
                           suggestion("e")], "unhealthy")
    assert ids(panel) == ["tcp_refused:d", "tcp_refused:a", "tcp_refused:c", "tcp_refused:e"]
    assert panel.cards[1] is a and panel.cards[2] is c
    assert b not in panel.cards
    assert top_to_bottom(panel) == ids(panel)
    panel.set_suggestions([], "healthy")
    assert panel.cards == [] and not panel.empty.isHidden()


def test_no_card_carries_its_own_style_sheet(panel: SuggestionsPanel) -> None:
    panel.set_suggestions([suggestion("a", s) for s in ("critical", "warning", "info")],
                          "unhealthy")
    settled(panel)
    assert [card.styleSheet() for card in panel.cards] == ["", "", ""]
    assert [stripe(card) for card in panel.cards] == [
        severity_badge(s).background for s in ("critical", "warning", "info")]


def test_a_button_requests_the_current_action_for_its_target_after_an_update(
        panel: SuggestionsPanel) -> None:
    asked: list[tuple[str, object]] = []
    panel.request.connect(lambda action, target: asked.append((action, target)))
    panel.set_suggestions([suggestion("a", action=None), suggestion("b")], "unhealthy")
    assert panel.cards[0].button is None
    panel.set_suggestions([suggestion("a", action="diagnose"),
                           suggestion("b", action="reset_breaker")], "unhealthy")
    first, second = panel.cards
    assert first.button is not None and second.button is not None
    assert first.button.text() == "Diagnose 'a'"
    assert second.button.text() == "Reset breaker 'b'"
    first.button.click()
    second.button.click()
    assert asked == [("diagnose", "a"), ("reset_breaker", "b")]
    panel.set_suggestions([suggestion("a", action=None), suggestion("b")], "unhealthy")
    assert panel.cards[0].button is None
    assert panel.cards[1].button is not None
    panel.cards[1].button.click()
    assert asked[-1] == ("probe_now", "b")


def test_busy_disables_the_buttons_of_cards_added_or_updated_while_busy(
        panel: SuggestionsPanel) -> None:
    panel.set_suggestions([suggestion("a", action=None)], "unhealthy")
    panel.set_busy(True)
    panel.set_suggestions([suggestion("a"), suggestion("b")], "unhealthy")
    assert [c.button is not None and c.button.isEnabled() for c in panel.cards] == [
        False, False]
    panel.set_busy(False)
    assert all(c.button is not None and c.button.isEnabled() for c in panel.cards)


def test_cards_updated_in_place_look_like_cards_built_afresh() -> None:
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    before = [suggestion("a"), suggestion("b", "info"), suggestion("c", action=None),
              suggestion("d")]
    after = [suggestion("b", "critical", detail="Seen: timed out after 5.0 s."),
             suggestion("a", action="diagnose"), suggestion("c", "info"),
             suggestion("d", action=None, detail="Seen: connection refused; nothing listens "
                                                 "on the port, check the service is running."),
             suggestion("e", "info")]
    images = []
    for steps in ([before, after], [after]):
        host = styled_host(shown := SuggestionsPanel(), 700, 900)
        for step in steps:
            shown.set_suggestions(step, "unhealthy")
            settled(shown)  # deleteLater'd widgets may still be around: they must not show
        images.append(host.grab().toImage())
        host.close()
        host.deleteLater()
    assert images[0] == images[1]


def test_a_panel_updated_before_it_joins_the_window_shows_the_current_cards() -> None:
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    hidden = SuggestionsPanel()  # as a lazy tab's panel: kept current, not yet in the window
    hidden.set_suggestions([suggestion("a"), suggestion("b", "info")], "unhealthy")
    hidden.set_suggestions([suggestion("b", "critical"), suggestion("a", action=None)],
                           "unhealthy")
    assert ids(hidden) == ["tcp_refused:b", "tcp_refused:a"]
    host = styled_host(hidden, 700, 600)
    assert top_to_bottom(hidden) == ["tcp_refused:b", "tcp_refused:a"]
    assert [stripe(c) for c in hidden.cards] == [
        severity_badge(s).background for s in ("critical", "warning")]
    assert hidden.cards[1].button is None
    host.close()
    host.deleteLater()
