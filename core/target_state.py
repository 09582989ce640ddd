"""What the monitor knows about each target: its status vocabulary, its state (last
result, streaks, success windows, schedule) and the snapshot entry built from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .breaker import BreakerState, CircuitBreaker
from .config import Target
from .probes.base import ProbeResult, iso_utc
from .stats import SuccessWindows, percentile, rounded

__all__ = ["BreakerPart", "Condition", "StatusChange", "TargetState", "TargetStatus",
           "breaker_key", "breaker_part"]

#: A target entry's breaker part: its ``breaker`` value and what its reason gets appended.
BreakerPart = tuple[dict[str, Any] | None, str]


class TargetStatus(StrEnum):
    """Per-target status vocabulary."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A target moved from one status to another."""

    target: str
    old: TargetStatus
    new: TargetStatus
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Condition:
    """A machine-wide finding, e.g. the local network being down."""

    id: str
    active: bool
    detail: str
    since: datetime


@dataclass
class TargetState:
    """What the monitor knows about one target."""

    target: Target
    interval_s: float
    breaker: str = ""  # the breaker this target's probes feed (see ``breaker_for``)
    status: TargetStatus = TargetStatus.UNKNOWN
    reason: str = "not probed yet"
    last: ProbeResult | None = None
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    paused: bool = False
    in_flight: int = 0  # probes of this target running now (scheduled or on demand)
    probes: int = 0
    missed: int = 0
    next_due: float = 0.0
    schedule_gen: int = 0
    windows: SuccessWindows = field(default_factory=SuccessWindows)
    #: Moves whenever anything the snapshot shows of this target changes (the monitor bumps
    #: it: results, pause/resume, missed turns, seeding, its breaker's transitions).
    revision: int = field(default=0, compare=False)
    #: ``core.recovery``'s last suggestion for this target and the fingerprint it came from
    suggestion_cache: tuple[object, dict[str, Any]] | None = field(
        default=None, init=False, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.target.name

    def as_dict(self, monotonic_now: float, recent: Sequence[ProbeResult] = (),
                breaker: CircuitBreaker | None = None) -> dict[str, Any]:
        """The ``targets`` entry of the status snapshot (with its breaker, when it has one),
        computed from scratch (``HealthMonitor.snapshot`` keeps it up to date instead)."""
        latencies = [r.latency_ms for r in recent if r.ok and r.latency_ms is not None]
        return self._entry(self.windows.rates(monotonic_now), percentile(latencies, 50),
                           percentile(latencies, 95), breaker_part(breaker))

    def _entry(self, rates: dict[str, float | None], p50: float | None, p95: float | None,
               breaker: BreakerPart) -> dict[str, Any]:
        last, target = self.last, self.target
        breaker_entry, said = breaker
        if last is None:
            latency = error_kind = error = checked_at = None
            phases: dict[str, float] = {}
        else:
            latency = rounded(last.latency_ms, 3) if last.latency_ms else None
            phases = {k: rounded(v, 3) for k, v in last.phases.items()}
            error_kind = str(last.error_kind) if last.error_kind else None
            error = last.error
            checked_at = iso_utc(last.checked_at)
        entry: dict[str, Any] = {
            "name": target.name,
            "kind": target.kind,
            "status": str(self.status),
            "reason": f"{self.reason}{said}" if said else self.reason,
            "latency_ms": latency,
            "phases": phases,
            "error_kind": error_kind,
            "error": error,
            "checked_at": checked_at,
            "success_rate": rates,
            "latency_p50_ms": p50,
            "latency_p95_ms": p95,
            "paused": self.paused,
            "missed": self.missed,
            "breaker": breaker_entry,
        }
        if target.kind == "dns":
            answers = last.details.get("resolvers", []) if last else []
            entry["resolvers"] = [
                {"resolver": a.get("resolver"), "ok": a.get("ok"), "rcode": a.get("rcode"),
                 "addresses": a.get("addresses"), "error_kind": a.get("error_kind"),
                 "latency_ms": a.get("latency_ms")} for a in answers]
        return entry


def breaker_part(breaker: CircuitBreaker | None) -> BreakerPart:
    """What a target's entry shows of its breaker: the ``breaker`` value, and what its
    ``reason`` gets appended ("; breaker 'x' open since ...", or nothing). It depends on
    nothing but the breaker's name and ``breaker_key``, so it can be kept while that holds
    still (the value is shared: do not mutate it)."""
    if breaker is None:
        return None, ""
    stats = breaker.stats()
    entry = {"name": breaker.name, "state": str(stats.state),
             "retry_at": iso_utc(stats.retry_at) if stats.retry_at else None}
    if stats.state in (BreakerState.OPEN, BreakerState.FORCED_OPEN):
        since = f" since {iso_utc(stats.opened_at)}" if stats.opened_at else ""
        retry = (f", retries at {iso_utc(stats.retry_at)}" if stats.retry_at
                 else ", held open until reset by hand")
        return entry, f"; breaker '{breaker.name}' {stats.state}{since}{retry}"
    if stats.state is BreakerState.HALF_OPEN:
        return entry, f"; breaker '{breaker.name}' half-open (trying again)"
    return entry, ""


def breaker_key(breaker: CircuitBreaker | None) -> object:
    """What a target's entry and suggestion read from its breaker: the state, and when it
    is open, since when and until when (reading the state moves an expired open breaker
    to half-open, as ``stats()`` would)."""
    if breaker is None:
        return None
    state = breaker.state
    if state is BreakerState.OPEN or state is BreakerState.FORCED_OPEN:
        stats = breaker.stats()
        return state, stats.opened_at, stats.retry_at
    return state
