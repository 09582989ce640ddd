"""ActionRunner: runs recovery actions on the qasync loop and owns their tasks.

Buttons call ``run(...)``; the task is kept until it ends, ``aclose()`` cancels and awaits
whatever is still running (no fire-and-forget). Each outcome is announced on ``finished``
as one line of text for the status bar.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.recovery import RecoveryActions

__all__ = ["LOCAL_BACKEND", "ActionRecord", "ActionRunner", "describe_outcome", "failure_of"]

_log = logging.getLogger("netmon.gui")

LABELS = {
    "reset_breaker": "Reset breaker",
    "clear_auth_cache": "Clear auth cache",
    "reconnect_database": "Reconnect database",
    "probe_all": "Probe all",
    "probe_now": "Probe now",
    "diagnose": "Diagnose",
}


LOCAL_BACKEND = "This machine"


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One finished recovery action, for the action log: when, on which backend, result."""

    at: datetime
    backend: str
    action: str
    target: str | None
    ok: bool
    text: str


def failure_of(action: str, result: dict[str, Any]) -> str | None:
    """Why a finished action did not achieve what it is for, or None when it did. Judged
    from what the result shows too, not only its ``ok``: a backend that is not ours may
    report a reset breaker still open and not say ``ok: false``."""
    if result.get("ok") is False:
        return str(result.get("reason") or "no reason given")
    if action == "reset_breaker":
        rows = [b for b in result.get("breakers") or [] if isinstance(b, dict)]
        if not rows:
            return "no breaker was reset"
        unreported = [str(b.get("name")) for b in rows if b.get("after") is None]
        if unreported:
            return f"accepted, but the result was not reported for {', '.join(unreported)}"
        still = [str(b.get("name")) for b in rows if b.get("after") != "closed"]
        if still:
            return f"still not closed: {', '.join(still)}"
    return None


def describe_outcome(action: str, target: str | None, result: dict[str, Any]) -> str:
    """One line for the status bar about a finished recovery action: what it changed, or
    "failed" with the reason when it did not achieve what it is for (``failure_of``)."""
    label = LABELS.get(action, action)
    on = f" ({target})" if target else ""
    failure = failure_of(action, result)
    if failure is not None:
        return f"{label}{on} failed: {failure}"
    if action == "reset_breaker":
        changed = result.get("breakers", [])
        parts = [f"{b['name']} {b['before']} -> {b['after']}" for b in changed
                 if b["before"] != b["after"]]
        return f"{label}: " + (", ".join(parts) if parts else "already closed")
    if action == "clear_auth_cache":
        cleared = result.get("cleared", {})
        return (f"{label}: {cleared.get('cached', 0)} cached and "
                f"{cleared.get('failed', 0)} failed tokens removed")
    if action == "probe_all":
        return (f"{label}: {result.get('results', 0)} targets probed, "
                f"{result.get('answered', 0)} answered")
    if action == "probe_now":
        return f"{label}{on}: {result.get('before')} -> {result.get('after')}"
    if action == "diagnose":
        return f"{label}{on}: {str(result.get('status', '?')).upper()}: {result.get('summary')}"
    if action == "reconnect_database":
        after = result.get("after") or {}
        return f"{label}: database {after.get('status')} ({after.get('mode')} mode)"
    return f"{label}{on}: finished"


class ActionRunner(QObject):
    """Runs ``RecoveryActions.run`` as owned tasks; reports on ``finished``/``busyChanged``."""

    finished = Signal(str)  # one status-bar line
    recorded = Signal(object)  # the same outcome as an ActionRecord
    #: (action, target or None, result dict: always has ``ok``, and ``reason`` when false)
    resultReady = Signal(str, object, object)  # noqa: N815 - Qt signal naming
    busyChanged = Signal(bool)  # noqa: N815 - Qt signal naming

    def __init__(self, recovery: RecoveryActions, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.recovery = recovery
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def busy(self) -> bool:
        """Whether an action is still running."""
        return bool(self._tasks)

    def run(self, action: str, target: str | None = None) -> asyncio.Task[None] | None:
        """Start ``action`` (on ``target``); returns its task (None once closed)."""
        if self._closed:
            return None
        task = asyncio.get_running_loop().create_task(
            self._run(action, target), name=f"gui-action:{action}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        if len(self._tasks) == 1:
            self.busyChanged.emit(True)
        return task

    async def wait_idle(self) -> None:
        """Wait until every running action has ended."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel the actions still running and wait for them."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, action: str, target: str | None) -> None:
        try:
            result = await self.recovery.run(action, target=target)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _log.warning("recovery %s failed: %s", action, exc)
            self._emit(action, target, False, f"{LABELS.get(action, action)} failed: {exc}")
            self.resultReady.emit(action, target, {"ok": False, "reason": str(exc)})
            return
        self._emit(action, target, failure_of(action, result) is None,
                   describe_outcome(action, target, result))
        self.resultReady.emit(action, target, result)

    def _emit(self, action: str, target: str | None, ok: bool, text: str) -> None:
        self.recorded.emit(ActionRecord(datetime.now(UTC), LOCAL_BACKEND, action, target,
                                        ok, text))
        self.finished.emit(text)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks and not self._closed:
            self.busyChanged.emit(False)
