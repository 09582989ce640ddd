"""The status snapshot: one JSON-able shape for the CLI, the service and the console.

Overall status: ``unhealthy`` when a critical target is down or the local network is
down; ``unknown`` when there are no targets or a critical target has no result yet (nothing
claims health it has not measured); ``degraded`` when anything else is not up (partial
function); ``healthy`` otherwise. ``http_status`` maps it: 503 when unhealthy for network
reasons or unknown, 500 when unhealthy for application reasons, 200 for healthy and
degraded. ``reason`` says why in one line.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from .breaker import CircuitBreaker
from .clock import Clock, SystemClock
from .errors import NETWORK_KINDS, ErrorKind
from .monitor import HealthMonitor
from .probes.base import iso_utc
from .recovery import suggest

__all__ = ["LiveStatus", "Overall", "build", "exit_code_for", "overall_status"]


class Overall(StrEnum):
    """Overall status vocabulary."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


_EXIT = {Overall.HEALTHY: 0, Overall.DEGRADED: 1, Overall.UNHEALTHY: 2, Overall.UNKNOWN: 3}


def exit_code_for(status: str) -> int:
    """Monitoring-plugin exit code for an overall status (3 for anything unexpected)."""
    try:
        return _EXIT[Overall(status)]
    except ValueError:
        return 3


def overall_status(
    targets: Sequence[Mapping[str, Any]], *, critical: Mapping[str, bool] | None = None,
    local_network_down: bool = False, database: Mapping[str, Any] | None = None,
) -> tuple[Overall, int, str]:
    """(overall status, HTTP status, reason) from the snapshot's target entries."""
    critical = critical or {}
    down = [t for t in targets if t["status"] == "down" and critical.get(t["name"], True)]
    db_down = database is not None and database.get("status") == "down"
    if local_network_down or down or db_down:
        kinds = [t.get("error_kind") for t in down]
        if db_down:
            kinds.append((database or {}).get("error_kind"))
        network = local_network_down or any(_is_network(k) for k in kinds)
        names = [str(t["name"]) for t in down] + (["database"] if db_down else [])
        reason = ("the local network is down" if local_network_down and not names
                  else f"down: {_names(names)}")
        return Overall.UNHEALTHY, 503 if network else 500, reason
    if not targets:
        return Overall.UNKNOWN, 503, "no targets configured"
    waiting = [str(t["name"]) for t in targets  # a paused target is not waited for
               if t["status"] == "unknown" and not t.get("paused")
               and critical.get(t["name"], True)]
    if database is not None and database.get("status") == "unknown":
        waiting.append("database")  # still connecting: not measured yet
    if waiting:
        return Overall.UNKNOWN, 503, f"waiting for the first results ({_names(waiting)})"
    not_up = [str(t["name"]) for t in targets if t["status"] in ("degraded", "down")]
    degraded_db = database is not None and database.get("mode") == "emergency"
    if not_up or degraded_db:
        names = not_up + (["database (emergency mode)"] if degraded_db else [])
        return Overall.DEGRADED, 200, f"not up: {_names(names)}"
    unmeasured = sum(1 for t in targets if t["status"] == "unknown")
    return Overall.HEALTHY, 200, (f"every critical target is up ({unmeasured} non-critical "
                                  "not probed yet)" if unmeasured else "every target is up")


