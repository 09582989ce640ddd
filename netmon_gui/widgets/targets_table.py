"""The console's targets table view: its delegates, column widths taken from the font (any
DPI, any UI font), sorting, and the columns a narrow pane drops instead of scrolling."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import QHeaderView, QTableView, QWidget

from ..models.targets import (
    COL_1H,
    COL_5M,
    COL_KIND,
    COL_LATENCY,
    COL_STATUS,
    COL_TARGET,
    COL_UPTIME,
)
from .badge import BadgeDelegate
from .cell_delegate import CellDelegate
from .column_fit import ColumnFit
from .tables import make_table
from .uptime_bar import UptimeBarDelegate

__all__ = ["make_targets_table"]


def make_targets_table(model: QAbstractItemModel, names: Iterable[str],
                       parent: QWidget) -> tuple[QTableView, ColumnFit]:
    """The targets table over ``model`` (its name column sized for ``names``) and the
    ColumnFit that drops and restores its columns as the pane's width changes."""
    table = make_table(parent)
    table.setObjectName("targetsTable")
    # Error, the last column, takes the rest
    fm = table.fontMetrics()
    table.horizontalHeader().setDefaultSectionSize(fm.horizontalAdvance("Error") + 24)
    table.setModel(model)
    table.setItemDelegate(CellDelegate(table))  # cells read from the model's cache
    table.setItemDelegateForColumn(COL_STATUS, BadgeDelegate(table))
    table.setItemDelegateForColumn(COL_UPTIME, UptimeBarDelegate(table))
    samples = {COL_KIND: "postgres", COL_STATUS: "degraded", COL_LATENCY: "1000 ms",
               COL_5M: "100.0%", COL_1H: "100.0%", COL_UPTIME: "Last 24 h"}
    for col, sample in samples.items():
        table.setColumnWidth(col, fm.horizontalAdvance(sample) + 18)
    widths = [fm.horizontalAdvance(n) for n in names] or [0]
    table.setColumnWidth(COL_TARGET, min(max(*widths, fm.horizontalAdvance("database")) + 26,
                                         fm.horizontalAdvance("m") * 18))
    table.setColumnWidth(COL_STATUS, max(92, table.columnWidth(COL_STATUS) + 16))
    table.horizontalHeader().setSectionResizeMode(COL_STATUS, QHeaderView.ResizeMode.Fixed)
    fit = ColumnFit(table, (COL_KIND, COL_1H, COL_UPTIME, COL_5M, COL_LATENCY),
                    last_min=fm.horizontalAdvance("Error") + 24)
    table.setSortingEnabled(True)
    table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # config order until clicked
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    return table, fit
