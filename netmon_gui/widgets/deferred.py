"""Deferred: a light stand-in for a widget whose module is slow to import (the graphs:
pyqtgraph and numpy), so the window is painted first and the widget is built just after.

Until ``build()`` it shows what is happening ("Loading graph..."), never a claim about the
data; ``build()`` calls the factory once and puts the real widget in its place. A factory
that fails leaves the stand-in saying so ("Graph not available: ..."), and every later
``build()`` raises that same error.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

__all__ = ["Deferred"]


class Deferred(QWidget):
    """Holds ``factory()``'s widget once built (``margin`` px around it); shows ``loading``
    until then."""

    def __init__(self, factory: Callable[[], QWidget], loading: str,
                 parent: QWidget | None = None, *, margin: int = 0) -> None:
        super().__init__(parent)
        self._factory: Callable[[], QWidget] | None = factory
        self._failed: Exception | None = None
        self.widget: QWidget | None = None
        self._loading: QLabel | None = QLabel(loading, self)
        self._loading.setObjectName("placeholder")
        self._loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(margin, margin, margin, margin)
        self._layout.addWidget(self._loading)

    @property
    def loading_text(self) -> str | None:
        """What the stand-in says (None once the widget is built)."""
        return self._loading.text() if self._loading is not None else None

    def build(self) -> QWidget:
        """Build the real widget (the first call only) and show it instead of the label."""
        if self._failed is not None:
            raise self._failed
        if self.widget is None:
            factory, self._factory = self._factory, None
            assert factory is not None and self._loading is not None, \
                "Deferred.build re-entered from its own factory"
            try:
                widget = factory()
            except Exception as exc:
                self._failed = exc
                self._loading.setText(f"Graph not available: {type(exc).__name__}: {exc}")
                self._loading.setWordWrap(True)
                raise
            self._layout.replaceWidget(self._loading, widget)
            if self.isVisible():
                widget.show()  # now, not on the layout's queued show
            self._loading.hide()
            self._loading.deleteLater()
            self._loading = None
            self.widget = widget
        return self.widget
