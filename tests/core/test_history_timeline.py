"""Timelines from history: raw points, tiers, outages, breaker bands, uptime bars, restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.breaker import CircuitBreaker
from core.config import Config, HistorySettings, Target
from core.errors import ErrorKind
from core.history import BreakerPeriod, HistoryStore
from core.probes.base import ProbeResult
from core.runtime import NetmonCore
from core.testing import FakeClock

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def result(target: str, when: datetime, ok: bool, latency: float = 20.0) -> ProbeResult:
    return ProbeResult(target=target, kind="http", ok=ok, latency_ms=latency if ok else None,
                       checked_at=when, error_kind=None if ok else ErrorKind.TIMEOUT,
                       error=None if ok else "timed out")


async def test_raw_range_gives_points_and_outages_until_the_next_success(
        tmp_path: Path) -> None:
    clock = FakeClock(start=T0)
    async with HistoryStore(tmp_path / "h.sqlite3", clock=clock) as store:
        oks = [True, True, False, False, True, False]
        for i, ok in enumerate(oks):
            store.add(result("api", T0 + timedelta(seconds=30 * i), ok, 10.0 + i))
        clock.advance(200)
        series = await store.timeline("api", "15m")
    base = T0.timestamp()
    assert series.step == 0 and series.ts == [base + 30 * i for i in range(6)]
    assert series.failures == [0, 0, 1, 1, 0, 1]
    assert series.latency == [10.0, 11.0, None, None, 14.0, None]
    assert series.outages == [(base + 60, base + 120), (base + 150, series.until)]
    assert series.ever_succeeded


async def test_24h_reads_minute_rollups_and_the_newest_minutes_from_raw(
        tmp_path: Path) -> None:
    clock = FakeClock(start=T0)
    async with HistoryStore(tmp_path / "h.sqlite3", clock=clock) as store:
        for i in range(240):  # 2 h of results every 30 s; minute 30..39 all failing
            minute = i // 2
            store.add(result("api", T0 + timedelta(seconds=30 * i), not 30 <= minute < 40,
                             10.0 + minute % 5))
        clock.advance(7200 - 90)  # the last two minutes are not rolled up yet
        await store.maintain()
        clock.advance(90)
        series = await store.timeline("api", "24h")
    assert series.step == 60 and len(series.ts) == 120  # every minute, none missing
    assert sum(series.count) == 240 and sum(series.failures) == 20
    assert series.outages == [(T0.timestamp() + 1800, T0.timestamp() + 2400)]
    assert series.latency[0] == 10.0 and series.latency[30] is None


async def test_a_target_that_never_succeeded_has_failures_and_no_latency(
        tmp_path: Path) -> None:
    clock = FakeClock(start=T0)
    async with HistoryStore(tmp_path / "h.sqlite3", clock=clock) as store:
        for i in range(10):
            store.add(result("dead", T0 + timedelta(seconds=30 * i), False))
        clock.advance(600)
        series = await store.timeline("dead", "1h")
    assert not series.ever_succeeded
    assert series.count == [1] * 10 and series.failures == [1] * 10
    assert all(v is None for v in series.latency)


async def test_breaker_periods_are_kept_and_read_back_after_a_restart(tmp_path: Path) -> None:
    clock = FakeClock(start=T0)
    path = tmp_path / "h.sqlite3"
    config = Config(targets=[Target(name="api", kind="http", url="http://127.0.0.1:9/")],
                    history=HistorySettings(path=str(path)))
    core = NetmonCore(config, clock=clock, with_database=False)
    await core.start(schedule=False)
    breaker = core.breakers["api"]
    assert isinstance(breaker, CircuitBreaker)
    clock.advance(60)
    for _ in range(3):
        breaker.probe_failed(ErrorKind.TIMEOUT)  # opens at T0+60
    clock.advance(breaker.reset_timeout + 5)
    assert str(breaker.state) == "half_open"  # read as half-open once the timeout ran out
    breaker.probe_succeeded()
    clock.advance(100)
    await core.stop()

    store = HistoryStore(path, clock=clock)  # a new process reading the same file
    async with store:
        series = await store.timeline("api", "15m", breaker="api")
    opened = T0.timestamp() + 60
    assert series.breaker == [  # open for reset_timeout, half-open until the success closed it
        BreakerPeriod(opened, opened + breaker.reset_timeout, "open"),
        BreakerPeriod(opened + breaker.reset_timeout, opened + breaker.reset_timeout + 5,
                      "half_open")]
    assert all(isinstance(p, BreakerPeriod) for p in series.breaker)


async def test_uptime_bars_count_results_and_failures_per_slice(tmp_path: Path) -> None:
    clock = FakeClock(start=T0)
    async with HistoryStore(tmp_path / "h.sqlite3", clock=clock) as store:
        for i in range(48):  # one result per half hour, every 4th failing
            store.add(result("api", T0 + timedelta(minutes=30 * i), i % 4 != 0))
        clock.advance(24 * 3600)
        bars = await store.uptime(["api", "none"], hours=24, segments=24)
    assert bars["api"] == [(2, 1 if h % 2 == 0 else 0) for h in range(24)]
    assert bars["none"] == [(0, 0)] * 24