def _names(names: Sequence[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _is_network(kind: object) -> bool:
    try:
        return ErrorKind(str(kind)) in NETWORK_KINDS
    except ValueError:
        return False


def build(
    *,
    monitor: HealthMonitor | None = None,
    breakers: Iterable[CircuitBreaker] = (),
    auth: Mapping[str, Any] | None = None,
    database: Mapping[str, Any] | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """The snapshot of ARCHITECTURE.md from whatever parts of the core are running,
    with the suggestions their state calls for."""
    breakers = list(breakers)
    clock = clock or (monitor.clock if monitor is not None else SystemClock())
    targets = monitor.snapshot() if monitor is not None else []
    status, http_status, reason = _overall(monitor, targets, database)
    return {
        "status": str(status),
        "http_status": http_status,
        "reason": reason,
        "generated_at": iso_utc(clock.now()),
        "targets": targets,
        "conditions": _conditions(monitor),
        "breakers": [_breaker_entry(b) for b in breakers],
        "auth": dict(auth) if auth is not None else None,
        "database": dict(database) if database is not None else None,
        "suggestions": suggest(monitor=monitor, breakers=breakers, auth=auth,
                               database=database),
    }


def _overall(monitor: HealthMonitor | None, targets: Sequence[Mapping[str, Any]],
             database: Mapping[str, Any] | None) -> tuple[Overall, int, str]:
    critical = monitor.critical if monitor is not None else {}
    local = monitor.local_network if monitor is not None else None
    return overall_status(targets, critical=critical,
                          local_network_down=local is not None and local.active,
                          database=database)


def _conditions(monitor: HealthMonitor | None) -> list[dict[str, Any]]:
    local = monitor.local_network if monitor is not None else None
    if local is None or not local.active:
        return []
    return [{"id": local.id, "active": local.active, "detail": local.detail,
             "since": iso_utc(local.since)}]


class LiveStatus:
    """The status snapshot of a running core, kept up to date part by part.

    ``update()`` finds cheaply what moved since the last update (the targets whose
    entries the monitor's incremental snapshot rebuilt; each breaker's ``changes``
    counter and thresholds; the local-network condition; the database's and the auth
    layer's figures) and rebuilds only the parts that depend on it: the overall status
    and reason when the targets, the condition or the database moved, the suggestions
    when anything they read moved. ``snapshot`` then says exactly what ``build()`` would
    (``generated_at`` aside, which is the time of the update). A quiet second costs a few
    comparisons instead of a snapshot of every target. The snapshot's values are shared
    with the next updates' caches: read them, do not mutate them.
    """

    def __init__(
        self, *, monitor: HealthMonitor,
        breakers: Callable[[], Iterable[CircuitBreaker]] = tuple,
        auth: Callable[[], Mapping[str, Any] | None] = lambda: None,
        database: Callable[[], Mapping[str, Any] | None] = lambda: None,
        clock: Clock | None = None,
    ) -> None:
        self.monitor = monitor
        self._breakers, self._auth, self._database = breakers, auth, database
        self.clock = clock or monitor.clock
        self.snapshot: dict[str, Any] = {}
        self._targets: list[dict[str, Any]] = []
        self._breaker_keys: tuple[object, ...] | None = None
        self._condition: object = None

    def update(self) -> frozenset[str]:
        """Bring ``snapshot`` up to date; returns the keys whose values changed (all of
        them on the first update; ``generated_at`` is never named)."""
        monitor, snap = self.monitor, self.snapshot
        first = not snap
        # an entry that changed is a new dict (whoever took the snapshot since the last
        # update: another reader's status() consumes the monitor's change names)
        targets, _ = monitor.update_snapshot()
        last = self._targets
        targets_moved = first or len(targets) != len(last) or any(
            a is not b for a, b in zip(targets, last, strict=True))
        self._targets = targets
        breakers = list(self._breakers())
        keys = tuple((b, b.changes, b.failure_threshold, b.reset_timeout)
                     for b in breakers)
        breakers_moved = first or keys != self._breaker_keys
        self._breaker_keys = keys
        local = monitor.local_network
        condition = (local.active, local.detail, local.since) if local is not None else None
        condition_moved = first or condition != self._condition
        self._condition = condition
        auth, database = self._auth(), self._database()
        auth = dict(auth) if auth is not None else None
        database = dict(database) if database is not None else None
        new: dict[str, Any] = {}
        if targets_moved:
            new["targets"] = targets
        if breakers_moved:
            new["breakers"] = [_breaker_entry(b) for b in breakers]
        if condition_moved:
            new["conditions"] = _conditions(monitor)
        if first or auth != snap.get("auth"):
            new["auth"] = auth
        if first or database != snap.get("database"):
            new["database"] = database
        if targets_moved or condition_moved or "database" in new:
            status, http_status, reason = _overall(
                monitor, new.get("targets", snap.get("targets", [])), database)
            new.update(status=str(status), http_status=http_status, reason=reason)
        if new:
            new["suggestions"] = suggest(monitor=monitor, breakers=breakers, auth=auth,
                                         database=database)
        changed = frozenset(key for key, value in new.items()
                            if first or snap.get(key) != value)
        if first:
            snap.update(status=None, http_status=None, reason=None, generated_at=None,
                        targets=None, conditions=None, breakers=None, auth=None,
                        database=None, suggestions=None)  # build()'s order of keys
        snap.update(new)
        snap["generated_at"] = iso_utc(self.clock.now())
        return changed


#: Each live breaker's snapshot entry, by ``id``, with what it was built from: while the
#: breaker's ``changes`` counter and thresholds hold still, the entry is reused without
#: calling ``stats()`` (a snapshot of 1,000 breakers rebuilds only those that changed).
#: The weak reference tells a reused id from the breaker it was cached for and drops the
#: entry when the breaker goes.
_BREAKER_ENTRIES: dict[
    int, tuple[weakref.ref[CircuitBreaker], tuple[int, int, float], dict[str, Any]]] = {}


def _breaker_entry(breaker: CircuitBreaker) -> dict[str, Any]:
    key = id(breaker)
    seen = (breaker.changes, breaker.failure_threshold, breaker.reset_timeout)
    cached = _BREAKER_ENTRIES.get(key)
    if cached is None or cached[0]() is not breaker:
        ref = weakref.ref(breaker, functools.partial(_forget_breaker, key))
    elif cached[1] == seen:
        return dict(cached[2])
    else:
        ref = cached[0]
    entry = breaker.stats().as_dict()
    _BREAKER_ENTRIES[key] = (ref, seen, entry)
    return dict(entry)


def _forget_breaker(key: int, _: object) -> None:
    _BREAKER_ENTRIES.pop(key, None)
