"""Remote backends in the console: one ``BackendPoller`` per ``[[remotes]]`` entry.

A poller owns a ``core.remote.RemoteBackend`` and one task that fetches the backend's
status snapshot on its own interval, backing off (doubling, capped) while calls fail; a
backend that never answers costs a pending task, never the event loop. Recovery actions
run as owned tasks too, and each outcome is announced as an ``ActionRecord``.
``Backends`` keeps the pollers of a config and replaces them when the config changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from core.config import RemoteSettings
from core.errors import NETWORK_KINDS, ErrorKind
from core.retry import strategy

from .actions import LABELS, ActionRecord, describe_outcome, failure_of

if TYPE_CHECKING:  # imported by the first poller: the client pulls in httpx
    from core.remote import RemoteResult

__all__ = ["REMOTE_ACTIONS", "BackendPoller", "Backends", "describe_remote",
           "remote_state"]

_log = logging.getLogger("netmon.gui")

#: The recovery actions a remote backend has endpoints for.
REMOTE_ACTIONS = frozenset({"reset_breaker", "clear_auth_cache"})
MAX_BACKOFF_S = 300.0


def remote_state(result: RemoteResult | None) -> str:
    """A word for the selector's dot: ``waiting``, the backend's overall status, or why
    there is none (``unreachable``, ``refused`` for a token problem, ``unreadable``)."""
    if result is None:
        return "waiting"
    if result.ok:
        status = result.data.get("status") if isinstance(result.data, dict) else None
        return str(status) if status else "unknown"
    if result.error_kind in NETWORK_KINDS or result.error_kind is ErrorKind.CIRCUIT_OPEN:
        return "unreachable"
    if result.error_kind is ErrorKind.AUTH_FAILED:
        return "refused"
    return "unreadable"


def describe_remote(backend: str, action: str, target: str | None,
                    result: RemoteResult) -> str:
    """One line about a remote action: what the backend says it changed, or the failure
    (HTTP status and reason, or the network error) in words."""
    if result.ok:
        if not isinstance(result.data, dict):
            return (f"{backend}: {LABELS.get(action, action)} accepted; the backend did not "
                    "say what changed")
        return f"{backend}: {describe_outcome(action, target, result.data)}"
    label = LABELS.get(action, action) + (f" ({target})" if target else "")
    how = f"HTTP {result.status_code}" if result.status_code else str(result.error_kind)
    return f"{backend}: {label} failed ({how}): {result.error}"


class BackendPoller(QObject):
    """Polls one remote backend's status; runs its recovery actions."""

    updated = Signal()  # a new answer (or failure) from the status endpoint
    actionFinished = Signal(object)  # noqa: N815 - an ActionRecord
    busyChanged = Signal(bool)  # noqa: N815

    def __init__(self, settings: RemoteSettings, *, interval_s: float | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.name = settings.name
        self.interval_s = interval_s if interval_s is not None else settings.interval_s
        # One attempt per poll: the poller's interval and backoff do the retrying, so a
        # dead backend turns red after one timeout, not after a retry loop.
        from core.remote import RemoteBackend

        self.backend = RemoteBackend(
            settings.name, settings.url, token=settings.token, verify_tls=settings.verify_tls,
            ca_file=settings.ca_file, timeout_s=settings.timeout_s,
            get_policy=strategy("http", max_attempts=1, attempt_timeout=3 * settings.timeout_s))
        self.last: RemoteResult | None = None
        self.last_answer_at: datetime | None = None  # wall time of the last readable answer
        self.failures = 0
        self.polls = 0
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._actions: set[asyncio.Task[None]] = set()
        self._closed = False

    # --- state -----------------------------------------------------------------------
    @property
    def state(self) -> str:
        """See ``remote_state``."""
        return remote_state(self.last)

    @property
    def snapshot(self) -> dict[str, Any] | None:
        """The last status snapshot, when the last call gave a readable one."""
        if self.last is not None and self.last.ok and isinstance(self.last.data, dict):
            return self.last.data
        return None

    @property
    def next_delay_s(self) -> float:
        """Seconds until the next poll: the interval, doubled per failure in a row."""
        if not self.failures:
            return self.interval_s
        return float(min(self.interval_s * 2.0 ** min(self.failures, 10),
                         max(self.interval_s, MAX_BACKOFF_S)))

    @property
    def busy(self) -> bool:
        """Whether an action is running."""
        return bool(self._actions)

    # --- polling ---------------------------------------------------------------------
    def start(self) -> None:
        """Begin polling (on the running loop)."""
        if self._loop_task is None and not self._closed:
            self._loop_task = asyncio.get_running_loop().create_task(
                self._poll_forever(), name=f"gui-remote-poll:{self.name}")

    def poll_soon(self) -> None:
        """Poll now instead of waiting for the interval."""
        self._wake.set()

    async def poll(self) -> RemoteResult:
        """One status call; updates the state and emits ``updated``."""
        result = await self.backend.status()
        if self._closed:
            return result
        self.polls += 1
        self.last = result
        if result.ok:
            self.failures = 0
            self.last_answer_at = datetime.now(UTC)
        else:
            self.failures += 1
        self.updated.emit()
        return result

    async def _poll_forever(self) -> None:
        while not self._closed:
            self._wake.clear()
            await self.poll()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.next_delay_s):
                    await self._wake.wait()

    # --- actions ---------------------------------------------------------------------
    def run(self, action: str, target: str | None = None) -> asyncio.Task[None] | None:
        """Send ``action`` to the backend's endpoint; None once closed or not offered."""
        if self._closed or action not in REMOTE_ACTIONS:
            return None
        task = asyncio.get_running_loop().create_task(
            self._run(action, target), name=f"gui-remote-action:{self.name}:{action}")
        self._actions.add(task)
        task.add_done_callback(self._action_done)
        if len(self._actions) == 1:
            self.busyChanged.emit(True)
        return task

    async def _run(self, action: str, target: str | None) -> None:
        if action == "reset_breaker":
            result = await self.backend.reset_breaker(target)
        else:
            result = await self.backend.clear_auth_cache()
        text = describe_remote(self.name, action, target, result)
        ok = result.ok and isinstance(result.data, dict) and failure_of(action, result.data) is None
        _log.info("RESILIENT: remote action %s", text)
        self.actionFinished.emit(ActionRecord(datetime.now(UTC), self.name, action, target,
                                              ok, text))
        self.poll_soon()

    def _action_done(self, task: asyncio.Task[None]) -> None:
        self._actions.discard(task)
        if not self._actions and not self._closed:
            self.busyChanged.emit(False)

    async def wait_idle(self) -> None:
        """Wait until every running action has ended."""
        while self._actions:
            await asyncio.gather(*self._actions, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop polling, cancel running actions, close the HTTP client (idempotent)."""
        self._closed = True
        tasks = [t for t in (self._loop_task, *self._actions) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.backend.aclose()


class Backends(QObject):
    """The pollers of a config's ``[[remotes]]``, by name, in config order."""

    changed = Signal()  # the set of backends changed
    updated = Signal(str)  # a backend's state changed (its name)
    actionFinished = Signal(object)  # noqa: N815 - an ActionRecord
    busyChanged = Signal(str, bool)  # noqa: N815 - backend name, busy

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pollers: dict[str, BackendPoller] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def set_remotes(self, remotes: list[RemoteSettings], *, start: bool = True) -> None:
        """Keep pollers whose settings did not change; replace or drop the others."""
        wanted = {r.name: r for r in remotes}
        for name, poller in list(self.pollers.items()):
            if wanted.get(name) != poller.settings:
                del self.pollers[name]
                self._close_later(poller)
        pollers: dict[str, BackendPoller] = {}
        for settings in remotes:
            kept = self.pollers.get(settings.name)
            if kept is None:
                kept = self._make(settings)
                if start:
                    kept.start()
            pollers[settings.name] = kept
        self.pollers = pollers
        self.changed.emit()

    def add(self, settings: RemoteSettings, *, start: bool = True) -> BackendPoller:
        """Add (or replace) one backend, e.g. from ``--remote URL``."""
        self.set_remotes([*[p.settings for p in self.pollers.values()
                            if p.name != settings.name], settings], start=start)
        return self.pollers[settings.name]

    def get(self, name: str | None) -> BackendPoller | None:
        """The poller called ``name``."""
        return self.pollers.get(name) if name else None

    def _make(self, settings: RemoteSettings) -> BackendPoller:
        poller = BackendPoller(settings, parent=self)
        poller.updated.connect(lambda n=settings.name: self.updated.emit(n))
        poller.actionFinished.connect(self.actionFinished.emit)
        poller.busyChanged.connect(lambda busy, n=settings.name: self.busyChanged.emit(n, busy))
        return poller

    def _close_later(self, poller: BackendPoller) -> None:
        task = asyncio.get_running_loop().create_task(poller.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Close every poller."""
        pollers, self.pollers = list(self.pollers.values()), {}
        await asyncio.gather(*(p.aclose() for p in pollers), *self._closing,
                             return_exceptions=True)
