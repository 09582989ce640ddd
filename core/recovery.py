"""Recovery actions with an audit trail, and the suggestion rules.

Every action returns what happened: ``ok`` (did it achieve what it is for, as measured
afterwards), ``reason`` when it did not, and the state before and after. Each is recorded
(time, action, origin ``local`` or ``remote``, the caller's subject, ok or failed) in a
bounded in-memory trail and, when a history store is attached, in its ``audit`` table.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from .breaker import BreakerState, CircuitBreaker
from .clock import Clock, SystemClock
from .endpoints import endpoint
from .errors import ErrorKind, kind_info
from .events import Event
from .history import HistoryStore
from .log import PREFIX_RESILIENT
from .monitor import HealthMonitor, TargetState, TargetStatus, breaker_key
from .probes.base import iso_utc

if TYPE_CHECKING:  # only when [auth] is configured (it pulls in httpx and PyJWT)
    from .auth import ResilientAuthService

__all__ = [
    "ACTIONS",
    "AuditEntry",
    "Origin",
    "Reconnectable",
    "RecoveryActions",
    "suggest",
    "target_suggestion",
]

_log = logging.getLogger("netmon.recovery")

#: Actions a button or an endpoint can name (``probe_now`` and ``diagnose`` take a target).
ACTIONS = ("reset_breaker", "clear_auth_cache", "reconnect_database", "probe_all", "probe_now",
           "diagnose")

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
        """Close and reopen the pool; returns {"ok", "before", "after"} (and the error)."""
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
        """Run the action named ``action`` (one of ``ACTIONS``); the result always has ``ok``
        (and ``reason`` when false). Unknown actions or names raise KeyError."""
        handlers: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
            "reset_breaker": lambda: self._reset_breaker(target),
            "clear_auth_cache": self._clear_auth_cache,
            "reconnect_database": self._reconnect_database,
            "probe_all": self._probe_all,
            "probe_now": lambda: self._probe_now(target),
            "diagnose": lambda: self._diagnose(target),
        }
        if action not in handlers:
            raise KeyError(f"unknown recovery action {action!r}; known: {', '.join(ACTIONS)}")
        try:
            result = await handlers[action]()
        except Exception as exc:
            await self._audit(action, origin, subject, False,
                              {"error": f"{type(exc).__name__}: {exc}", "target": target})
            raise
        await self._audit(action, origin, subject, bool(result["ok"]), result)
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

    async def probe_now(self, name: str, **who: Any) -> dict[str, Any]:
        """Probe one target now."""
        return await self.run("probe_now", target=name, **who)

    async def diagnose(self, name: str, **who: Any) -> dict[str, Any]:
        """Diagnose one target's host layer by layer (hosts file, resolvers, TCP, proxy)."""
        return await self.run("diagnose", target=name, **who)

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
        still_open = [c["name"] for c in changed if c["after"] != str(BreakerState.CLOSED)]
        if not chosen:
            return _failed("no breakers configured", breakers=[])
        if still_open:
            return _failed(f"still not closed: {', '.join(still_open)}", breakers=changed)
        return {"ok": True, "breakers": changed}

    async def _clear_auth_cache(self) -> dict[str, Any]:
        if self.auth is None:
            return _failed("no auth service configured ([auth] names no server or secret)",
                           cleared={"cached": 0, "failed": 0})
        before = self.auth.stats()
        cleared = self.auth.clear_cache()
        after = self.auth.stats()
        counts = {k: after[k] for k in ("cached_tokens", "failed_tokens")}
        result = {"cleared": cleared,
                  "before": {k: before[k] for k in ("cached_tokens", "failed_tokens")},
                  "after": counts}
        if any(counts.values()):
            return _failed(f"tokens remain after clearing: {counts}", **result)
        return {"ok": True, **result}

    async def _reconnect_database(self) -> dict[str, Any]:
        if self.database is None:
            return _failed("no database layer configured ([database] target is empty)")
        result = dict(await self.database.reconnect())
        after = result.get("after") or {}
        ok = bool(result.get("ok", after.get("status") == "up"))
        if ok:
            return {**result, "ok": True}
        error = result.get("error") or after.get("last_error") or "the pool did not open"
        return _failed(f"database {after.get('status', 'unreachable')}: {error}",
                       **{k: v for k, v in result.items() if k not in ("ok", "reason")})

    async def _probe_all(self) -> dict[str, Any]:
        if self.monitor is None:
            return _failed("no monitor running", results=0)
        before = {n: str(s.status) for n, s in self.monitor.states.items()}
        results = await self.monitor.run_once()
        after = {n: str(s.status) for n, s in self.monitor.states.items()}
        answered = sum(1 for r in results if r.ok)
        # The action is probing: it succeeded once every probe has a result, whatever
        # the targets answered (that is in "after").
        return {"ok": True, "results": len(results), "answered": answered,
                "before": before, "after": after}

    async def _probe_now(self, name: str | None) -> dict[str, Any]:
        monitor, state = self._enabled_target(name, "probe_now")
        before = str(state.status)
        result = await monitor.probe_now(state.name)
        return {"ok": True, "target": state.name, "before": before, "after": str(state.status),
                "result": result.as_dict() | {"details": {}}, "reason_after": state.reason}

    def _enabled_target(self, name: str | None, action: str
                        ) -> tuple[HealthMonitor, TargetState]:
        monitor = self.monitor
        state = monitor.states.get(name or "") if monitor is not None else None
        if monitor is None or state is None:
            raise KeyError(f"{action} needs the name of an enabled target, not {name!r}")
        return monitor, state

    async def _diagnose(self, name: str | None) -> dict[str, Any]:
        from .diagnose import diagnose  # its layers pull in dnspython and the environment

        _, state = self._enabled_target(name, "diagnose")
        target = state.target
        where = target.url if target.kind in ("http", "supabase") else str(endpoint(target))
        timeout = min(target.timeout_s or 3.0, 10.0)
        found = await diagnose(where, nameservers=target.nameservers,
                               include_system=target.system_nameservers, timeout=timeout,
                               clock=self.clock)
        verdict = found.verdict
        return {"ok": True, "target": state.name, "status": verdict.status,
                "summary": verdict.summary, "next_steps": list(verdict.next_steps),
                "diagnosis": found.as_dict(), "report": found.render_text()}

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


