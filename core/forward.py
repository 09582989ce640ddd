"""Forwarding notices to chat or mail through apprise (the optional ``notify`` extra).

A destination is a name (``[notifications] forward = ["ops-chat"]``); its apprise URL, with
whatever token the service puts in it, lives in the OS keyring (entry ``netmon/forward/<name>``,
see ``core.config.forward_entry``) or, for a service account without a keyring, in an
environment variable (``NETMON_FORWARD_OPS_CHAT``, see ``core.config.forward_env``): the
keyring is asked first, the variable serves when the keyring holds nothing or no keyring
backend exists. Results and the log say which of the two was used, never the URL.

apprise (about half a second to import, more to load its plug-ins) is imported on the first
send, in a worker thread: a console that forwards nothing never loads it, and a send never
blocks the event loop.

Each send has a deadline and ends in a ``ForwardResult`` (ok, or failed with a reason):
logged by name and service (the URL never is), kept in ``trail``, emitted on ``sent`` for
the Events tab and, with a history store, kept in its audit table. Nothing here raises to
the caller: a dead chat server must not break the monitor or the next notice.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import re
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from .clock import Clock, SystemClock
from .config import forward_entry, forward_env
from .events import Event
from .history import HistoryStore
from .log import printable, redact
from .notify import Notice
from .probes.base import iso_utc
from .secrets import SecretRef

__all__ = ["ForwardResult", "Forwarder", "apprise_available", "lookup_url", "send_url",
           "usable_services"]

_log = logging.getLogger("netmon.forward")

PREFIX = "NOTIFY:"
TEST_TITLE = "netmon test notification"
TEST_BODY = "If you can read this, netmon can reach this destination."
_TYPES = {"critical": "failure", "warning": "warning", "info": "success"}
_ERRNO = re.compile(r"\[Errno -?\d+\] [A-Za-z][A-Za-z ]*")
_URL_PIECES = re.compile(r"[/:@?&=#,]+")
_T = TypeVar("_T")
_MISSING = "apprise is not installed; install netmon's notify extra (pip install netmon[notify])"


@dataclass(frozen=True, slots=True)
class ForwardResult:
    """What became of one notice sent to one destination (``service``: the URL's scheme;
    ``source``: where the URL came from, "" when nowhere)."""

    destination: str
    service: str
    ok: bool
    reason: str  # "" when ok
    title: str
    at: datetime
    source: str = ""

    @property
    def where(self) -> str:
        """``ops-chat (json)``: the destination and its service, as shown to the operator."""
        return f"{self.destination} ({self.service})" if self.service else self.destination

    @property
    def detail(self) -> str:
        """The notice's title, and why the send failed."""
        return self.title if self.ok else f"{self.title}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"destination": self.destination, "service": self.service, "ok": self.ok,
                "reason": self.reason, "title": self.title, "at": iso_utc(self.at),
                "source": self.source}


def apprise_available() -> bool:
    """True when apprise can be imported (without importing it)."""
    return importlib.util.find_spec("apprise") is not None


def lookup_url(name: str) -> tuple[str, str] | None:
    """Blocking: destination ``name``'s apprise URL and where it was found (its keyring
    entry first, else its environment variable), or None."""
    return SecretRef(keyring=forward_entry(name), env=forward_env(name)).find()


def _missing_url(name: str) -> str:
    """Why destination ``name`` cannot be sent to when no URL was found, and the fix."""
    entry, env = forward_entry(name), forward_env(name)
    return (f"no URL for destination '{name}': neither keyring entry '{entry}' nor "
            f"environment variable {env} holds one; store it in Settings > Notifications "
            f"(or: keyring set {entry.rpartition('/')[0]} {name}), or set {env} where there "
            "is no keyring (a service account)")


def _scrub(text: str, url: str) -> str:
    """``text`` without any long piece of ``url`` but host names (pieces with a dot): a
    token may be the host (``tgram://bottoken/chat``), a path segment or a parameter."""
    rest = url.partition("://")[2]
    for piece in sorted(_URL_PIECES.split(rest), key=len, reverse=True):
        if len(piece) >= 4 and "." not in piece:
            text = text.replace(piece, "***")
    return printable(redact(text))


def _apprise() -> Any:
    """apprise, imported once; its own log (which prints URLs and payloads at debug level)
    is kept out of netmon's handlers: each send's messages come back through
    ``log_callback`` (debug level included, for the socket error's errno)."""
    import apprise

    logger = logging.getLogger("apprise")
    if logger.propagate:
        logger.propagate = False
        logger.addHandler(logging.NullHandler())
        logger.setLevel(logging.DEBUG)
    return apprise


def usable_services() -> int:
    """Blocking: how many services apprise can send to here (its plug-ins whose requirements
    are met); 0 without apprise."""
    if not apprise_available():
        return 0
    return len(_apprise().Apprise().details()["schemas"])


def send_url(url: str, title: str, body: str, severity: str, timeout_s: float) -> str:
    """Blocking: send one message to apprise ``url``; "" when apprise reported success,
    else the reason (with nothing of the URL but its scheme and host names)."""
    if not apprise_available():
        return _MISSING
    apprise = _apprise()
    app = apprise.Apprise()
    if not app.add(url):
        return "apprise does not understand this URL (unknown service or malformed)"
    warnings: list[str] = []
    errnos: list[str] = []

    def collect(entry: Any, _plugin: Any) -> None:
        if entry.level in ("WARNING", "ERROR", "CRITICAL"):
            warnings.append(str(entry.message))
        errnos.extend(_ERRNO.findall(str(entry.message)))

    result = app.notify(body, title=title, notify_type=_TYPES.get(severity, "info"),
                        timeout=timeout_s, log_level=logging.DEBUG, log_callback=collect)
    if result:
        return ""
    status = getattr(getattr(result, "status", None), "name", "FAILURE").lower()
    why = " ".join(dict.fromkeys(warnings)) or f"apprise reported {status}"
    if errnos:
        why += f" ({errnos[-1].strip()})"
    return _scrub(why, url)


