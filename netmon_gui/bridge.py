"""The one bridge from the core to Qt: ``CoreBridge`` turns core ``Event``s into Qt
``Signal``s, ``LogBridge`` turns the ``netmon`` logger's records into one.

Core events hold bound methods weakly, so the bridge connects its *own* methods and
must be kept alive (the main window owns it). ``close()`` disconnects everything.
Probe results, the one frequent event (one per target per interval), are sent in batches:
those recorded in one turn of the loop make one ``resultsRecorded`` signal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from core.events import Event
from core.log import AsciiSafeFormatter, RedactingFilter
from core.probes.base import ProbeResult
from core.runtime import NetmonCore

__all__ = ["CoreBridge", "LogBridge", "LogLine"]


class CoreBridge(QObject):
    """Re-emits the core's events as Qt signals (each carrying the core's value; results
    as a list of those recorded since the last turn of the loop, in order)."""

    resultsRecorded = Signal(object)  # noqa: N815 - Qt signal naming; list[ProbeResult]
    statusChanged = Signal(object)  # noqa: N815
    conditionChanged = Signal(object)  # noqa: N815
    breakerChanged = Signal(object)  # noqa: N815
    auditRecorded = Signal(object)  # noqa: N815
    forwardRecorded = Signal(object)  # noqa: N815 - a ForwardResult
    noticePublished = Signal(object)  # noqa: N815 - a Notice
    authChanged = Signal(object)  # noqa: N815
    snapshotChanged = Signal(object)  # noqa: N815 - frozenset of target names

    def __init__(self, core: NetmonCore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self._links: list[tuple[Event[Any], Callable[[Any], None]]] = []
        self._results: list[ProbeResult] = []  # recorded, not sent yet
        self._send = QTimer(self)
        self._send.setSingleShot(True)
        self._send.setInterval(0)
        self._send.timeout.connect(self._send_results)
        monitor = core.monitor
        self._link(monitor.result_recorded, self._on_result)
        self._link(monitor.status_changed, self._on_status)
        self._link(monitor.condition_changed, self._on_condition)
        self._link(monitor.snapshot_changed, self._on_snapshot)
        self._link(core.recovery.audited, self._on_audit)
        self._link(core.forwarder.sent, self._on_forward)
        self._link(core.notices.published, self._on_notice)
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
        self._send.stop()
        self._results = []

    @property
    def connected(self) -> bool:
        """Whether the bridge still listens to the core."""
        return bool(self._links)

    def _link(self, event: Event[Any], receiver: Callable[[Any], None]) -> None:
        event.connect(receiver)
        self._links.append((event, receiver))

    def _on_result(self, value: ProbeResult) -> None:
        self._results.append(value)
        if len(self._results) == 1:  # the first since the last batch
            self._send.start()

    def _send_results(self) -> None:
        results, self._results = self._results, []
        if results:
            self.resultsRecorded.emit(results)

    def _on_status(self, value: object) -> None:
        self.statusChanged.emit(value)

    def _on_condition(self, value: object) -> None:
        self.conditionChanged.emit(value)

    def _on_snapshot(self, value: object) -> None:
        self.snapshotChanged.emit(value)

    def _on_breaker(self, value: object) -> None:
        self.breakerChanged.emit(value)

    def _on_audit(self, value: object) -> None:
        self.auditRecorded.emit(value)

    def _on_forward(self, value: object) -> None:
        self.forwardRecorded.emit(value)

    def _on_notice(self, value: object) -> None:
        self.noticePublished.emit(value)

    def _on_auth(self, value: object) -> None:
        self.authChanged.emit(value)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log record as the console shows it (already redacted and ASCII-safe)."""

    at: datetime
    level: int
    levelname: str
    logger: str
    message: str


class _Handler(logging.Handler):
    def __init__(self, sink: Callable[[LogLine], None]) -> None:
        super().__init__()
        self.sink = sink
        self.addFilter(RedactingFilter())
        self.setFormatter(AsciiSafeFormatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = LogLine(datetime.fromtimestamp(record.created, UTC), record.levelno,
                           record.levelname, record.name, self.format(record))
            self.sink(line)
        except Exception:  # a log handler never raises into the code that logged
            self.handleError(record)


class LogBridge(QObject):
    """Re-emits records of the ``netmon`` logger (any thread) as ``lineLogged`` on the GUI
    thread; ``close()`` detaches it."""

    lineLogged = Signal(object)  # noqa: N815 - Qt signal naming; carries a LogLine

    def __init__(self, parent: QObject | None = None, logger: str = "netmon") -> None:
        super().__init__(parent)
        self._logger = logging.getLogger(logger)
        self._handler: _Handler | None = _Handler(self.lineLogged.emit)
        self._logger.addHandler(self._handler)

    def close(self) -> None:
        """Stop listening to the logger."""
        if self._handler is not None:
            self._logger.removeHandler(self._handler)
            self._handler = None
