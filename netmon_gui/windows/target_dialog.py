"""TargetDialog: add or edit one target, each field's problem shown beside it as typed.

The rules and messages are the config loader's (``core.config.validate_target``), so the
form refuses exactly what ``load_config`` would. Secrets are never fields here: "Set
password..." / "Set API key..." store the value in the OS keyring (``SecretDialog``) and the
form keeps only the entry's name in ``password_keyring`` / ``apikey_keyring``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from core.config import RESOLVER_MODES, TARGET_KINDS, Target, validate_target

from .secret_dialog import SecretDialog
from .window_modal import open_dialog

__all__ = ["FIELDS", "FieldSpec", "TargetDialog"]

_ALL = frozenset(TARGET_KINDS)


@dataclass(frozen=True)
class FieldSpec:
    """One form row: the Target field, its label, editor type and the kinds that use it."""

    key: str
    label: str
    type: str  # text | int | float | list | intlist | bool | choice
    kinds: frozenset[str] = _ALL
    choices: tuple[str, ...] = ()
    hint: str = ""


def _k(*kinds: str) -> frozenset[str]:
    return frozenset(kinds)


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", "Name", "text"),
    FieldSpec("kind", "Kind", "choice", choices=TARGET_KINDS),
    FieldSpec("enabled", "Enabled", "bool"),
    FieldSpec("host", "Host", "text", _k("dns", "tcp", "postgres"), hint="name or address"),
    FieldSpec("port", "Port", "int", _k("tcp", "postgres")),
    FieldSpec("url", "URL", "text", _k("http", "supabase"), hint="https://host/path"),
    FieldSpec("dsn", "DSN", "text", _k("postgres"),
              hint="postgresql://user@host:5432/db (no password)"),
    FieldSpec("nameservers", "Nameservers", "list", _k("dns"),
              hint="comma separated, e.g. 10.0.0.53, 1.1.1.1:53"),
    FieldSpec("system_nameservers", "Ask system nameservers", "bool", _k("dns")),
    FieldSpec("record_types", "Record types", "list", _k("dns"), hint="A, AAAA"),
    FieldSpec("resolver", "Decided by", "choice", _k("dns"), choices=RESOLVER_MODES),
    FieldSpec("method", "Method", "choice", _k("http"), choices=("GET", "HEAD")),
    FieldSpec("expect_status", "Expected status", "intlist", _k("http"),
              hint="comma separated; empty: any 2xx/3xx"),
    FieldSpec("body_contains", "Body contains", "text", _k("http")),
    FieldSpec("follow_redirects", "Follow redirects", "bool", _k("http")),
    FieldSpec("verify_tls", "Verify TLS", "bool", _k("http", "supabase")),
    FieldSpec("ca_file", "CA file", "text", _k("http", "supabase")),
    FieldSpec("sslmode", "SSL mode", "choice", _k("postgres"),
              choices=("disable", "prefer", "require", "verify-full")),
    FieldSpec("password_keyring", "Password (keyring entry)", "text", _k("postgres"),
              hint="e.g. netmon/db"),
    FieldSpec("password_env", "Password (env variable)", "text", _k("postgres")),
    FieldSpec("apikey_keyring", "API key (keyring entry)", "text", _k("supabase")),
    FieldSpec("apikey_env", "API key (env variable)", "text", _k("supabase")),
    FieldSpec("interval_s", "Interval (s)", "float", hint="empty: the monitor's"),
    FieldSpec("timeout_s", "Timeout (s)", "float", hint="empty: the monitor's"),
    FieldSpec("latency_threshold_ms", "Slow above (ms)", "float", hint="empty: the monitor's"),
    FieldSpec("breaker", "Breaker", "text", hint="empty: one of its own"),
    FieldSpec("critical", "Critical", "bool"),
    FieldSpec("canary", "Canary (local network)", "bool"),
)
_SECRET_BUTTONS = {"password_keyring": "Set password...", "apikey_keyring": "Set API key..."}
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Target)
             if f.default is not dataclasses.MISSING}
_DEFAULTS.update({f.name: f.default_factory() for f in dataclasses.fields(Target)
                  if f.default_factory is not dataclasses.MISSING})


def _number(text: str) -> Any:
    """The number as TOML would read it (``5`` an integer, ``5.0`` a float), or the text
    itself, so the loader's message says what is wrong with it."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


