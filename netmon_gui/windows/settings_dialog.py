"""SettingsDialog: the [monitor], [breaker], [retry], [history] and [notifications] settings,
one tab each.

Each field is checked as typed by the config loader's own rules
(``core.config.validate_section``); "Save" is enabled only when every tab is valid, writes
the file atomically (comments kept) and accepts. More tabs plug in with
``add_page(title, page)``: a page offers ``section`` (its config section name),
``values() -> dict`` and ``errors() -> dict``, and ``changed`` (a Signal) when edited.
The Notifications tab (``forward_page.NotificationsPage``) adds the forwarding
destinations to its section's form.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.config import Config, validate_section
from core.forward import Forwarder

from .config_save import save_error_label, write_config

__all__ = ["SECTIONS", "SectionPage", "SettingsDialog", "SettingsPage"]

#: The sections this dialog edits, with a line on what each is for.
SECTIONS = {
    "monitor": ("Monitor", "How often and how hard targets are probed; when a target "
                "counts as down or up again. Applies from the next probe."),
    "breaker": ("Circuit breaker", "When a dependency's breaker opens and how it tries "
                "again. Applies to every breaker from its next decision."),
    "retry": ("Retry", "Attempts and backoff of retried operations (database connect). "
              "Applies at the next start."),
    "history": ("History", "Where probe history is kept (applies at the next start) and "
                "how long: raw results (hours), then 1-minute and 1-hour rollups (days), each "
                "at least as long as the one before. Retention applies within a minute."),
    "notifications": ("Notifications", "Tray notices when a target goes down or comes back "
                      "(after down_after / up_after), one for the local network going down. "
                      "quiet_s: a target down again this soon after its last notice is held "
                      "back; reminder_s: how often a target still down is reminded; "
                      "forward_timeout_s: how long one forwarded notice may take. Applies "
                      "at once."),
}


class SettingsPage(Protocol):
    """What ``add_page`` needs of a page (the notifications page, for one)."""

    section: str
    changed: Any

    def values(self) -> dict[str, Any]: ...

    def errors(self) -> dict[str, str]: ...


class SectionPage(QWidget):
    """One settings section as a form; each field's problem shown beside it. List fields
    get no editor here: they stay in ``extra`` (a page built on this one edits them)."""

    changed = Signal()

    def __init__(self, section: str, current: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.section = section
        self.editors: dict[str, QLineEdit | QComboBox | QCheckBox] = {}
        self.error_labels: dict[str, QLabel] = {}
        self.extra: dict[str, Any] = {}
        self._errors: dict[str, str] = {}
        self._types = {f.name: type(getattr(current, f.name)) for f in dataclasses.fields(current)}
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        intro = QLabel(SECTIONS[section][1], self)
        intro.setWordWrap(True)
        form.addRow(intro)
        for f in dataclasses.fields(current):
            value = getattr(current, f.name)
            if isinstance(value, list):
                self.extra[f.name] = list(value)
                continue
            choices = f.metadata.get("choices")
            editor: QLineEdit | QComboBox | QCheckBox
            if isinstance(value, bool):
                editor = QCheckBox(self)
                editor.setChecked(value)
                editor.toggled.connect(self._edited)
            elif choices:
                editor = QComboBox(self)
                editor.addItems(list(choices))
                editor.setCurrentText(str(value))
                editor.currentTextChanged.connect(self._edited)
            else:
                editor = QLineEdit(f"{value:g}" if isinstance(value, float) else str(value),
                                   self)
                low, high = f.metadata.get("min"), f.metadata.get("max")
                if low is not None and high is not None:
                    editor.setPlaceholderText(f"{low:g}..{high:g}")
                editor.textChanged.connect(self._edited)
            editor.setObjectName(f"{section}_{f.name}")
            error = QLabel("", self)
            error.setStyleSheet("color: #c62828;")
            error.setWordWrap(True)
            error.hide()
            box = QWidget(self)
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.setSpacing(2)
            lay.addWidget(editor)
            lay.addWidget(error)
            form.addRow(f.name, box)
            self.editors[f.name] = editor
            self.error_labels[f.name] = error
        self._edited()

    def values(self) -> dict[str, Any]:
        """The section's table as typed (a number that does not parse stays text)."""
        out: dict[str, Any] = {}
        for name, editor in self.editors.items():
            if isinstance(editor, QCheckBox):
                out[name] = editor.isChecked()
            elif isinstance(editor, QComboBox):
                out[name] = editor.currentText()
            else:
                out[name] = _typed(editor.text().strip(), self._types[name])
        return out | {name: list(value) for name, value in self.extra.items()}

    def errors(self) -> dict[str, str]:
        return dict(self._errors)

    def _edited(self, *_: object) -> None:
        self._errors = validate_section(self.section, self.values())
        for name, label in self.error_labels.items():
            label.setText(self._errors.get(name, ""))
            label.setVisible(name in self._errors)
        self.changed.emit()


def _typed(text: str, kind: type) -> Any:
    """Text as TOML would read it for a number field (else the text, for the message)."""
    if kind is str:
        return text
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            continue
    return text


class SettingsDialog(QDialog):
    """Edit ``config``'s settings; "Save" writes ``path`` and accepts (``saved`` is set).
    ``forwarder``: the running core's, for the Notifications tab's "Send test"."""

    def __init__(self, config: Config, path: Path, parent: QWidget | None = None,
                 forwarder: Forwarder | None = None) -> None:
        from .forward_page import NotificationsPage  # it builds on SectionPage, above

        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        self.base = config
        self.path = path
        self.saved: Config | None = None
        self.pages: list[Any] = []
        self.tabs = QTabWidget(self)
        for section, (title, _) in SECTIONS.items():
            current = getattr(config, section)
            self.add_page(title, NotificationsPage(current, forwarder, self)
                          if section == "notifications" else SectionPage(section, current, self))
        self.error = save_error_label(self)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        where = QLabel(f"Saved to {path}", self)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(where)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(560, 560)
        self._update()

    def add_page(self, title: str, page: Any) -> None:
        """Add a settings tab (see ``SettingsPage``); its values land in ``[section]``."""
        self.pages.append(page)
        self.tabs.addTab(page, title)
        page.changed.connect(self._update)

    def config(self) -> Config:
        """The config with every page's values (only when no page has errors)."""
        changes = {p.section: dataclasses.replace(getattr(self.base, p.section), **p.values())
                   for p in self.pages}
        return dataclasses.replace(self.base, **changes, source=self.path)

    def save(self) -> bool:
        """Write atomically and accept; on failure say why and stay open."""
        if any(p.errors() for p in self.pages):
            return False
        config = self.config()
        if not write_config(config, self.path, self.error):
            return False
        self.saved = config
        self.accept()
        return True

    def done(self, result: int) -> None:
        """Close (saved or not); a test send still in flight is no longer waited for."""
        for page in self.pages:
            if hasattr(page, "cancel"):
                page.cancel()
        super().done(result)

    def _update(self) -> None:
        if not hasattr(self, "buttons"):
            return
        bad = [i for i, p in enumerate(self.pages) if p.errors()]
        for i in range(len(self.pages)):
            title = self.tabs.tabText(i).rstrip(" !")
            self.tabs.setTabText(i, f"{title} !" if i in bad else title)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not bad)