def _service(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep and scheme.isalnum() else ""


#: the name of every task that sends a notice starts with this
_SEND_TASK = "forward-notice-"


@dataclass
class Forwarder:
    """Sends notices to the configured destinations, off the loop, each with a deadline."""

    destinations: list[str] = field(default_factory=list)
    timeout_s: float = 15.0
    clock: Clock = field(default_factory=SystemClock)
    history: HistoryStore | None = None
    lookup: Callable[[str], tuple[str, str] | None] = lookup_url
    sent: Event[ForwardResult] = field(default_factory=lambda: Event("forward.sent"))
    trail: deque[ForwardResult] = field(default_factory=lambda: deque(maxlen=500))
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set, init=False, repr=False)

    @property
    def busy(self) -> int:
        """How many notices are still being sent (URL checks not counted)."""
        return sum(not task.done() for task in self._tasks
                   if task.get_name().startswith(_SEND_TASK))

    def configure(self, destinations: Iterable[str], timeout_s: float) -> None:
        """Take the ``[notifications]`` forwarding settings (from the next notice on)."""
        self.destinations = list(destinations)
        self.timeout_s = timeout_s

    def submit(self, notice: Notice) -> asyncio.Task[list[ForwardResult]] | None:
        """Forward ``notice`` in a task this forwarder owns (None: no destinations)."""
        if not self.destinations:
            return None
        return self._own(self.forward(notice), f"{_SEND_TASK}{notice.key}")

    def check_soon(self) -> asyncio.Task[list[tuple[str, str]]] | None:
        """``check()`` in a task this forwarder owns (None: no destinations)."""
        return self._own(self.check(), "forward-check") if self.destinations else None

    async def check(self) -> list[tuple[str, str]]:
        """Look every destination's URL up now and log where it was found (never the URL),
        or warn why it cannot be sent to and the fix; (name, source or "") for each."""
        async def one(name: str) -> tuple[str, str]:
            try:  # a keyring waiting for an unlock prompt must not hold this forever
                found = await asyncio.wait_for(asyncio.to_thread(self.lookup, name),
                                               self.timeout_s)
            except Exception as exc:
                _log.warning("%s destination %s: URL not looked up: %s", PREFIX, name,
                             printable(redact(f"{type(exc).__name__}: {exc}"))[:300])
                return name, ""
            if found is None:
                _log.warning("%s %s", PREFIX, _missing_url(name))
                return name, ""
            _log.info("%s destination %s: URL from %s", PREFIX, name, found[1])
            return name, found[1]

        return list(await asyncio.gather(*(one(name) for name in self.destinations)))

    def _own(self, coro: Coroutine[Any, Any, _T], name: str) -> asyncio.Task[_T]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def forward(self, notice: Notice) -> list[ForwardResult]:
        """Send ``notice`` to every destination at once; one result each."""
        return list(await asyncio.gather(*(
            self._send(name, notice.title, notice.body, notice.severity)
            for name in self.destinations)))

    async def send_test(self, name: str) -> ForwardResult:
        """Send a test message to destination ``name`` (configured or not)."""
        return await self._send(name, TEST_TITLE, TEST_BODY, "info")

    async def aclose(self, grace_s: float = 0.0) -> None:
        """Give the sends in flight up to ``grace_s`` to finish (their results recorded),
        then cancel and await the rest (a worker thread finishes on its own, bounded by the
        send's timeout)."""
        tasks = list(self._tasks)
        if tasks and grace_s > 0:
            await asyncio.wait(tasks, timeout=grace_s)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _send(self, name: str, title: str, body: str, severity: str) -> ForwardResult:
        service = source = ""

        def run() -> str:
            nonlocal service, source
            found = self.lookup(name)
            if found is None:
                return _missing_url(name)
            url, source = found
            service = _service(url)
            return send_url(url, title, body, severity, self.timeout_s)

        try:  # the thread's own deadline is timeout_s; this one covers import and lookup
            reason = await asyncio.wait_for(asyncio.to_thread(run), self.timeout_s + 30)
        except TimeoutError:
            reason = f"no answer within {self.timeout_s + 30:g} s"
        except Exception as exc:  # apprise or keyring failing must not break notices
            reason = printable(redact(f"{type(exc).__name__}: {exc}"))[:300]
        result = ForwardResult(name, service, not reason, reason, title, self.clock.now(),
                               source)
        await self._record(result)
        return result

    async def _record(self, result: ForwardResult) -> None:
        where = f"{result.destination} ({result.service or 'unknown service'}"
        where += f", URL from {result.source})" if result.source else ")"
        if result.ok:
            _log.info("%s forwarded %r to %s: sent", PREFIX, printable(result.title), where)
        else:
            _log.warning("%s forwarding %r to %s failed: %s", PREFIX,
                         printable(result.title), where, result.reason)
        self.trail.append(result)
        if self.history is not None:
            try:
                await self.history.add_audit({
                    "ts": result.at, "action": "forward_notice", "origin": "local",
                    "subject": result.destination, "ok": result.ok,
                    "detail": {"service": result.service, "title": result.title,
                               "reason": result.reason}})
            except Exception as exc:  # the send happened; only its record is lost
                _log.warning("%s forward result not persisted: %s", PREFIX,
                             printable(str(exc)))
        self.sent.emit(result)
