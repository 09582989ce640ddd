"""Saving the config file from a dialog: the error line and the write that fills it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel, QWidget

from core.config import Config, save_config

__all__ = ["save_error_label", "write_config"]


def save_error_label(parent: QWidget) -> QLabel:
    """The hidden red line where a failed save says why (``saveError``)."""
    label = QLabel("", parent)
    label.setObjectName("saveError")
    label.setStyleSheet("color: #c62828;")
    label.setWordWrap(True)
    label.hide()
    return label


def write_config(config: Config, path: Path, error: QLabel) -> bool:
    """Write ``config`` atomically to ``path``; on failure show why in ``error``."""
    try:
        save_config(config, path)
    except OSError as exc:
        error.setText(f"Not saved: {path}: {exc.strerror or exc}")
        error.show()
        return False
    return True
