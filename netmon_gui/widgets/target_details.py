"""TargetDetails: the selected target's endpoint, reason, timings and full last error."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QFocusEvent, QMouseEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QSizePolicy, QWidget

from core.breaker import CircuitBreaker
from core.monitor import HealthMonitor

from .. import fmt

__all__ = ["TargetDetails"]

_FIELDS = ("Endpoint", "Status", "Checked", "Timings", "Breaker", "Last error")
_ZEROS = str.maketrans("123456789", "000000000")
_SELECTABLE = Qt.TextInteractionFlag.TextSelectableByMouse
_KEEP_SELECTION = (Qt.FocusReason.ActiveWindowFocusReason, Qt.FocusReason.PopupFocusReason)


class _Value(QLabel):
    """A word-wrapped, selectable plain-text value, opaque (filled with the base colour).

    Two savings on a new text every second. It becomes selectable (and takes the focus)
    only when the mouse presses on it, and stops when it loses the focus, where QLabel
    clears the selection anyway: a selectable or focusable QLabel holds a text document
    that it fills and lays out again for each new text (same pixels and the same height
    at each width without it; only the preferred width of a long text differs). And it
    keeps its size hints while a new text differs from the last only in its digits (a
    time, a probe count) and every digit is as wide as the others (then the text wraps
    and measures as the last one did): QLabel would measure it again, several times, for
    the form's layout.
    """

    def __init__(self, parent: QWidget) -> None:
        self._shape = ""  # the text with every digit a 0
        self._hints: dict[int, QSize | int] = {}  # -1 size hint, -2 minimum, w: height for w
        self._even_digits: bool | None = None  # in the font
        super().__init__("", parent)
        self.setTextFormat(Qt.TextFormat.PlainText)  # an error's text, never markup
        self.setWordWrap(True)
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self.setAutoFillBackground(True)
        self._plain()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt name
        """Show ``text``; measured again only if more than its digits changed."""
        if text == self.text():
            return
        shape = text.translate(_ZEROS)
        if shape != self._shape or not self._digits_even():
            self._hints.clear()
            self._shape = shape
        super().setText(text)

    def _digits_even(self) -> bool:
        if self._even_digits is None:
            metrics = self.fontMetrics()
            self._even_digits = len({metrics.horizontalAdvance(d) for d in "0123456789"}) == 1
        return self._even_digits

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        self._hints.clear()  # a new font, style or margin: measure again
        self._even_digits = None
        super().changeEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(self._kept(-1, super().sizeHint))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(self._kept(-2, super().minimumSizeHint))

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        return int(self._kept(width, lambda: super(_Value, self).heightForWidth(width)))

    def _kept(self, key: int, measure: Callable[[], Any]) -> Any:
        """The kept hint ``key``, measured now if there is none."""
        hint = self._hints.get(key)
        if hint is None:
            hint = self._hints[key] = measure()
        return hint

    # --- selectable while in use ------------------------------------------------------
    def _plain(self) -> None:
        self.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)  # NoFocus:
        # a label that takes the focus holds a text document too

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self.textInteractionFlags() != _SELECTABLE:
            self.setTextInteractionFlags(_SELECTABLE)  # and the focus on a click, as
            self.setFocus(Qt.FocusReason.MouseFocusReason)  # a selectable label takes it
        super().mousePressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt override
        super().focusOutEvent(event)
        if event.reason() not in _KEEP_SELECTION:  # QLabel cleared the selection
            self._plain()


class TargetDetails(QFrame):
    """A small form under the targets table, refreshed by the window.

    A new value repaints its label only. The labels are opaque (filled with the frame's
    base colour), so nothing behind them repaints. The form sits in an inner box that is
    not in a layout of this frame: a label's new text re-runs the box's layout only, and
    the window's layout above runs again only when the form's size hints moved (a value
    wrapping to another line), where a layout of its own would ask it on every new text.
    """

    def __init__(self, monitor: HealthMonitor, breakers: Mapping[str, CircuitBreaker],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("targetDetails")
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.monitor = monitor
        self.breakers = breakers
        self.target: str | None = None
        self.row: dict[str, Any] | None = None
        self._shown: tuple[object, ...] | None = None  # the inputs of the texts shown
        self._box = QWidget(self)
        self.heading = QLabel("", self._box)
        self.heading.setObjectName("sectionTitle")
        form = QFormLayout(self._box)
        form.setContentsMargins(12, 8, 12, 10)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(5)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.addRow(self.heading)
        self.values: dict[str, QLabel] = {}
        for name in _FIELDS:
            value = _Value(self._box)
            label = QLabel(name, self._box)
            label.setObjectName("fieldLabel")
            form.addRow(label, value)
            self.values[name] = value
        self._hints = self._box_hints()
        self.show_target(None)

    # --- size: the inner box's, plus the frame -------------------------------------
    def _frame_extra(self) -> QSize:
        return self.size() - self.contentsRect().size()

    def _box_hints(self) -> tuple[QSize, QSize, int]:
        box = self._box
        return box.sizeHint(), box.minimumSizeHint(), box.heightForWidth(box.width())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return self._box.sizeHint() + self._frame_extra()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return self._box.minimumSizeHint() + self._frame_extra()

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        extra = self._frame_extra()
        return self._box.heightForWidth(width - extra.width()) + extra.height()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._box.setGeometry(self.contentsRect())

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:  # the box's layout ran again
            hints = self._box_hints()
            if hints != self._hints:
                self._hints = hints
                self.updateGeometry()  # the window's layout gives the form its room
        return super().event(event)

    def show_target(self, name: str | None) -> None:
        """Describe target ``name`` (None: a hint to select one)."""
        self.target = name
        self.row = None
        self.refresh()

    def show_row(self, row: Mapping[str, Any] | None) -> None:
        """Describe a target from a (remote) snapshot entry instead of the local monitor."""
        self.target = None
        self.row = dict(row) if row is not None else None
        self.refresh()

    def _show_row(self, r: Mapping[str, Any]) -> None:
        self.heading.setText(f"{r.get('name')}  ({r.get('kind') or 'kind missing'})")
        phases = r.get("phases")
        breaker = r.get("breaker")
        self.values["Endpoint"].setText("on the backend")
        self.values["Status"].setText(f"{r.get('status') or 'missing'}: {r.get('reason') or ''}")
        self.values["Checked"].setText(fmt.local_time(r.get("checked_at"))
                                       if r.get("checked_at") else "not probed yet")
        self.values["Timings"].setText(
            ", ".join(f"{k} {fmt.latency(v)}" for k, v in phases.items()
                      if isinstance(v, int | float))
            if isinstance(phases, dict) and phases else fmt.DASH)
        self.values["Breaker"].setText(str(breaker.get("state")) if isinstance(breaker, dict)
                                       else fmt.DASH)
        self.values["Last error"].setText(
            f"{r.get('error_kind') or 'error'}: {r.get('error') or 'no detail'}"
            if r.get("error_kind") or r.get("error") else "none")

    def refresh(self) -> None:
        """Re-read the target's state (at once done when none of what it shows moved: the
        window asks for the new result and again for the tick in the same second)."""
        inputs = self._inputs()
        if inputs is not None and inputs == self._shown:
            return
        self._shown = inputs
        self._read()
        # lay the new texts out now, before the pending paint: a wrapped label laid out
        # after its paint (on the posted request) would be painted a second time
        layout = self._box.layout()
        assert layout is not None
        layout.activate()

    def _inputs(self) -> tuple[object, ...] | None:
        """All that ``_read`` shows of a local target (None: a row, or nothing to show)."""
        state = self.monitor.states.get(self.target) if self.target and self.row is None \
            else None
        if state is None:
            return None
        target = state.target
        breaker = self.breakers.get(target.breaker or target.name)
        return (state, target, state.last, state.probes, state.status, state.reason, breaker,
                breaker.state if breaker else None, date.today())  # "today" drops the date

    def _read(self) -> None:
        if self.row is not None:
            self._show_row(self.row)
            return
        state = self.monitor.states.get(self.target) if self.target else None
        if state is None:
            self.heading.setText("Select a target for details")
            for value in self.values.values():
                value.setText("")
            return
        target, last = state.target, state.last
        self.heading.setText(f"{target.name}  ({target.kind})")
        endpoint = target.url or target.dsn.split("@")[-1] or (
            f"{target.host}:{target.port}" if target.port else target.host)
        breaker = self.breakers.get(target.breaker or target.name)
        self.values["Endpoint"].setText(endpoint or fmt.DASH)
        self.values["Status"].setText(f"{state.status}: {state.reason}")
        self.values["Checked"].setText(
            f"{fmt.local_time(last.checked_at)}, {state.probes} probes" if last else
            "not probed yet")
        self.values["Timings"].setText(
            ", ".join(f"{k} {fmt.latency(v)}" for k, v in last.phases.items())
            if last and last.phases else fmt.DASH)
        self.values["Breaker"].setText(str(breaker.state) if breaker else fmt.DASH)
        self.values["Last error"].setText(
            f"{last.error_kind or 'error'}: {last.error or 'no detail'}"
            if last and not last.ok else "none")
