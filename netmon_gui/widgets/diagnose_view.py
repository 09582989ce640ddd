"""DiagnoseView: the layered diagnosis of one host (``core.diagnose``) in a tab.

In: ``host[:port]`` (or a URL) and optional nameservers to ask directly. Out: one row per
layer (hosts file, OS resolver, each direct resolver, each TCP connect, proxy), the verdict
with its causes and next steps, and "Copy as text" (the same report ``netmon diagnose``
prints). A diagnosis runs as a task on the loop, owned here, with a busy bar; the window
stays live. Results of the ``diagnose`` recovery action (a configured target, from a
suggestion card or a double-click) are shown with ``show_result``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..colors import badge_for

__all__ = ["DEFAULT_TIMEOUT_S", "DiagnoseView", "layer_rows"]

_log = logging.getLogger("netmon.gui")

DEFAULT_TIMEOUT_S = 3.0
_OK, _BAD, _INFO = "ok", "FAIL", "-"


def layer_rows(d: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(layer, result, detail, time) per layer of a ``Diagnosis.as_dict()``."""
    rows: list[tuple[str, str, str, str]] = []
    hosts = d.get("hosts_file") or {}
    entries = hosts.get("entries") or []
    rows.append(("Hosts file", _OK if entries else _INFO,
                 hosts.get("note") or (f"{d.get('host')} -> {', '.join(entries)}" if entries
                                       else f"no entry ({hosts.get('path') or '?'})"), ""))
    rows.append(_resolver_row("OS resolver", d.get("os_resolver") or {}))
    direct = d.get("direct_resolvers") or []
    for answer in direct:
        rows.append(_resolver_row(f"Resolver {answer.get('resolver')}", answer))
    if not direct:
        rows.append(("Direct resolvers", _INFO, "none asked", ""))
    tcp = d.get("tcp") or []
    for attempt in tcp:
        ok = bool(attempt.get("ok"))
        rows.append((f"TCP {attempt.get('address')}:{attempt.get('port')}",
                     _OK if ok else _BAD,
                     "connected" if ok else f"{attempt.get('error_kind')}: "
                                            f"{attempt.get('error') or ''}".strip(),
                     _ms(attempt.get("latency_ms"))))
    if not tcp:
        rows.append(("TCP", _INFO, "no port given" if d.get("port") is None else
                     "no address to connect to", ""))
    proxy = d.get("proxy") or {}
    applies = proxy.get("applies")
    rows.append(("Proxy", _INFO, proxy.get("note") or (f"traffic would use {applies}"
                                                       if applies else
                                                       "bypassed" if proxy.get("bypass")
                                                       else "none applies"), ""))
    return rows


def _resolver_row(label: str, answer: dict[str, Any]) -> tuple[str, str, str, str]:
    if answer.get("ok"):
        detail = ", ".join(answer.get("addresses") or []) or "answered"
        return label, _OK, detail, _ms(answer.get("latency_ms"))
    detail = f"{answer.get('error_kind') or 'error'}: {answer.get('error') or ''}".strip()
    if answer.get("rcode"):
        detail += f" (rcode {answer['rcode']})"
    return label, _BAD, detail, _ms(answer.get("latency_ms"))


def _ms(value: Any) -> str:
    return f"{float(value):.1f} ms" if isinstance(value, int | float) else ""