def _failed(reason: str, **fields: Any) -> dict[str, Any]:
    return {"ok": False, "reason": reason, **fields}


# --- suggestions ------------------------------------------------------------------------
def _suggestion(id_: str, severity: str, title: str, detail: str,
                action: str | None = None, target: str | None = None) -> dict[str, Any]:
    return {"id": id_, "severity": severity, "title": title, "detail": detail,
            "action": action, "target": target}


_NOT_UP = frozenset({TargetStatus.DOWN, TargetStatus.DEGRADED})


def _failing(state: TargetState) -> bool:
    last = state.last
    return state.status in _NOT_UP or (last is not None and not last.ok)


def suggest(
    *,
    monitor: HealthMonitor | None = None,
    breakers: Iterable[CircuitBreaker] = (),
    auth: Mapping[str, Any] | None = None,
    database: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """What an operator should look at and do, most severe first: one suggestion per cause,
    and at least one for every target that is down, degraded or failing."""
    out: list[dict[str, Any]] = []
    states = list(monitor.states.values()) if monitor is not None else []
    by_name = {b.name: b for b in breakers}
    local = monitor.local_network if monitor is not None else None
    if local is not None and local.active:
        out.append(_suggestion(
            "local_network_down", "critical", "The local network appears down",
            f"{local.detail}. Check the cable or Wi-Fi, the VPN client and the default "
            "gateway (`ipconfig /all`, `route print`) before chasing individual services.",
            "probe_all"))
    for state in states:
        if _failing(state):
            out.append(_cached_target_suggestion(state, by_name.get(state.breaker)))
    for breaker in by_name.values():
        if breaker.state not in _OPEN:
            continue
        linked = monitor.targets_of(breaker.name) if monitor is not None else []
        if linked and all(s.last is not None and s.last.ok for s in linked):
            out.append(_suggestion(
                f"breaker_open_probes_ok:{breaker.name}", "warning",
                f"Circuit '{breaker.name}' is open but its dependency answers again",
                f"Health probes of {', '.join(s.name for s in linked)} succeed; reset the "
                "breaker to let calls through now.", "reset_breaker", breaker.name))
        elif not any(_failing(s) for s in linked):  # opened by real calls the probes miss
            stats = breaker.stats()
            until = (f"until {iso_utc(stats.retry_at)}" if stats.retry_at
                     else "until it is reset by hand")
            out.append(_suggestion(
                f"breaker_open:{breaker.name}", "warning", f"Circuit '{breaker.name}' is open",
                f"{stats.consecutive_failures} consecutive failures; calls are refused {until}. "
                "Fix the cause, wait for the half-open trial, or reset it.",
                "reset_breaker", breaker.name))
    if database is not None:
        if database.get("mode") == "emergency":
            out.append(_suggestion(
                "db_emergency_mode", "warning", "Database layer in emergency mode",
                "It could not connect normally and runs a minimal pool while it retries in "
                f"the background (last error: {database.get('last_error') or 'none'}); "
                "reconnect once the database is reachable.", "reconnect_database"))
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


def _cached_target_suggestion(state: TargetState, breaker: CircuitBreaker | None
                              ) -> dict[str, Any]:
    """``target_suggestion``, rebuilt only when what it reads changed (a target failing
    the same way second after second keeps its suggestion)."""
    fingerprint = _suggestion_inputs(state, breaker)
    cached = state.suggestion_cache
    if cached is None or cached[0] != fingerprint:
        cached = state.suggestion_cache = (fingerprint, target_suggestion(state, breaker))
    return dict(cached[1])


def _suggestion_inputs(state: TargetState, breaker: CircuitBreaker | None) -> object:
    """Everything ``target_suggestion`` reads that can change (a state's target is fixed):
    the status, the reason (for a last result that succeeded) or what the last result
    says went wrong, and the breaker's key."""
    last = state.last
    if last is None or (last.ok and not last.degraded):
        seen: object = state.reason
    else:
        seen = (last.ok, last.degraded, last.error_kind, last.error,
                last.details.get("summary"))
    return state.status, seen, breaker_key(breaker)


def target_suggestion(state: TargetState, breaker: CircuitBreaker | None = None
                      ) -> dict[str, Any]:
    """The suggestion for one target that is down, degraded or failing: what was seen
    where, and the next step that fits the error kind."""
    target, last = state.target, state.last
    where = str(endpoint(target))
    down = state.status is TargetStatus.DOWN
    severity = "critical" if down and target.critical else "warning"
    opened = ""
    if breaker is not None and breaker.state in _OPEN:
        stats = breaker.stats()
        retry = f", retries at {iso_utc(stats.retry_at)}" if stats.retry_at else ""
        opened = f" Circuit '{breaker.name}' is {stats.state}{retry}."
    if last is None or (last.ok and not last.degraded):
        if state.reason.startswith("slow"):
            return _suggestion(
                f"slow:{state.name}", "warning", f"{state.name}: slow answers from {where}",
                f"{state.reason}. Check the server's load and the network path; compare "
                "with the latency graph.", "probe_now", state.name)
        return _suggestion(
            f"recovering:{state.name}", "info", f"{state.name}: recovering at {where}",
            f"{state.reason}.{opened}", "probe_now", state.name)
    kind = last.error_kind or ErrorKind.UNKNOWN
    said = last.details.get("summary")
    seen = f"Seen: {said}" if said else f"Seen: {last.error or kind}"
    if last.degraded:
        severity = "warning"
        if last.ok:
            return _suggestion(
                f"nameserver_failing:{state.name}", severity,
                f"{state.name}: a listed nameserver fails for {target.host}",
                f"{seen}. The OS resolver answers, so applications work for now; check that "
                "nameserver (or remove it from the target).", "diagnose", state.name)
        if target.resolver == "direct":
            return _suggestion(
                f"nameserver_failing:{state.name}", severity,
                f"{state.name}: some nameservers fail for {target.host}",
                f"{seen}. Check the failing nameservers' zone and logs.", "diagnose",
                state.name)
        return _suggestion(
            f"os_resolver_only:{state.name}", severity,
            f"{state.name}: the OS resolver fails while direct resolvers answer",
            f"{seen}. Likely the local resolver, VPN split DNS or the hosts file. Flush the "
            f"DNS cache (`ipconfig /flushdns`) and run `netmon diagnose {target.host}`.",
            "diagnose", state.name)
    step, action = _next_step(state, kind, where)
    title = f"{state.name}: {kind_info(kind).title.lower()} at {where}"
    return _suggestion(f"{kind}:{state.name}", severity, title,
                       f"{seen}. {step}{opened}", action, state.name)


def _next_step(state: TargetState, kind: ErrorKind, where: str) -> tuple[str, str]:
    """A concrete next step for ``kind`` at ``where``, and the action that fits it."""
    target = state.target
    point = endpoint(target)
    test = (f"`Test-NetConnection {point.host} -Port {point.port}`" if point.port
            else f"`Test-NetConnection {point.host}`")
    if kind in _DNS_KINDS:
        return (f"Check the name, the hosts file, VPN split DNS and which DNS server this "
                f"machine uses; flush the cache (`ipconfig /flushdns`) and run "
                f"`netmon diagnose {point}`.", "diagnose")
    if kind is ErrorKind.CONNECTION_REFUSED:
        return (f"Nothing listens on {where}: the service is down or a firewall rejects the "
                f"connection. Start or check the service, then {test}.", "probe_now")
    if kind in (ErrorKind.TIMEOUT, ErrorKind.HOST_UNREACHABLE):
        return (f"No answer from {where}: a firewall dropping packets, a VPN route or an "
                f"overloaded server. Try {test} and `tracert {point.host}`.", "diagnose")
    if kind is ErrorKind.NETWORK_UNREACHABLE:
        return (f"This machine has no route to {point.host}: check the link, the VPN and the "
                "default gateway (`route print`).", "diagnose")
    if kind is ErrorKind.CONNECTION_RESET:
        return (f"{where} or a middlebox closed the connection: check proxies, firewalls, "
                "TLS inspection and the server's logs.", "diagnose")
    if kind is ErrorKind.TLS_ERROR:
        return (f"Check this machine's clock, the certificate of {point.host} (expiry, name, "
                "chain) and any TLS-inspecting proxy (a corporate CA may need ca_file).",
                "diagnose")
    if kind is ErrorKind.HTTP_SERVER_ERROR:
        return ("The service answers but is failing: check its own health, logs and "
                "dependencies.", "probe_now")
    if kind is ErrorKind.HTTP_CLIENT_ERROR:
        return ("The service rejects the request: check the URL, method and expected status "
                "in the config.", "probe_now")
    if kind is ErrorKind.AUTH_FAILED:
        secret = (target.password.describe() if target.kind == "postgres"
                  else target.apikey.describe() if target.kind == "supabase" else "")
        where_secret = f" ({secret})" if secret else ""
        return (f"Check the user and the credentials{where_secret} and the role or API key "
                "in use.", "probe_now")
    if kind is ErrorKind.PROTOCOL_ERROR:
        return (f"{where} answered something unexpected: check that it speaks {target.kind} "
                "and the expected status or body in the config.", "probe_now")
    return (f"{kind_info(kind).hint} `netmon diagnose {point}` shows which layer fails.",
            "diagnose")
