"""CellDelegate: a table cell's style option filled from its model's cell cache.

``QStyledItemDelegate.initStyleOption`` asks the model for seven roles per painted cell;
through the sort/filter proxy each of those is a Python ``data()`` call plus a Python
``rowCount()`` and ``columnCount()`` (the proxy's index checks), about 20 Python calls a
cell. This delegate fills the same option fields from the one tuple the model keeps per
cell (``TargetTable.cell``), so the style draws exactly what it drew before.

Drawing a cell through the style (the style sheet's rules, the text laid out, elided and
drawn) costs about 0.1 ms; a table repaints a column of them every second (the latency).
So each distinct cell is drawn once, through the style, into a pixmap together with what
the view paints beneath it (the base and the row's alternate background), and then copied:
the same painting steps on the same opaque start, hence the same pixels. The pixmap is keyed
by everything the drawing reads (text, colors, alignment, size, state, palette, font).
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import QAbstractProxyModel, QModelIndex, QPersistentModelIndex
from PySide6.QtGui import QBrush, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

__all__ = ["CellDelegate", "CellSource"]

_HAS_DISPLAY = QStyleOptionViewItem.ViewItemFeature.HasDisplay
_TEXT = QPalette.ColorRole.Text


class CellSource(Protocol):
    """A model that keeps each cell's shown values (``TargetTable``)."""

    def cell(self, row: int, column: int) -> tuple[Any, ...]:
        """(text, sort key, name, status, alignment, background, foreground, ...)."""
        ...


class CellDelegate(QStyledItemDelegate):
    """Text cells of a ``CellSource`` model (directly or behind a proxy): one Python call
    per painted cell instead of a ``data()`` call per role, and a copy of the cell's pixmap
    once it was drawn. Other models are served by ``QStyledItemDelegate`` as usual."""

    CACHE_SIZE = 512  # distinct cells kept as pixmaps (a latency cell is ~10 kB)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._with_display: dict[Any, Any] = {}  # features -> features | HasDisplay
        self._pixmaps: dict[tuple[object, ...], QPixmap] = {}

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        cell, source = _cell_source(index)
        widget = option.widget
        ratio = painter.device().devicePixelRatio()
        if (cell is None or not source.isValid() or widget is None or ratio != int(ratio)
                or painter.transform().type().value > 1):  # more than a translation
            # (a fractional scale would not copy pixel for pixel): drawn as usual
            super().paint(painter, option, index)
            return
        rect = option.rect
        palette = option.palette
        text, _, _, _, align, background, foreground = cell(source.row(), source.column())[:7]
        key = (text, align, _rgba(background), _rgba(foreground), rect.width(), rect.height(),
               option.state.value, option.features.value, option.viewItemPosition.value,
               option.showDecorationSelected, option.textElideMode.value,
               option.direction.value, option.font.key(), palette.cacheKey(), ratio,
               widget.style().objectName())
        pixmap = self._pixmaps.get(key)
        if pixmap is None:
            pixmap = self._draw(option, index, ratio)
            if pixmap is None:
                super().paint(painter, option, index)
                return
            if len(self._pixmaps) >= self.CACHE_SIZE:  # the oldest goes (no burst of
                del self._pixmaps[next(iter(self._pixmaps))]  # redraws as a clear would)
            self._pixmaps[key] = pixmap
        painter.drawPixmap(rect.topLeft(), pixmap)

    def _draw(self, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex, ratio: float) -> QPixmap | None:
        """The cell as the view paints it: the viewport's base, the row's background,
        then the style's item drawing (through ``initStyleOption``); None when the base
        is not opaque (what shows through is not known here)."""
        rect = option.rect
        widget = option.widget
        viewport = getattr(widget, "viewport", lambda: widget)()
        base = viewport.palette().color(viewport.backgroundRole())
        if base.alpha() != 255:
            return None
        pixmap = QPixmap(rect.width() * int(ratio), rect.height() * int(ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(base)
        local = QStyleOptionViewItem(option)
        local.rect = rect.translated(-rect.topLeft())
        painter = QPainter(pixmap)
        try:
            widget.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewRow, local,
                                         painter, widget)
            super().paint(painter, local, index)
        finally:
            painter.end()
        return pixmap

    def initStyleOption(self, option: QStyleOptionViewItem,  # noqa: N802 - Qt override
                        index: QModelIndex | QPersistentModelIndex) -> None:
        cell, source = _cell_source(index)
        if cell is None or not source.isValid():
            super().initStyleOption(option, index)
            return
        text, _, _, _, align, background, foreground = cell(source.row(), source.column())[:7]
        # what QStyledItemDelegate.initStyleOption sets for these roles (no font, check
        # state or decoration role in a cell)
        option.index = index  # type: ignore[assignment]  # Qt passes a QModelIndex
        if align is not None:
            option.displayAlignment = align
        if foreground is not None:
            option.palette.setBrush(_TEXT, QBrush(foreground))
        if text is not None:
            features = option.features
            with_display = self._with_display.get(features)
            if with_display is None:
                with_display = self._with_display[features] = features | _HAS_DISPLAY
            option.features = with_display
            option.text = text
        option.backgroundBrush = QBrush() if background is None else QBrush(background)
        option.styleObject = None  # type: ignore[assignment]  # as the stock delegate


def _cell_source(index: QModelIndex | QPersistentModelIndex,
                 ) -> tuple[Any, QModelIndex | QPersistentModelIndex]:
    """The ``cell`` method of the model behind ``index`` (through a proxy), or None when it
    has none, and ``index`` in that model."""
    model = index.model()
    source: QModelIndex | QPersistentModelIndex = index
    if isinstance(model, QAbstractProxyModel):
        source = model.mapToSource(index)
        model = source.model()
    return getattr(model, "cell", None), source


def _rgba(color: Any) -> object:
    """A hashable stand-in for a cell's color (QColor is not hashable)."""
    return None if color is None else QBrush(color).color().rgba()