class DiagnoseView(QWidget):
    """Inputs, a busy bar, the verdict, the layers and the next steps."""

    finished = Signal(object)  # the Diagnosis.as_dict() just shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: dict[str, Any] | None = None
        self.report = ""
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.target_edit = QLineEdit(self)
        self.target_edit.setObjectName("diagnoseTarget")
        self.target_edit.setPlaceholderText("host[:port] or URL, e.g. db.internal:5432")
        self.target_edit.returnPressed.connect(self.start)
        self.ns_edit = QLineEdit(self)
        self.ns_edit.setObjectName("diagnoseNameservers")
        self.ns_edit.setPlaceholderText("nameservers to ask directly (optional): 10.0.0.53, "
                                        "1.1.1.1")
        self.ns_edit.returnPressed.connect(self.start)
        self.system_check = QCheckBox("Also ask this machine's nameservers", self)
        self.system_check.setChecked(True)
        self.run_button = QPushButton("Diagnose", self)
        self.run_button.setObjectName("diagnoseButton")
        self.run_button.clicked.connect(self.start)
        self.copy_button = QPushButton("Copy as text", self)
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy)
        self.busy = QProgressBar(self)
        self.busy.setRange(0, 0)  # indeterminate
        self.busy.setMaximumHeight(6)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.verdict = QLabel("Enter a host to see where name resolution or the connection "
                              "fails, layer by layer.", self)
        self.verdict.setObjectName("diagnoseVerdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict.setFrameShape(QFrame.Shape.StyledPanel)
        self.verdict.setMargin(8)
        self.layers = QTableWidget(0, 4, self)
        self.layers.setObjectName("diagnoseLayers")
        self.layers.setHorizontalHeaderLabels(["Layer", "Result", "Detail", "Time"])
        self.layers.verticalHeader().hide()
        self.layers.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.layers.setWordWrap(True)
        header = self.layers.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.steps = QPlainTextEdit(self)  # scrolls: next steps can be a dozen lines
        self.steps.setObjectName("diagnoseSteps")
        self.steps.setReadOnly(True)
        self.steps.setPlaceholderText("Causes and next steps appear here.")
        self.split = QSplitter(Qt.Orientation.Vertical, self)
        self.split.addWidget(self.layers)
        self.split.addWidget(self.steps)
        self.split.setChildrenCollapsible(False)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)

        row1 = QHBoxLayout()
        row1.addWidget(self.target_edit, 3)
        row1.addWidget(self.run_button)
        row2 = QHBoxLayout()
        row2.addWidget(self.ns_edit, 3)
        row2.addWidget(self.copy_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(6)
        box.addLayout(row1)
        box.addLayout(row2)
        box.addWidget(self.system_check)
        box.addWidget(self.busy)
        box.addWidget(self.verdict)
        box.addWidget(self.split, 1)

    # --- running -----------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> asyncio.Task[None] | None:
        """Diagnose what the inputs say (a bad input is shown, not raised)."""
        target = self.target_edit.text().strip()
        if not target:
            self._say("error", "Enter a host, host:port or URL first.")
            return None
        servers = [s.strip() for s in self.ns_edit.text().split(",") if s.strip()]
        return self.run(target, servers, include_system=self.system_check.isChecked())

    def run(self, target: str, nameservers: list[str], *, include_system: bool = True,
            timeout: float = DEFAULT_TIMEOUT_S) -> asyncio.Task[None] | None:
        """Start diagnosing ``target`` on the loop (a newer run cancels an older one)."""
        if self._closed:
            return None
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self.set_busy(f"Diagnosing {target}...")
        self._task = asyncio.get_running_loop().create_task(
            self._run(target, nameservers, include_system, timeout), name="gui-diagnose")
        return self._task

    async def wait(self) -> None:
        """Wait for the diagnosis in progress, if any."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, target: str, nameservers: list[str], include_system: bool,
                   timeout: float) -> None:
        from core.diagnose import diagnose  # its layers import dnspython, urllib, ...

        try:
            found = await diagnose(target, nameservers=nameservers,
                                   include_system=include_system, timeout=timeout)
        except asyncio.CancelledError:
            raise
        except ValueError as exc:  # bad target or nameserver
            self._say("error", str(exc))
            return
        except Exception as exc:
            _log.warning("diagnosis of %s failed: %s", target, exc)
            self._say("error", f"Diagnosis failed: {exc}")
            return
        self.show_result(found.as_dict(), found.render_text())

    # --- showing -----------------------------------------------------------------
    def set_busy(self, message: str) -> None:
        """Show that a diagnosis is running (also for one run by the recovery action)."""
        self.busy.show()
        self.run_button.setEnabled(False)
        self.verdict.setText(message)
        self.verdict.setStyleSheet("")

    def show_result(self, diagnosis: dict[str, Any], report: str) -> None:
        """Show a ``Diagnosis.as_dict()`` and its text ``report``."""
        self.busy.hide()
        self.run_button.setEnabled(True)
        self.result, self.report = diagnosis, report
        self.copy_button.setEnabled(bool(report))
        verdict = diagnosis.get("verdict") or {}
        status = str(verdict.get("status") or diagnosis.get("status") or "unknown")
        port = diagnosis.get("port")
        where = f"{diagnosis.get('host')}{f':{port}' if port else ''}"
        self.target_edit.setText(str(diagnosis.get("target") or where))
        self._say(status, f"{where}: {status.upper()} at the {verdict.get('layer', '?')} layer"
                          f" - {verdict.get('summary', '')}")
        rows = layer_rows(diagnosis)
        self.layers.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 1 and text in (_OK, _BAD):
                    badge = badge_for("up" if text == _OK else "down")
                    item.setForeground(badge.background)
                item.setToolTip(text)
                self.layers.setItem(r, c, item)
        self.layers.resizeRowsToContents()
        parts = []
        if verdict.get("next_steps"):
            parts.append("Next steps:\n" + "\n".join(
                f"{i}. {step}" for i, step in enumerate(verdict["next_steps"], 1)))
        if verdict.get("causes"):
            parts.append("Possible causes:\n" + "\n".join(
                f"- {cause}" for cause in verdict["causes"]))
        self.steps.setPlainText("\n\n".join(parts))
        self.finished.emit(diagnosis)

    def show_failure(self, message: str) -> None:
        """A diagnosis that could not run (e.g. the action failed): say why."""
        self._say("error", message)

    def copy(self) -> None:
        """Copy the text report to the clipboard."""
        if self.report:
            QGuiApplication.clipboard().setText(self.report)

    def _say(self, status: str, text: str) -> None:
        self.busy.hide()
        self.run_button.setEnabled(True)
        badge = badge_for(status if status != "error" else "down")
        self.verdict.setText(text)
        self.verdict.setStyleSheet(
            f"QLabel {{ background: {badge.background.name()}; "
            f"color: {badge.foreground.name()}; border-radius: 4px; }}")

    # --- shutdown ----------------------------------------------------------------
    async def aclose(self) -> None:
        """Cancel a diagnosis in progress and wait for it."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
