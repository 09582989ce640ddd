"""Prometheus metrics for a running NetmonCore (prometheus_client, a private registry).

Probe results feed histograms and counters as they happen (through the monitor's event);
breaker, auth and pool figures are read at scrape time, so a scrape always shows the
current state.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .breaker import BreakerState, BreakerTransition
from .monitor import TargetStatus
from .probes.base import ProbeResult
from .runtime import NetmonCore

__all__ = ["CONTENT_TYPE", "CoreMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class CoreMetrics:
    """Registers netmon's metrics for one core; ``render()`` gives the exposition text."""

    def __init__(self, core: NetmonCore) -> None:
        self.core = core
        self.registry = CollectorRegistry(auto_describe=True)
        self.probe_latency = Histogram(
            "netmon_probe_latency_seconds", "Probe latency by phase (total = whole probe)",
            ["target", "kind", "phase"], buckets=_BUCKETS, registry=self.registry)
        self.probes = Counter(
            "netmon_probes", "Probes run, by outcome", ["target", "kind", "result"],
            registry=self.registry)
        self.transitions = Counter(
            "netmon_breaker_transitions", "Circuit breaker state changes",
            ["breaker", "to"], registry=self.registry)
        self.registry.register(_StateCollector(core))
        core.monitor.result_recorded.connect(self._on_result)
        for breaker in core.breakers.values():
            breaker.state_changed.connect(self._on_transition)

    def _on_result(self, result: ProbeResult) -> None:
        self.probes.labels(result.target, result.kind, "ok" if result.ok else "fail").inc()
        if result.latency_ms is not None:
            self.probe_latency.labels(result.target, result.kind, "total").observe(
                result.latency_ms / 1000)
        for phase, ms in result.phases.items():
            if phase != "total":
                self.probe_latency.labels(result.target, result.kind, phase).observe(ms / 1000)

    def _on_transition(self, change: BreakerTransition) -> None:
        self.transitions.labels(change.breaker, str(change.new)).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """Figures read from the core at scrape time."""

    def __init__(self, core: NetmonCore) -> None:
        self.core = core

    def collect(self) -> Iterator[Metric]:
        core = self.core
        status = GaugeMetricFamily("netmon_target_status", "1 for the target's current status",
                                   labels=["target", "status"])
        success = GaugeMetricFamily("netmon_target_up", "1 when the last probe succeeded",
                                    labels=["target", "kind"])
        for name, state in core.monitor.states.items():
            for value in TargetStatus:
                status.add_metric([name, str(value)], 1.0 if state.status is value else 0.0)
            if state.last is not None:
                success.add_metric([name, state.target.kind], 1.0 if state.last.ok else 0.0)
        yield status
        yield success
        local = core.monitor.local_network
        yield GaugeMetricFamily("netmon_local_network_down",
                                "1 while every target fails with network errors",
                                value=1.0 if local is not None and local.active else 0.0)
        state_family = GaugeMetricFamily("netmon_breaker_state", "1 for the breaker's state",
                                         labels=["breaker", "state"])
        rejected = CounterMetricFamily("netmon_breaker_rejected",
                                       "Calls refused by an open breaker", labels=["breaker"])
        failures = CounterMetricFamily("netmon_breaker_failures",
                                       "Failures counted by the breaker", labels=["breaker"])
        for breaker in core.breakers.values():
            stats = breaker.stats()
            for breaker_state in BreakerState:
                state_family.add_metric([breaker.name, str(breaker_state)],
                                        1.0 if stats.state is breaker_state else 0.0)
            rejected.add_metric([breaker.name], stats.rejected)
            failures.add_metric([breaker.name], stats.failures)
        yield state_family
        yield rejected
        yield failures
        if core.auth is not None:
            auth = core.auth.stats()
            tokens = GaugeMetricFamily("netmon_auth_cache_tokens",
                                       "Tokens held by the auth cache", labels=["cache"])
            tokens.add_metric(["cached"], auth["cached_tokens"])
            tokens.add_metric(["failed"], auth["failed_tokens"])
            yield tokens
            outcomes = CounterMetricFamily("netmon_auth_verifications",
                                           "Token verifications by outcome", labels=["outcome"])
            for key in ("hits", "remote", "local", "offline", "refused"):
                outcomes.add_metric([key], auth[key])
            yield outcomes
        if core.database is not None:
            health = core.database.health()
            pool = health.get("pool") or {}
            conns = GaugeMetricFamily("netmon_db_pool_connections", "Pool connections by use",
                                      labels=["state"])
            conns.add_metric(["idle"], float(pool.get("idle") or 0))
            conns.add_metric(["in_use"], float(pool.get("in_use") or 0))
            yield conns
            yield GaugeMetricFamily("netmon_db_pool_max", "Pool size limit",
                                    value=float(pool.get("max") or 0))
            yield GaugeMetricFamily("netmon_db_emergency_mode", "1 in emergency mode",
                                    value=1.0 if health.get("mode") == "emergency" else 0.0)
