"""EnvironmentPanel: this machine's network environment (``netmon env``) and the support
bundle, in the console. Reading sends nothing on the network; the reachability checks
(gateway, DNS servers) run only when ticked."""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.config import Config
from core.log import printable

from ..colors import severity_badge

__all__ = ["EnvironmentPanel"]


class EnvironmentPanel(QWidget):
    """"Read environment" (with optional reachability checks), the conditions found, the
    full report as text, and "Save support bundle..."."""

    bundleSaved = Signal(str)  # noqa: N815 - Qt signal naming; one status-bar line

    def __init__(self, config: Callable[[], Config],
                 snapshot: Callable[[], Mapping[str, Any]], parent: QWidget | None = None,
                 ) -> None:
        super().__init__(parent)
        self._config = config
        self._snapshot = snapshot
        self.read_button = QPushButton("Read environment", self)
        self.probe_box = QCheckBox("Also check that the gateway and DNS servers answer", self)
        self.probe_box.setToolTip("Sends ICMP, TCP or UDP to them; off, nothing is sent")
        self.bundle_button = QPushButton("Save support bundle...", self)
        self.bundle_button.setToolTip("One redacted zip: status, environment, 24 h of history, "
                                      "diagnoses, config (secrets by name only), logs")
        self.conditions = QLabel("Not read yet.", self)
        self.conditions.setWordWrap(True)
        self.conditions.setTextFormat(Qt.TextFormat.RichText)
        self.report = QPlainTextEdit(self)
        self.report.setReadOnly(True)
        self.report.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        row = QHBoxLayout()
        row.addWidget(self.read_button)
        row.addStretch(1)
        row.addWidget(self.bundle_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.probe_box)
        layout.addWidget(self.conditions)
        layout.addWidget(self.report, 1)
        self.read_button.clicked.connect(self.read)
        self.bundle_button.clicked.connect(self.ask_bundle_path)
        self._tasks: set[asyncio.Task[None]] = set()
        self._read_once = False

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Read the environment the first time the tab is shown (it only reads files)."""
        super().showEvent(event)
        if not self._read_once:
            self._read_once = True
            with contextlib.suppress(RuntimeError):  # no running loop: the button remains
                asyncio.get_running_loop()
                self.read()

    def read(self) -> asyncio.Task[None]:
        """Read (and judge) the environment on the loop."""
        self.read_button.setEnabled(False)
        self.conditions.setText("Reading...")
        return self._own(self._read(self.probe_box.isChecked()), "gui-environment")

    def ask_bundle_path(self) -> None:
        """Ask where to save the bundle (a window-modal dialog, no nested event loop)."""
        dialog = QFileDialog(self, "Save support bundle", "netmon-bundle.zip",
                             "Zip files (*.zip)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.fileSelected.connect(lambda path: self.save_bundle(Path(path)))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def save_bundle(self, path: Path) -> asyncio.Task[None]:
        """Write the support bundle to ``path`` on the loop; ``bundleSaved`` says how."""
        self.bundle_button.setEnabled(False)
        return self._own(self._save(path), "gui-bundle")

    async def aclose(self) -> None:
        """Cancel what is still running and wait for it."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _own(self, coro: Any, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _read(self, probe: bool) -> None:
        from core.environment import collect_environment
        from core.environment.render import render_text

        try:
            found = await collect_environment(probe=probe)
        except Exception as exc:  # an unreadable source is shown, never a crash
            self.conditions.setText(html.escape(f"Could not read the environment: {exc}"))
            return
        finally:
            self.read_button.setEnabled(True)
        self.report.setPlainText("\n".join(map(printable, render_text(found).splitlines())))
        if not found.conditions:
            self.conditions.setText("Nothing in this machine's network setup explains a "
                                    "failure.")
            return
        lines = []
        for c in found.conditions:
            color = severity_badge(c.severity).background.name()
            lines.append(f"<span style='color:{color}'><b>{html.escape(c.title)}</b></span>"
                         f": {html.escape(c.detail)} {html.escape(c.suggestion)}")
        self.conditions.setText("<br>".join(lines))

    async def _save(self, path: Path) -> None:
        from core.bundle import write_bundle

        try:
            manifest = await write_bundle(path, config=self._config(),
                                          snapshot=self._snapshot())
        except (OSError, ValueError) as exc:
            self.bundleSaved.emit(f"Support bundle not saved: {exc}")
        else:
            self.bundleSaved.emit(f"Support bundle saved to {path} "
                                  f"({len(manifest.files) + 1} files)")
        finally:
            self.bundle_button.setEnabled(True)
