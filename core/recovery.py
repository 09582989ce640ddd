"""Recovery actions with an audit trail, and the suggestion rules.

Every action returns the state before and after, and is recorded (time, action, origin
``local`` or ``remote``, the caller's subject, result) in a bounded in-memory trail and,
when a history store is attached, in its ``audit`` table.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from .auth import ResilientAuthService
from .breaker import BreakerState, CircuitBreaker
from .clock import Clock, SystemClock
from .errors import ErrorKind
from .events import Event
from .history import HistoryStore
from .log import PREFIX_RESILIENT
from .monitor import HealthMonitor, TargetState
from .probes.base import iso_utc

__all__ = ["ACTIONS", "AuditEntry", "Origin", "Reconnectable", "RecoveryActions", "suggest"]

_log = logging.getLogger("netmon.recovery")

#: Actions a button or an endpoint can name.
ACTIONS = ("reset_breaker", "clear_auth_cache", "reconnect_database", "probe_all")

_DNS_KINDS = frozenset({ErrorKind.DNS_NOT_FOUND, ErrorKind.DNS_TEMPORARY, ErrorKind.DNS_NO_DATA,
                        ErrorKind.DNS_FAILURE, ErrorKind.DNS_TIMEOUT})
_OPEN = (BreakerState.OPEN, BreakerState.FORCED_OPEN)


class Origin(StrEnum):
    """Who asked for a recovery action."""

    LOCAL = "local"
    REMOTE = "remote"


class Reconnectable(Protocol):
    """What recovery needs of the database layer."""

    async def reconnect(self) -> Mapping[str, Any]:
        """Close and reopen the pool; returns {"before": ..., "after": ...}."""
        ...

    def health(self) -> Mapping[str, Any]:
        """The ``database`` part of the snapshot."""
        ...


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recovery action as it happened."""

    ts: datetime
    action: str
    origin: Origin
    subject: str | None
    ok: bool
    detail: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"ts": iso_utc(self.ts), "action": self.action, "origin": str(self.origin),
                "subject": self.subject, "ok": self.ok, "detail": dict(self.detail)}


@dataclass
class RecoveryActions:
    """The recovery buttons and endpoints, over whatever parts of the core are running."""

    breakers: Mapping[str, CircuitBreaker] = field(default_factory=dict)
    auth: ResilientAuthService | None = None
    database: Reconnectable | None = None
    monitor: HealthMonitor | None = None
    history: HistoryStore | None = None
    clock: Clock = field(default_factory=SystemClock)
    audited: Event[AuditEntry] = field(default_factory=lambda: Event("recovery.audited"))
    trail: deque[AuditEntry] = field(default_factory=lambda: deque(maxlen=500))

    async def run(self, action: str, *, target: str | None = None,
                  origin: Origin = Origin.LOCAL, subject: str | None = None) -> dict[str, Any]:
        """Run the action named ``action`` (one of ``ACTIONS``)."""
        handlers: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
            "reset_breaker": lambda: self._reset_breaker(target),
            "clear_auth_cache": self._clear_auth_cache,
            "reconnect_database": self._reconnect_database,
            "probe_all": self._probe_all,
        }
        if action not in handlers:
            raise KeyError(f"unknown recovery action {action!r}; known: {', '.join(ACTIONS)}")
        try:
            result = await handlers[action]()
        except Exception as exc:
            await self._audit(action, origin, subject, False,
                              {"error": f"{type(exc).__name__}: {exc}", "target": target})
            raise
        await self._audit(action, origin, subject, True, result)
        return result

    async def audit_refused(self, action: str, *, origin: Origin, subject: str | None,
                            reason: str) -> None:
        """Record a call to ``action`` refused before it ran (no or a bad token, a role)."""
        await self._audit(action, origin, subject, False, {"refused": reason})

    async def reset_breaker(self, name: str | None = None, **who: Any) -> dict[str, Any]:
        """Reset breaker ``name``, or every breaker."""
        return await self.run("reset_breaker", target=name, **who)

    async def clear_auth_cache(self, **who: Any) -> dict[str, Any]:
        """Forget cached and failed tokens."""
        return await self.run("clear_auth_cache", **who)

    async def reconnect_database(self, **who: Any) -> dict[str, Any]:
        """Close and reopen the database pool."""
        return await self.run("reconnect_database", **who)

    async def probe_all(self, **who: Any) -> dict[str, Any]:
        """Probe every target now."""
        return await self.run("probe_all", **who)

    async def _reset_breaker(self, name: str | None) -> dict[str, Any]:
        if name is not None and name not in self.breakers:
            raise KeyError(f"no breaker named {name!r}; known: "
                           f"{', '.join(sorted(self.breakers)) or 'none'}")
        chosen = [self.breakers[name]] if name is not None else list(self.breakers.values())
        changed = []
        for breaker in chosen:
            before = breaker.reset()
            changed.append({"name": breaker.name, "before": str(before),
                            "after": str(breaker.state)})
        return {"breakers": changed}

    async def _clear_auth_cache(self) -> dict[str, Any]:
        if self.auth is None:
            return {"cleared": {"cached": 0, "failed": 0}, "note": "no auth service configured"}
        before = self.auth.stats()
        cleared = self.auth.clear_cache()
        after = self.auth.stats()
        return {"cleared": cleared,
                "before": {k: before[k] for k in ("cached_tokens", "failed_tokens")},
                "after": {k: after[k] for k in ("cached_tokens", "failed_tokens")}}

    async def _reconnect_database(self) -> dict[str, Any]:
        if self.database is None:
            return {"note": "no database layer configured"}
        return dict(await self.database.reconnect())

    async def _probe_all(self) -> dict[str, Any]:
        if self.monitor is None:
            return {"note": "no monitor running", "results": 0}
        before = {n: str(s.status) for n, s in self.monitor.states.items()}
        results = await self.monitor.run_once()
        after = {n: str(s.status) for n, s in self.monitor.states.items()}
        return {"results": len(results), "before": before, "after": after}

    async def _audit(self, action: str, origin: Origin, subject: str | None, ok: bool,
                     detail: Mapping[str, Any]) -> None:
        entry = AuditEntry(self.clock.now(), action, origin, subject, ok, detail)
        self.trail.append(entry)
        _log.info("%s recovery %s by %s%s: %s", PREFIX_RESILIENT, action, origin,
                  f" ({subject})" if subject else "", "ok" if ok else "failed")
        if self.history is not None:
            try:
                await self.history.add_audit(entry.as_dict() | {"ts": entry.ts})
            except (RuntimeError, sqlite3.Error) as exc:  # closed, not started or locked: the
                # action already happened; keep the memory copy and say so
                _log.warning("%s audit not persisted: %s", PREFIX_RESILIENT, exc)
        self.audited.emit(entry)