class _Row:
    """One field's editor and the label that shows its problem."""

    def __init__(self, spec: FieldSpec, parent: QWidget) -> None:
        self.spec = spec
        self.box = QWidget(parent)
        layout = QVBoxLayout(self.box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        line = QHBoxLayout()
        line.setSpacing(6)
        self.editor: QLineEdit | QComboBox | QCheckBox
        if spec.type == "bool":
            self.editor = QCheckBox(parent)
        elif spec.type == "choice":
            self.editor = QComboBox(parent)
            self.editor.addItems(list(spec.choices))
        else:
            self.editor = QLineEdit(parent)
            self.editor.setPlaceholderText(spec.hint)
            self.editor.setClearButtonEnabled(True)
        self.editor.setObjectName(f"field_{spec.key}")
        line.addWidget(self.editor, 1)
        self.button: QPushButton | None = None
        if spec.key in _SECRET_BUTTONS:
            self.button = QPushButton(_SECRET_BUTTONS[spec.key], parent)
            line.addWidget(self.button)
        layout.addLayout(line)
        self.error = QLabel("", parent)
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c62828;")
        self.error.hide()
        layout.addWidget(self.error)

    def set(self, value: Any) -> None:
        e = self.editor
        if isinstance(e, QCheckBox):
            e.setChecked(bool(value))
        elif isinstance(e, QComboBox):
            e.setCurrentText(str(value))
        elif isinstance(value, list):
            e.setText(", ".join(str(v) for v in value))
        else:
            e.setText("" if value is None or (value == 0 and self.spec.key == "port")
                      else f"{value:g}" if isinstance(value, float) else str(value))

    def value(self) -> Any:
        """The typed value, or ``None`` when the field is left empty (the default)."""
        e = self.editor
        if isinstance(e, QCheckBox):
            return e.isChecked()
        if isinstance(e, QComboBox):
            return e.currentText()
        text = e.text().strip()
        kind = self.spec.type
        if kind == "text":
            return text if text or self.spec.key == "name" else None
        if not text:
            return None
        if kind in ("list", "intlist"):
            items = [p.strip() for p in text.split(",") if p.strip()]
            return [_number(p) for p in items] if kind == "intlist" else items
        return _number(text)

    def show_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))


class TargetDialog(QDialog):
    """Edit ``target`` (None: a new one); ``taken`` are the other targets' names."""

    def __init__(self, target: Target | None = None, *, taken: list[str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Edit target {target.name}" if target else "Add target")
        self.setObjectName("targetDialog")
        self.taken = list(taken or [])
        self.rows: dict[str, _Row] = {}
        self.errors: dict[str, str] = {}
        form_host = QWidget(self)
        self.form = QFormLayout(form_host)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        for spec in FIELDS:
            row = _Row(spec, form_host)
            self.rows[spec.key] = row
            self.form.addRow(spec.label, row.box)
            editor = row.editor
            if isinstance(editor, QCheckBox):
                editor.toggled.connect(self.validate)
            elif isinstance(editor, QComboBox):
                editor.currentTextChanged.connect(self.validate)
            else:
                editor.textChanged.connect(self.validate)
            if row.button is not None:
                row.button.clicked.connect(lambda _=False, k=spec.key: self.set_secret(k))
        self.general = QLabel("", self)  # problems of fields the form does not show
        self.general.setObjectName("generalError")
        self.general.setStyleSheet("color: #c62828;")
        self.general.setWordWrap(True)
        self.general.hide()
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(form_host)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.general)
        layout.addWidget(self.buttons)
        self.resize(560, 640)
        start = dataclasses.asdict(target) if target else {
            **_DEFAULTS, "name": "", "kind": "http"}
        for key, row in self.rows.items():
            row.set(start.get(key))
        self.validate()

    @property
    def kind(self) -> str:
        return str(self.rows["kind"].value())

    def table(self) -> dict[str, Any]:
        """The ``[[targets]]`` table the form describes: fields its kind uses, set ones only."""
        kind = self.kind
        out: dict[str, Any] = {}
        for key, row in self.rows.items():
            if kind not in row.spec.kinds:
                continue
            value = row.value()
            if value is None or (key not in ("name", "kind") and value == _DEFAULTS.get(key)):
                continue
            out[key] = value
        return out

    def validate(self, *_: object) -> dict[str, str]:
        """Check the form now: show each problem beside its field; OK only when none."""
        kind = self.kind
        for row in self.rows.values():
            self.form.setRowVisible(row.box, kind in row.spec.kinds)
        self.errors = validate_target(self.table(), taken=self.taken)
        for key, row in self.rows.items():
            row.show_error(self.errors.get(key))
        elsewhere = [f"{k}: {m}" for k, m in self.errors.items() if k not in self.rows]
        self.general.setText("\n".join(elsewhere))
        self.general.setVisible(bool(elsewhere))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not self.errors)
        ok.setToolTip("" if not self.errors else "Fix the fields marked in red first")
        return self.errors

    def target(self) -> Target:
        """The edited target (only when ``validate()`` found nothing)."""
        if self.validate():
            raise ValueError(f"the target is not valid: {self.errors}")
        return Target(**self.table())

    def set_secret(self, key: str) -> SecretDialog:
        """Open the keyring dialog for the `*_keyring` field `key` (filled in on Save)."""
        name = str(self.rows["name"].value() or "target").strip() or "target"
        what = "password" if key.startswith("password") else "API key"
        current = self.rows[key].value()
        entry = current or f"netmon/{name}-{'password' if what == 'password' else 'apikey'}"
        dialog = SecretDialog(entry, what, parent=self)
        open_dialog(dialog, lambda: self.rows[key].set(dialog.entry()))
        return dialog
