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
by everything the drawing reads (text, colors, alignment, size, state, palette, font); what
is the same for every cell of a paint event is read once per paint event, so copying a cell
costs about 10 us of Python (reading every field per cell cost ~50-80 us: ``QFont.key()``,
enum conversions, a proxy ``mapToSource`` with its Python ``rowCount``/``columnCount``).
"""

from __future__ import annotations

import itertools
from typing import Any, Protocol

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
)
from PySide6.QtGui import QBrush, QPainter, QPalette, QPixmap, QTransform
from PySide6.QtWidgets import (
    QAbstractItemView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

__all__ = ["CellDelegate", "CellSource"]

_HAS_DISPLAY = QStyleOptionViewItem.ViewItemFeature.HasDisplay
_TEXT = QPalette.ColorRole.Text
_PAINT = QEvent.Type.Paint
_COPYABLE = (QTransform.TransformationType.TxNone, QTransform.TransformationType.TxTranslate)
_AS_USUAL = -1  # a paint whose cells are drawn as usual (see ``_view_id``)
# a proxy's signals after which its rows or columns may map elsewhere
_REMAPPING = ("layoutChanged", "modelReset", "rowsInserted", "rowsRemoved", "rowsMoved",
              "columnsInserted", "columnsRemoved", "columnsMoved", "sourceModelChanged")


class CellSource(Protocol):
    """A model that keeps each cell's shown values (``TargetTable``)."""

    def cell(self, row: int, column: int) -> tuple[Any, ...]:
        """(text, sort key, name, status, alignment, background, foreground, ...)."""
        ...


class CellDelegate(QStyledItemDelegate):
    """Text cells of a ``CellSource`` model (directly or behind a proxy): one Python call
    per painted cell instead of a ``data()`` call per role, and a copy of the cell's pixmap
    once it was drawn. Other models are served by ``QStyledItemDelegate`` as usual.

    What a view's paint event gives all its cells alike (font, palette, style, elide mode,
    direction, the painter's scale) is read at its first cell into a small view id (an event
    filter on the view's viewport starts each paint event afresh); a proxy's row and column
    mapping is remembered until the proxy says it moved (layout, reset, rows, columns). So a
    cell already drawn costs its text, size and state and a copy.
    """

    CACHE_SIZE = 512  # distinct cells kept as pixmaps (a latency cell is ~10 kB)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._with_display: dict[Any, Any] = {}  # features -> features | HasDisplay
        self._pixmaps: dict[tuple[object, ...], QPixmap] = {}
        self._views: dict[tuple[object, ...], int] = {}  # what a paint reads -> view id
        self._ids = itertools.count()  # never reused: a pixmap's key stays unambiguous
        self._view: int | None = None  # this paint event's view id (None: not read yet)
        self._viewport: QWidget | None = None  # where the paints whose view id is kept go
        self._model: QAbstractItemModel | None = None  # the model of the last index
        self._proxy: QAbstractProxyModel | None = None  # it, when a proxy
        self._cells: Any = None  # it (or its source) when a CellSource, else None
        self._mapped: dict[tuple[int, int], tuple[int, int] | None] = {}  # proxy -> source

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        view = self._view
        if view is None or painter.device() is not self._viewport:
            view = self._view_id(painter, option)
        found = self._source(index) if view != _AS_USUAL else None
        if found is None:  # not a CellSource cell, or not copied pixel for pixel
            super().paint(painter, option, index)
            return
        rect = option.rect
        text, _, _, _, align, background, foreground = found[0].cell(found[1], found[2])[:7]
        key = (text, align, _rgba(background), _rgba(foreground), rect.width(), rect.height(),
               option.state, option.features, view)
        pixmap = self._pixmaps.pop(key, None)
        if pixmap is None:
            pixmap = self._draw(option, index, painter.device().devicePixelRatio())
            if pixmap is None:
                super().paint(painter, option, index)
                return
            if len(self._pixmaps) >= self.CACHE_SIZE:  # the least recently painted goes
                del self._pixmaps[next(iter(self._pixmaps))]  # (no burst of redraws as a
                # clear would; a cell painted every second stays)
        self._pixmaps[key] = pixmap  # (again) the most recently painted
        painter.drawPixmap(rect.topLeft(), pixmap)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == _PAINT:  # a new paint event: its view is read at its first cell
            self._view = None
        return False

    def _view_id(self, painter: QPainter, option: QStyleOptionViewItem) -> int:
        """The id of what the drawing of a cell reads that a paint event gives all its
        cells alike; ``_AS_USUAL`` when its cells are not copied (no widget, a fractional
        scale or more than a translation would not copy pixel for pixel). Kept for the rest
        of the paint event when painting on the view's viewport (the event filter forgets
        it when the next one starts)."""
        widget = option.widget
        device = painter.device()
        ratio = device.devicePixelRatio()
        if widget is None or ratio != int(ratio) or painter.transform().type() not in _COPYABLE:
            view = _AS_USUAL
        else:
            key = (widget.style().objectName(), option.font.key(), option.palette.cacheKey(),
                   option.showDecorationSelected, option.textElideMode, option.direction,
                   option.viewItemPosition, ratio)
            view = self._views.get(key, -1)
            if view < 0:
                if len(self._views) >= 64:  # fonts and palettes gone (ids are not reused)
                    self._views.clear()
                view = self._views[key] = next(self._ids)
        viewport = widget.viewport() if isinstance(widget, QAbstractItemView) else None
        if viewport is not None and device is viewport:
            if viewport is not self._viewport:
                viewport.installEventFilter(self)
                self._viewport = viewport
            self._view = view
        return view

    def _source(self, index: QModelIndex | QPersistentModelIndex,
                ) -> tuple[Any, int, int] | None:
        """(the CellSource, row, column) of ``index``'s cell in the model that keeps it
        (behind a proxy: its source); None when that model has no ``cell`` or the proxy
        maps the index nowhere."""
        model = index.model()
        if model is not self._model:
            self._attach(model)
        if self._cells is None:
            return None
        row, column = index.row(), index.column()
        if self._proxy is None:
            return self._cells, row, column
        mapped = self._mapped.get((row, column), ())
        if mapped == ():
            source = self._proxy.mapToSource(index)
            mapped = self._mapped[row, column] = (
                (source.row(), source.column()) if source.isValid() else None)
        return None if mapped is None else (self._cells, *mapped)

    def _attach(self, model: QAbstractItemModel | None) -> None:
        """Read cells of ``model`` from now on (and forget a proxy's mapping whenever it
        moves)."""
        self._model, self._mapped = model, {}
        self._proxy = model if isinstance(model, QAbstractProxyModel) else None
        if self._proxy is not None:
            for name in _REMAPPING:
                getattr(self._proxy, name).connect(self._remap)
            model = self._proxy.sourceModel()
        self._cells = model if hasattr(model, "cell") else None

    def _remap(self, *_: object) -> None:
        """The proxy moved rows or columns (or changed its source): map indexes afresh."""
        self._mapped = {}
        if self._proxy is not None:  # maybe a new source model
            source = self._proxy.sourceModel()
            self._cells = source if hasattr(source, "cell") else None

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
        found = self._source(index)
        if found is None:
            super().initStyleOption(option, index)
            return
        text, _, _, _, align, background, foreground = found[0].cell(found[1], found[2])[:7]
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


def _rgba(color: Any) -> object:
    """A hashable stand-in for a cell's color (QColor is not hashable)."""
    return None if color is None else QBrush(color).color().rgba()
