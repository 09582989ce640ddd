"""A restart changes nothing a user can see: success rates, percentiles and the memory ring
come back from the history file.

The probes here are scripted (a fixed pattern of successes, failures and latencies): the
subject is what the monitor remembers, and 25 simulated hours of real HTTP probes would
take minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.config import Config, HistorySettings, MonitorSettings, Target
from core.errors import ErrorKind
from core.history import HistoryStore
from core.monitor import HealthMonitor
from core.probes.base import ProbeContext, ProbeResult
from core.runtime import NetmonCore
from core.stats import SuccessWindows
from core.testing import FakeClock, seeded_rng

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NAMES = ("api", "db", "dns")


@dataclass
class Scripted:
    """Answers in a fixed pattern; target ``db`` is down for an hour from hour 20."""

    target: Target
    clock: FakeClock
    n: int = 0

    async def run(self) -> ProbeResult:
        self.n += 1
        i, name = self.n, self.target.name
        hours = i * 30 / 3600
        ok = (i * 7 + len(name)) % 11 != 0 and not (name == "db" and 20 <= hours < 21)
        return ProbeResult(
            target=name, kind="http", ok=ok, latency_ms=5.0 + (i * 13 + len(name)) % 97 / 4,
            checked_at=self.clock.now(), phases={"connect": 1.5, "ttfb": 2.25},
            error_kind=None if ok else ErrorKind.TIMEOUT,
            error=None if ok else "TimeoutError: timed out")


def config(path: Path) -> Config:
    return Config(monitor=MonitorSettings(interval_s=30),
                  history=HistorySettings(path=str(path)),
                  targets=[Target(name=n, kind="http", url="http://127.0.0.1:9/")
                           for n in NAMES])


def visible(targets: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {t["name"]: (t["success_rate"], t["latency_p50_ms"], t["latency_p95_ms"])
            for t in targets}


async def test_restart_over_the_same_file_shows_the_same_rates_percentiles_and_ring(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.sqlite3"
    clock = FakeClock(start=T0)
    store = HistoryStore(path, clock=clock, flush_interval=3600)
    await store.start()
    monitor = HealthMonitor(config(path), clock=clock, rng=seeded_rng(), history=store,
                            probe_factory=lambda t, _ctx: Scripted(t, clock))
    for _ in range(25 * 120):  # 25 h of results every 30 s
        clock.advance(30)
        await monitor.run_once()
    clock.advance(17)
    before = visible(monitor.snapshot())
    rings = {n: monitor.memory.recent(n) for n in NAMES}
    assert len(rings["api"]) == monitor.memory.maxlen
    rates = before["db"][0]
    assert rates["5m"] is not None and rates["24h"] is not None and rates["24h"] < rates["1h"]
    await monitor.stop()
    await store.close()

    # a new process: same wall time, another monotonic origin (a multiple of the slots)
    clock2 = FakeClock(start=clock.now(), monotonic_start=clock.monotonic() + 3 * 86400)
    core = NetmonCore(config(path), clock=clock2, rng=seeded_rng(), with_database=False)
    await core.start(schedule=False)
    try:
        after = visible(core.status()["targets"])
        assert after == before
        for name in NAMES:
            assert core.monitor.memory.recent(name) == rings[name]
        # ten minutes on, both slide the same way
        clock.advance(600)
        clock2.advance(600)
        assert visible(core.status()["targets"]) == visible(monitor.snapshot())
    finally:
        await core.stop()


async def test_seed_counts_match_a_monitor_that_never_stopped_for_unaligned_clocks(
    tmp_path: Path,
) -> None:
    """Raw rows carry exact times, so any monotonic origin gives the same windows."""
    path = tmp_path / "history.sqlite3"
    clock = FakeClock(start=T0, monotonic_start=1234.5)
    store = HistoryStore(path, clock=clock, flush_interval=3600)
    await store.start()
    monitor = HealthMonitor(config(path), clock=clock, history=store,
                            probe_factory=lambda t, _ctx: Scripted(t, clock))
    for _ in range(3 * 120 + 7):
        clock.advance(30)
        await monitor.run_once()
    await store.flush()
    fresh = HealthMonitor(config(path), clock=clock, history=store,
                          probe_factory=lambda t, _ctx: Scripted(t, clock))
    await fresh.seed_from(store)
    assert visible(fresh.snapshot()) == visible(monitor.snapshot())
    await monitor.stop()
    await fresh.stop()
    await store.close()


async def test_seed_from_an_empty_or_memory_only_store_changes_nothing(tmp_path: Path) -> None:
    clock = FakeClock(start=T0)
    store = HistoryStore(tmp_path / "h.sqlite3", clock=clock)
    await store.start()
    monitor = HealthMonitor(config(tmp_path / "h.sqlite3"), clock=clock, history=store,
                            context=ProbeContext(clock=clock))
    await monitor.seed_from(store)
    assert all(t["success_rate"] == {"5m": None, "1h": None, "24h": None}
               for t in monitor.snapshot())
    assert len(monitor.memory) == 0
    await monitor.stop()
    await store.close()


def test_windows_take_counts_at_negative_times_and_ignore_older_ones() -> None:
    """Stored results can map to negative monotonic times (a machine booted an hour ago)."""
    windows = SuccessWindows()
    windows.add_counts(-7200.0, 10, 5)  # two hours before the monotonic origin
    windows.add_counts(-30.0, 4, 1)
    windows.add_counts(-30.0 - 86400, 50, 50)  # 24 h older, same slot: ignored, not clobbering
    windows.add(10.0, True)
    assert windows.rates(10.0) == {"5m": 0.8, "1h": 0.8, "24h": 0.6}
