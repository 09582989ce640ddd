"""TargetsEditor: add, edit, duplicate, disable and remove targets; save to the config file.

Edits work on a copy; "Save" writes the whole config atomically with
``core.config.save_config`` (the file's comments stay) and accepts, and the caller hands
``config()`` to the running core (``NetmonCore.apply_config``). A failed save keeps the
dialog open with the reason and loses nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.config import Config, Target

from .config_save import save_error_label, write_config
from .target_dialog import TargetDialog
from .window_modal import open_dialog

__all__ = ["TargetsEditor", "endpoint_of"]


def endpoint_of(target: Target) -> str:
    """What a target watches, in one short line (never a secret: DSNs carry none)."""
    if target.url:
        return target.url
    if target.dsn:
        return target.dsn
    return f"{target.host}:{target.port}" if target.port else target.host


class TargetsEditor(QDialog):
    """The targets of ``config``, editable; saved to ``path``."""

    def __init__(self, config: Config, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Targets")
        self.setObjectName("targetsEditor")
        self.base = config
        self.path = path
        self.targets: list[Target] = list(config.targets)
        self.saved: Config | None = None
        self.table = QTableWidget(0, 4, self)
        self.table.setObjectName("editorTable")
        self.table.setHorizontalHeaderLabels(["Name", "Kind", "Enabled", "Watches"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda _=None: self.edit())
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.buttons: dict[str, QPushButton] = {}
        side = QVBoxLayout()
        for key, label, slot in (("add", "Add...", self.add), ("edit", "Edit...", self.edit),
                                 ("duplicate", "Duplicate", self.duplicate),
                                 ("toggle", "Disable", self.toggle),
                                 ("remove", "Remove", self.remove)):
            button = QPushButton(label, self)
            button.setObjectName(f"{key}Button")
            button.clicked.connect(lambda _=False, s=slot: s())
            side.addWidget(button)
            self.buttons[key] = button
        side.addStretch(1)
        self.where = QLabel(f"Saved to {path}", self)
        self.where.setObjectName("configPath")
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = save_error_label(self)
        box = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self)
        box.accepted.connect(self.save)
        box.rejected.connect(self.reject)
        body = QHBoxLayout()
        body.addWidget(self.table, 1)
        body.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.where)
        layout.addWidget(self.error)
        layout.addWidget(box)
        self.resize(760, 440)
        self._fill()

    # --- operations ----------------------------------------------------------------
    def selected(self) -> int:
        """The selected row (-1 when none)."""
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def add(self, target: Target | None = None) -> TargetDialog | None:
        """Add ``target``, or open the dialog for a new one (returned; added on OK)."""
        if target is not None:
            self._insert(len(self.targets), target)
            return None
        return self._ask(None, [t.name for t in self.targets],
                         lambda t: self._insert(len(self.targets), t))

    def edit(self) -> TargetDialog | None:
        """Open the dialog on the selected target (returned; replaced on OK)."""
        row = self.selected()
        if row < 0:
            return None
        others = [t.name for i, t in enumerate(self.targets) if i != row]
        return self._ask(self.targets[row], others, lambda t: self._replace(row, t))

    def duplicate(self) -> None:
        """Copy the selected target under a free name, right after it."""
        row = self.selected()
        if row < 0:
            return
        names = {t.name for t in self.targets}
        base, n = self.targets[row].name, 2
        while f"{base}-{n}" in names:
            n += 1
        self._insert(row + 1, dataclasses.replace(self.targets[row], name=f"{base}-{n}"))

    def toggle(self) -> None:
        """Disable the selected target (kept in the file, not probed), or enable it."""
        row = self.selected()
        if row < 0:
            return
        target = self.targets[row]
        self.targets[row] = dataclasses.replace(target, enabled=not target.enabled)
        self._fill(row)

    def remove(self) -> None:
        """Remove the selected target."""
        row = self.selected()
        if row < 0:
            return
        del self.targets[row]
        self._fill(min(row, len(self.targets) - 1))

    def config(self) -> Config:
        """The config with the edited targets (``source`` set to where it is saved)."""
        return dataclasses.replace(self.base, targets=list(self.targets), source=self.path)

    def save(self) -> bool:
        """Write the config atomically and accept; on failure say why and stay open."""
        config = self.config()
        if not write_config(config, self.path, self.error):
            return False
        self.saved = config
        self.accept()
        return True

    # --- internals -----------------------------------------------------------------
    def _ask(self, target: Target | None, taken: list[str],
             done: Callable[[Target], None]) -> TargetDialog:
        dialog = TargetDialog(target, taken=taken, parent=self)
        open_dialog(dialog, lambda: done(dialog.target()))
        return dialog

    def _insert(self, row: int, target: Target) -> None:
        self.targets.insert(row, target)
        self._fill(row)

    def _replace(self, row: int, target: Target) -> None:
        self.targets[row] = target
        self._fill(row)

    def _fill(self, select: int = -1) -> None:
        self.table.setRowCount(len(self.targets))
        for row, target in enumerate(self.targets):
            cells = (target.name, target.kind, "yes" if target.enabled else "no",
                     endpoint_of(target))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if not target.enabled:
                    item.setForeground(Qt.GlobalColor.gray)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        if select >= 0:
            self.table.selectRow(select)
        self._selection_changed()

    def _selection_changed(self) -> None:
        row = self.selected()
        for key in ("edit", "duplicate", "toggle", "remove"):
            self.buttons[key].setEnabled(row >= 0)
        if row >= 0:
            self.buttons["toggle"].setText(
                "Disable" if self.targets[row].enabled else "Enable")
