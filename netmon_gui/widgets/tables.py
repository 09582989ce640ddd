"""Table view defaults shared by the console's tables."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from .cell_delegate import CellTable

__all__ = ["make_table"]

_POLISHED = (QEvent.Type.Polish, QEvent.Type.StyleChange)


class _OpaqueViewport(QObject):
    """Turns a table viewport's background fill back on after each polish of the table.

    A style sheet rule that draws the view (the console's ``QTableView`` border) turns the
    viewport's fill off, and the style fills it with the same ``palette(base)`` instead;
    but a viewport without the fill is see-through to Qt, so every repainted cell also
    repainted the window, its body, the splitter, the stack and the view behind it. With
    the fill on, the pixels are the same and a cell repaints the viewport alone. As in a
    view without a style sheet, an update of the view or the window then leaves the
    viewport's pixels as they are (Qt's rule for opaque children): the viewport repaints
    on its own updates, which the view makes. (A rule giving the view a background of its
    own would be hidden by the fill.)
    """

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() in _POLISHED and isinstance(watched, QAbstractItemView):
            watched.viewport().setAutoFillBackground(True)  # the style polished it off
        return False


def make_table(parent: QWidget | None = None, *, stretch_last: bool = True) -> QTableView:
    """A read-only, row-selecting, alternating-row table without a vertical header; its
    viewport paints all its pixels (see ``_OpaqueViewport``); a ``CellDelegate`` set on it
    copies its kept cells in one pass per paint (``CellTable``)."""
    table = CellTable(parent)
    table.installEventFilter(_OpaqueViewport(table))
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(30)
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    header.setStretchLastSection(stretch_last)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return table
