"""CellDelegate: a table cell's style option filled from its model's cell cache.

``QStyledItemDelegate.initStyleOption`` asks the model for seven roles per painted cell;
through the sort/filter proxy each of those is a Python ``data()`` call plus a Python
``rowCount()`` and ``columnCount()`` (the proxy's index checks), about 20 Python calls a
cell. This delegate fills the same option fields from the one tuple the model keeps per
cell (``TargetTable.cell``), so the style draws exactly what it drew before.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import QAbstractProxyModel, QModelIndex, QPersistentModelIndex
from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

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
    per painted cell instead of a ``data()`` call per role. Other models are served by
    ``QStyledItemDelegate`` as usual."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._with_display: dict[Any, Any] = {}  # features -> features | HasDisplay

    def initStyleOption(self, option: QStyleOptionViewItem,  # noqa: N802 - Qt override
                        index: QModelIndex | QPersistentModelIndex) -> None:
        model = index.model()
        source: QModelIndex | QPersistentModelIndex = index
        if isinstance(model, QAbstractProxyModel):
            source = model.mapToSource(index)
            model = source.model()
        cell = getattr(model, "cell", None)
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
