"""BreakersPanel: the breakers table with "Reset selected" and "Reset all"."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QPushButton, QVBoxLayout, QWidget

from ..models.breakers import (
    COL_CONSECUTIVE,
    COL_FAILURES,
    COL_NAME,
    COL_REJECTED,
    COL_RETRY,
    COL_STATE,
    COLUMNS,
    BreakersModel,
)
from .badge import BadgeDelegate
from .tables import make_table

__all__ = ["BreakersPanel"]

#: the widest text each column shows (counts up to ten digits; a date and time)
_SAMPLES = {COL_CONSECUTIVE: "00000 / 00", COL_FAILURES: "0000000000",
            COL_REJECTED: "0000000000", COL_RETRY: "0000-00-00 00:00"}


class BreakersPanel(QWidget):
    """Shows ``BreakersModel``; ``request("reset_breaker", name | None)`` on a button."""

    request = Signal(str, object)  # action, target

    def __init__(self, model: BreakersModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.table = make_table(self)
        self.table.setObjectName("breakersTable")
        self.table.setModel(model)
        self.table.setItemDelegateForColumn(COL_STATE, BadgeDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        # widths from the font, not ResizeToContents: that read every row again (~1,600
        # data() calls for 50 breakers) whenever one breaker's counters moved
        fm, titles = self.table.fontMetrics(), header.fontMetrics()
        for col, sample in _SAMPLES.items():
            self.table.setColumnWidth(col, max(fm.horizontalAdvance(sample),
                                               titles.horizontalAdvance(COLUMNS[col])) + 24)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_STATE, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(COL_STATE, 100)
        self.reset_selected = QPushButton("Reset selected", self)
        self.reset_selected.setEnabled(False)
        self.reset_all = QPushButton("Reset all", self)
        self.reset_selected.clicked.connect(self._reset_selected)
        self.reset_all.clicked.connect(lambda: self.request.emit("reset_breaker", None))
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        model.modelReset.connect(self._selection_changed)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.reset_selected)
        buttons.addWidget(self.reset_all)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def selected_name(self) -> str | None:
        """The selected breaker's name, if a row is selected."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.name_at(rows[0].row()) if rows else None

    def select(self, name: str) -> bool:
        """Select the row of breaker ``name``; False when there is none."""
        for row in range(self.model.rowCount()):
            if self.model.name_at(row) == name:
                self.table.selectRow(row)
                return True
        return False

    def set_busy(self, busy: bool) -> None:
        """Disable the buttons while an action runs."""
        self.reset_all.setEnabled(not busy)
        self.reset_selected.setEnabled(not busy and self.selected_name() is not None)

    def _reset_selected(self) -> None:
        name = self.selected_name()
        if name is not None:
            self.request.emit("reset_breaker", name)

    def _selection_changed(self, *_: object) -> None:
        self.reset_selected.setEnabled(self.selected_name() is not None)
