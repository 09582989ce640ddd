"""Window-modal questions and dialogs that never start a nested event loop.

``QDialog.exec()`` and the static ``QMessageBox.question()`` run a second event loop
inside the qasync one: the core's tasks stall until the user answers. Everything the
console asks goes through ``open()`` here instead, with a callback for the answer.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

__all__ = ["ask_yes_no", "open_dialog", "tell"]


def open_dialog(dialog: QDialog, on_accepted: Callable[[], None]) -> QDialog:
    """Show ``dialog`` window-modal; ``on_accepted`` runs if the user accepts it. The
    dialog is deleted once closed."""
    dialog.accepted.connect(on_accepted)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
    return dialog


def ask_yes_no(parent: QWidget, title: str, question: str,
               on_yes: Callable[[], None]) -> QMessageBox:
    """Ask ``question`` with Yes / No (No is the default); ``on_yes`` runs on Yes."""
    box = QMessageBox(QMessageBox.Icon.Question, title, question,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    yes = box.button(QMessageBox.StandardButton.Yes)
    box.finished.connect(lambda _: on_yes() if box.clickedButton() is yes else None)
    box.finished.connect(box.deleteLater)
    box.open()
    return box


def tell(parent: QWidget, title: str, text: str,
         icon: QMessageBox.Icon = QMessageBox.Icon.Information) -> QMessageBox:
    """Show ``text`` window-modal without waiting for it to be closed."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.finished.connect(box.deleteLater)
    box.open()
    return box
