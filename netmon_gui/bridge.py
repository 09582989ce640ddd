"""CoreBridge: the one place where core ``Event``s become Qt ``Signal``s.

Core events hold bound methods weakly, so the bridge connects its *own* methods and
must be kept alive (the main window owns it). ``close()`` disconnects everything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.events import Event
from core.runtime import NetmonCore

__all__ = ["CoreBridge"]


class CoreBridge(QObject):
    """Re-emits the core's events as Qt signals (each carrying the core's value)."""

    resultRecorded = Signal(object)  # noqa: N815 - Qt signal naming
    statusChanged = Signal(object)  # noqa: N815
    conditionChanged = Signal(object)  # noqa: N815
    breakerChanged = Signal(object)  # noqa: N815
    auditRecorded = Signal(object)  # noqa: N815
    authChanged = Signal(object)  # noqa: N815

    def __init__(self, core: NetmonCore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self._links: list[tuple[Event[Any], Callable[[Any], None]]] = []
        monitor = core.monitor
        self._link(monitor.result_recorded, self._on_result)
        self._link(monitor.status_changed, self._on_status)
        self._link(monitor.condition_changed, self._on_condition)
        self._link(core.recovery.audited, self._on_audit)
        if core.auth is not None:
            for event in (core.auth.cached, core.auth.evicted, core.auth.failed):
                self._link(event, self._on_auth)
        self.sync_breakers()

    def sync_breakers(self) -> None:
        """Connect to breakers created since the last call (``core.breaker()`` adds them)."""
        linked = {id(event) for event, _ in self._links}
        for breaker in list(self.core.breakers.values()):
            if id(breaker.state_changed) not in linked:
                self._link(breaker.state_changed, self._on_breaker)

    def close(self) -> None:
        """Disconnect from every core event; the signals stay silent afterwards."""
        for event, receiver in self._links:
            event.disconnect(receiver)
        self._links.clear()

    @property
    def connected(self) -> bool:
        """Whether the bridge still listens to the core."""
        return bool(self._links)

    def _link(self, event: Event[Any], receiver: Callable[[Any], None]) -> None:
        event.connect(receiver)
        self._links.append((event, receiver))

    def _on_result(self, value: object) -> None:
        self.resultRecorded.emit(value)

    def _on_status(self, value: object) -> None:
        self.statusChanged.emit(value)

    def _on_condition(self, value: object) -> None:
        self.conditionChanged.emit(value)

    def _on_breaker(self, value: object) -> None:
        self.breakerChanged.emit(value)

    def _on_audit(self, value: object) -> None:
        self.auditRecorded.emit(value)

    def _on_auth(self, value: object) -> None:
        self.authChanged.emit(value)
