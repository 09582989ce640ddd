"""Deferred: a light stand-in for a widget that the window's first paint does not need: the
graphs (pyqtgraph and numpy are slow to import, built just after the paint) and the hidden
tabs' panels (built, or put in the window and styled, when their tab is first shown).

Until ``build()`` it shows what is happening ("Loading graph..."), never a claim about the
data; ``build()`` calls the factory once and puts the real widget in its place. A factory
that fails leaves the stand-in saying so ("Graph not available: ..."), and every later
``build()`` raises that same error. ``DeferredGraph`` is the graph tab's kind: it keeps the
target chosen before the graph exists and stops a graph built after ``stop()``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, cast

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

__all__ = ["Deferred", "DeferredGraph", "Graph", "add_tab", "build_shown"]

_log = logging.getLogger("netmon.gui")


class Deferred(QWidget):
    """Holds ``factory()``'s widget once built (``margin`` px around it); shows ``loading``
    until then, and ``unavailable`` with the error when the factory fails."""

    def __init__(self, factory: Callable[[], QWidget], loading: str,
                 parent: QWidget | None = None, *, margin: int = 0,
                 unavailable: str = "Not available") -> None:
        super().__init__(parent)
        self._factory: Callable[[], QWidget] | None = factory
        self._unavailable = unavailable
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
                self._loading.setText(f"{self._unavailable}: {type(exc).__name__}: {exc}")
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


class Graph(Protocol):
    """What a deferred graph widget offers (LatencyPlot, TimelineView)."""

    def set_target(self, name: str | None) -> None: ...

    def stop(self) -> None: ...


class DeferredGraph(Deferred):
    """A graph tab built after the window's first paint ("Loading graph..." until then):
    ``show_target`` before the build is applied when it is built; after ``stop()`` a graph
    built later is stopped at once."""

    def __init__(self, make: Callable[[], QWidget], parent: QWidget | None = None, *,
                 margin: int = 0) -> None:
        super().__init__(self._make_graph, "Loading graph...", parent, margin=margin,
                         unavailable="Graph not available")
        self._make = make
        self._target: str | None = None
        self._stopped = False

    @property
    def graph(self) -> Graph | None:
        """The graph once built (None before)."""
        return cast(Graph, self.widget) if self.widget is not None else None

    def show_target(self, name: str | None) -> None:
        """Show target ``name`` (None clears), now or once built."""
        self._target = name
        if self.graph is not None:
            self.graph.set_target(name)

    def stop(self) -> None:
        """Stop the graph's timers, now or as soon as it is built."""
        self._stopped = True
        if self.graph is not None:
            self.graph.stop()

    def _make_graph(self) -> QWidget:
        widget = self._make()
        graph = cast(Graph, widget)
        if self._stopped:
            graph.stop()
        elif self._target is not None:
            graph.set_target(self._target)
        return widget


def add_tab(tabs: QTabWidget, title: str, content: QWidget | Callable[[], QWidget]) -> Deferred:
    """Add tab ``title`` (padded) whose content, a widget or its factory, joins the window
    when the tab is first shown (``build_shown``) or the content is asked for."""
    page = Deferred(content if callable(content) else lambda: content, "Loading...", margin=10)
    tabs.addTab(page, title)
    return page


def build_shown(tabs: QTabWidget, index: int) -> None:
    """Build tab ``index``'s deferred content now that it is shown (the graphs wait for the
    window's first paint instead); a failure is shown in the tab and logged."""
    page = tabs.widget(index)
    if isinstance(page, Deferred) and not isinstance(page, DeferredGraph):
        try:
            page.build()
        except Exception as exc:  # the page says it
            _log.error("console tab %s could not be built: %s", tabs.tabText(index), exc)