# --- suggestions ------------------------------------------------------------------------
def _suggestion(id_: str, severity: str, title: str, detail: str,
                action: str | None = None, target: str | None = None) -> dict[str, Any]:
    return {"id": id_, "severity": severity, "title": title, "detail": detail,
            "action": action, "target": target}


def _targets_of(breaker: CircuitBreaker, states: Iterable[TargetState]) -> list[TargetState]:
    return [s for s in states if (s.target.breaker or s.name) == breaker.name]


def suggest(
    *,
    monitor: HealthMonitor | None = None,
    breakers: Iterable[CircuitBreaker] = (),
    auth: Mapping[str, Any] | None = None,
    database: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """What an operator should look at and do, most severe first."""
    out: list[dict[str, Any]] = []
    states = list(monitor.states.values()) if monitor is not None else []
    local = monitor.local_network if monitor is not None else None
    if local is not None and local.active:
        out.append(_suggestion(
            "local_network_down", "critical", "The local network appears down",
            f"{local.detail}. Check the cable or Wi-Fi, the VPN client and the default "
            "gateway before chasing individual services."))
    for breaker in breakers:
        stats = breaker.stats()
        if stats.state not in _OPEN:
            continue
        linked = _targets_of(breaker, states)
        if linked and all(s.last is not None and s.last.ok for s in linked):
            out.append(_suggestion(
                f"breaker_open_probes_ok:{breaker.name}", "warning",
                f"Circuit '{breaker.name}' is open but its dependency answers again",
                "Health probes succeed; reset the breaker to let calls through now.",
                "reset_breaker", breaker.name))
        elif any(s.last is not None and s.last.error_kind in _DNS_KINDS for s in linked):
            out.append(_suggestion(
                f"breaker_open_dns:{breaker.name}", "critical",
                f"Circuit '{breaker.name}' is open after DNS failures",
                "Name resolution fails for this dependency: check DNS, the VPN (split DNS) "
                "and the hosts file; `netmon diagnose HOST` shows which layer fails."))
        else:
            out.append(_suggestion(
                f"breaker_open:{breaker.name}", "warning", f"Circuit '{breaker.name}' is open",
                f"Calls are refused until "
                f"{iso_utc(stats.retry_at) if stats.retry_at else 'it is reset'}; fix the cause, "
                "wait for the half-open trial, or reset it."))
    for state in states:
        last = state.last
        if last is None or last.ok:
            continue
        if last.degraded:
            out.append(_suggestion(
                f"os_resolver_only:{state.name}", "warning",
                f"{state.name}: the OS resolver fails while direct resolvers answer",
                "Likely the local resolver, VPN split DNS or the hosts file. Flush the DNS "
                f"cache and run `netmon diagnose {state.target.host or state.name}`.",
                target=state.name))
        elif last.error_kind is ErrorKind.TLS_ERROR:
            out.append(_suggestion(
                f"tls_error:{state.name}", "warning", f"{state.name}: TLS errors",
                "Check this machine's clock, the certificate chain and any TLS-inspecting "
                "proxy (a corporate CA may need ca_file).", target=state.name))
        elif last.error_kind is ErrorKind.AUTH_FAILED and state.target.kind == "postgres":
            out.append(_suggestion(
                f"db_auth_failed:{state.name}", "critical",
                f"{state.name}: the database rejects the credentials",
                "Check the user in the DSN and the password in the keyring entry "
                f"({state.target.password.describe()}).", target=state.name))
    if database is not None:
        if database.get("mode") == "emergency":
            out.append(_suggestion(
                "db_emergency_mode", "warning", "Database layer in emergency mode",
                "It could not connect normally and runs a minimal pool while it retries in "
                "the background; reconnect once the database is reachable.",
                "reconnect_database"))
        if database.get("last_error_kind") == ErrorKind.AUTH_FAILED:
            out.append(_suggestion(
                "db_auth_failed", "critical", "The database rejects the credentials",
                "Check the database user and the password stored in the keyring."))
    if auth is not None and (auth.get("failed_tokens", 0) >= 10
                             or auth.get("failed_attempts", 0) >= 50):
        out.append(_suggestion(
            "failed_tokens", "warning", "Failed tokens are piling up",
            f"{auth.get('failed_tokens')} distinct tokens refused "
            f"({auth.get('failed_attempts')} attempts): clients are sending bad or expired "
            "tokens. Once they are fixed, clear the cache so retries are checked afresh.",
            "clear_auth_cache"))
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda s: order[s["severity"]])

