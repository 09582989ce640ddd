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
is the same for every cell of a paint event is read once per paint event. The cell with the
focus is drawn as usual (Fusion's focus frame drawn into a pixmap differed in 4 pixels).

A copy through the view still cost ~140K CPU instructions a cell (callgrind): QTableView
asks the proxy for the cell's flags twice (``isSelected`` and the enabled check: each a
``mapToSource`` whose source ``index()`` calls the Python ``rowCount`` and ``columnCount``),
draws the row's panel that the pixmap covers again, and calls the Python delegate with new
wrappers of its option, index and state flags. So ``CellTable`` copies the kept cells of a
paint event itself, in one Python pass with the keys the delegate uses (the state the view
would give each cell worked out once per paint event: its selection, its alternate row),
draws the cells not kept yet the same way, and leaves QTableView the rest (the columns of
other delegates, the cell with the focus).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, Protocol

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QAbstractTableModel,
    QEvent,
    QIdentityProxyModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QPainter, QPaintEvent, QPalette, QPixmap, QRegion, QTransform
from PySide6.QtWidgets import (
    QAbstractItemView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

__all__ = ["CellDelegate", "CellSource", "CellTable"]

_HAS_DISPLAY = QStyleOptionViewItem.ViewItemFeature.HasDisplay
_ALTERNATE = QStyleOptionViewItem.ViewItemFeature.Alternate.value
_SELECTED = QStyle.StateFlag.State_Selected.value
_HAS_FOCUS = QStyle.StateFlag.State_HasFocus.value
_ENABLED = QStyle.StateFlag.State_Enabled.value
_TEXT = QPalette.ColorRole.Text
_PAINT = QEvent.Type.Paint
_COPYABLE = (QTransform.TransformationType.TxNone, QTransform.TransformationType.TxTranslate)
# a model's ``flags`` that are Qt's own (every valid cell enabled and selectable)
_PLAIN_FLAGS = {QAbstractItemModel.flags, QAbstractTableModel.flags, QAbstractProxyModel.flags,
                QSortFilterProxyModel.flags, QIdentityProxyModel.flags}
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
        state = option.state.value
        found = self._source(index) if view != _AS_USUAL and not state & _HAS_FOCUS else None
        if found is None:  # not a CellSource cell, or not copied pixel for pixel
            super().paint(painter, option, index)
            return
        rect = option.rect
        key = self._key(found, rect.width(), rect.height(), state, option.features.value, view)
        pixmap = self._kept(key)
        if pixmap is None:
            pixmap = self._draw(option, index, painter.device().devicePixelRatio())
            if pixmap is None:
                super().paint(painter, option, index)
                return
            self._keep(key, pixmap)
        painter.drawPixmap(rect.topLeft(), pixmap)

    @staticmethod
    def _key(found: tuple[Any, int, int], width: int, height: int, state: int, features: int,
             view: int) -> tuple[object, ...]:
        """The key of the pixmap of the cell ``found`` (``_source``) drawn at ``width`` x
        ``height`` with the view's ``state`` and ``features`` (as ints) in paints of id
        ``view``: everything its drawing reads."""
        text, _, _, _, align, background, foreground = found[0].cell(found[1], found[2])[:7]
        return (text, align, _rgba(background), _rgba(foreground), width, height, state,
                features, view)

    def _kept(self, key: tuple[object, ...]) -> QPixmap | None:
        """The pixmap kept for ``key`` (now the most recently painted), None if none."""
        pixmap = self._pixmaps.pop(key, None)
        if pixmap is not None:
            self._pixmaps[key] = pixmap
        return pixmap

    def _keep(self, key: tuple[object, ...], pixmap: QPixmap) -> None:
        """Keep ``pixmap`` for ``key``; when full, the least recently painted goes (no burst
        of redraws as a clear would; a cell painted every second stays)."""
        if len(self._pixmaps) >= self.CACHE_SIZE:
            del self._pixmaps[next(iter(self._pixmaps))]
        self._pixmaps[key] = pixmap

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
        return self._source_at(index.row(), index.column())

    def _source_at(self, row: int, column: int) -> tuple[Any, int, int] | None:
        """``_source`` of the cell at ``row``, ``column`` of the model last attached."""
        if self._cells is None:
            return None
        if self._proxy is None:
            return self._cells, row, column
        mapped = self._mapped.get((row, column), ())
        if mapped == ():
            source = self._proxy.mapToSource(self._proxy.index(row, column))
            mapped = self._mapped[row, column] = (
                (source.row(), source.column()) if source.isValid() else None)
        return None if mapped is None else (self._cells, *mapped)

    def _reads(self, model: QAbstractItemModel | None) -> bool:
        """Whether the cells of ``model`` are read from a CellSource whose cells all have
        the default flags (enabled and selectable), attaching it."""
        if model is not self._model:
            self._attach(model)
        return self._cells is not None and _plain_flags(self._cells) and (
            self._proxy is None or _plain_flags(self._proxy))

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


class CellTable(QTableView):
    """A QTableView that copies the cells its ``CellDelegate`` keeps as pixmaps itself, in
    one pass per paint event, and leaves QTableView the other cells of the paint (see the
    module docstring). A copied cell is the one the delegate would copy: the same key, with
    the state and features the view would give it (its selection, its alternate row).
    Copying is off (QTableView paints all) where the view would draw more than its cells
    or give a cell a state not worked out here: a grid, spans, right-to-left, hidden rows,
    hover tracking, a drag, a root index, a disabled view, a model whose cells may not all
    be enabled and selectable."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._spans = False  # QTableView does not say whether it has spans

    def setSpan(self, row: int, column: int, row_span: int,  # noqa: N802 - Qt override
                column_span: int) -> None:
        self._spans = True
        super().setSpan(row, column, row_span, column_span)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        delegate = self.itemDelegate()
        if isinstance(delegate, CellDelegate) and self._copies():
            rest = self._copy(delegate, event.region())
            if rest.isEmpty():
                return
            event = QPaintEvent(rest)
        super().paintEvent(event)

    def _copies(self) -> bool:
        """Whether this view's cells may be copied (the view draws its cells alone)."""
        return not (self._spans or self.showGrid() or self.isRightToLeft()
                    or self.viewport().testAttribute(Qt.WidgetAttribute.WA_Hover)
                    or self.verticalHeader().sectionsHidden() or self.rootIndex().isValid()
                    or self.state() == QAbstractItemView.State.DraggingState)

    def _copy(self, delegate: CellDelegate, region: QRegion) -> QRegion:
        """Copy the cells of ``region`` that ``delegate`` keeps; the region of the others."""
        option = QStyleOptionViewItem()
        self.initViewItemOption(option)  # what QTableView.paintEvent gives every cell
        state = option.state.value
        if not state & _ENABLED or not delegate._reads(self.model()):
            return region
        painter = QPainter(self.viewport())
        try:
            view = delegate._view_id(painter, option)
            if view == _AS_USUAL:
                return region
            return self._copy_cells(delegate, painter, view, option, state, region)
        finally:
            painter.end()

    def _copy_cells(self, delegate: CellDelegate, painter: QPainter, view: int,
                    option: QStyleOptionViewItem, state: int, region: QRegion) -> QRegion:
        """``_copy`` once the paint's view id is known: a cell not kept yet is drawn as
        the delegate draws it (then kept), with the option the view would give it
        (``option`` with ``state`` as an int); the cell with the focus is left to the view,
        as the delegate does."""
        features = option.features.value
        alternate = _ALTERNATE if self.alternatingRowColors() else 0
        selected, focus = self._selected(), self._focus()
        ratio = painter.device().devicePixelRatio()
        rest = QRegion()
        for own, row, visual_row, column, x, y, width, height in self._cells(region):
            found = delegate._source_at(row, column) if own and (row, column) != focus else None
            pixmap = None
            if found is not None:
                cell_state = state
                for top, bottom, left, right in selected:
                    if top <= row <= bottom and left <= column <= right:
                        cell_state |= _SELECTED
                        break
                cell_features = features | (alternate if visual_row & 1 else 0)
                key = delegate._key(found, width, height, cell_state, cell_features, view)
                pixmap = delegate._kept(key)
                if pixmap is None:
                    pixmap = delegate._draw(
                        _cell_option(option, QRect(x, y, width, height), cell_state,
                                     cell_features),
                        self.model().index(row, column), ratio)
                    if pixmap is not None:
                        delegate._keep(key, pixmap)
            if pixmap is None:
                rest = rest.united(QRect(x, y, width, height))
            else:
                painter.drawPixmap(x, y, pixmap)
        return rest

    def _cells(self, region: QRegion,
               ) -> Iterator[tuple[bool, int, int, int, int, int, int, int]]:
        """(painted by the item delegate, row, visual row, column, x, y, width, height) of
        each cell QTableView.paintEvent paints for ``region``, once each (as it visits them:
        each rectangle of the region clipped to the table, its visual rows and columns; no
        spans, no grid)."""
        rows, columns = self.verticalHeader(), self.horizontalHeader()
        last_y = rows.length() - rows.offset() - 1
        last_x = columns.length() - columns.offset() - 1
        shown: dict[int, tuple[int, int, int, bool]] = {}  # per visual column seen
        done: set[tuple[int, int]] = set()
        for rect in region:  # type: ignore[attr-defined]  # PySide iterates its rects
            top, bottom = rect.top(), min(rect.bottom(), last_y)
            left, right = rect.left(), min(rect.right(), last_x)
            first_row, last_row = rows.visualIndexAt(top), rows.visualIndexAt(bottom)
            if bottom < top or right < left or first_row < 0:
                continue
            last_row = rows.count() - 1 if last_row < 0 else last_row
            first_column = max(columns.visualIndexAt(left), 0)
            last_column = columns.visualIndexAt(right)
            last_column = columns.count() - 1 if last_column < 0 else last_column
            for visual_row in range(first_row, last_row + 1):
                row = rows.logicalIndex(visual_row)
                own_row = self.itemDelegateForRow(row) is None
                y, height = self.rowViewportPosition(row), self.rowHeight(row)
                for visual_column in range(first_column, last_column + 1):
                    column, x, width, own = shown.get(visual_column) or shown.setdefault(
                        visual_column, self._column(visual_column))
                    if column < 0 or (row, column) in done:
                        continue
                    done.add((row, column))
                    yield own_row and own, row, visual_row, column, x, y, width, height

    def _column(self, visual: int) -> tuple[int, int, int, bool]:
        """The column at ``visual`` (-1 when hidden), its x, its width and whether the item
        delegate paints it."""
        column = self.horizontalHeader().logicalIndex(visual)
        return (-1 if self.isColumnHidden(column) else column, self.columnViewportPosition(column),
                self.columnWidth(column), self.itemDelegateForColumn(column) is None)

    def _selected(self) -> list[tuple[int, int, int, int]]:
        """(top, bottom, left, right) of each selected range (as ``isSelected`` reads it:
        the cells are all selectable and enabled)."""
        model = self.selectionModel()
        if model is None or model.model() is not self.model():
            return []
        return [(r.top(), r.bottom(), r.left(), r.right())
                for r in model.selection()  # type: ignore[attr-defined]  # a list of ranges
                if r.isValid() and not r.parent().isValid()]

    def _focus(self) -> tuple[int, int] | None:
        """(row, column) of the cell drawn with the focus, if any (drawn as usual)."""
        current = self.currentIndex()
        if current.isValid() and (self.hasFocus() or self.viewport().hasFocus()):
            return current.row(), current.column()
        return None


def _cell_option(option: QStyleOptionViewItem, rect: QRect, state: int,
                 features: int) -> QStyleOptionViewItem:
    """The option QTableView gives a cell (``QTableViewPrivate::drawCell``): the paint's
    ``option`` at ``rect`` with the cell's ``state`` and ``features``, its palette's
    normal color group (an enabled cell)."""
    cell = QStyleOptionViewItem(option)
    cell.rect = rect
    cell.state = QStyle.StateFlag(state)
    cell.features = QStyleOptionViewItem.ViewItemFeature(features)
    palette = QPalette(option.palette)
    palette.setCurrentColorGroup(QPalette.ColorGroup.Normal)
    cell.palette = palette
    return cell


def _plain_flags(model: QAbstractItemModel) -> bool:
    """Whether ``model``'s ``flags`` is Qt's own: every valid cell enabled and selectable (a
    proxy's: its source's)."""
    return type(model).flags in _PLAIN_FLAGS


def _rgba(color: Any) -> object:
    """A hashable stand-in for a cell's color (QColor is not hashable)."""
    return None if color is None else QBrush(color).color().rgba()
