"""LiveStatus: the snapshot kept up to date part by part says what a full build() says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from core.config import Config, MonitorSettings, Target
from core.runtime import NetmonCore
from core.status import LiveStatus
from core.testing import FakeClock, seeded_rng
from tests.support.netutil import free_tcp_port


def tcp(name: str, port: int) -> Target:
    return Target(name=name, kind="tcp", host="127.0.0.1", port=port)


@pytest.fixture
async def listening() -> AsyncIterator[int]:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def without_time(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k != "generated_at"}


async def test_live_status_equals_a_full_build_after_every_kind_of_change(
        listening: int) -> None:
    refused = free_tcp_port()
    config = Config(monitor=MonitorSettings(interval_s=10.0, timeout_s=2.0, down_after=2),
                    targets=[tcp("api", listening), tcp("db", refused), tcp("cache", listening)])
    clock = FakeClock()
    core = NetmonCore(config, clock=clock, rng=seeded_rng(3), with_history=False,
                      with_database=False)
    live = core.live_status()
    try:
        assert live.update() >= {"status", "reason", "targets", "breakers", "suggestions"}
        assert without_time(live.snapshot) == without_time(core.status())
        assert live.update() == frozenset()  # nothing moved: nothing named

        steps = [
            lambda: core.monitor.run_once(),                    # first results
            lambda: core.monitor.run_once(["db"]),              # db down now
            lambda: core.monitor.run_once(["db", "api"]),
            lambda: core.monitor.run_once(["db"] * 4),          # its breaker opens
        ]
        seen: set[str] = set()
        for i, step in enumerate(steps):
            await step()
            if i == 2:
                core.status()  # another reader's snapshot takes the monitor's change names
            seen |= live.update()
            assert without_time(live.snapshot) == without_time(core.status()), i
        assert {"targets", "status", "reason", "suggestions", "breakers"} <= seen
        assert live.snapshot["status"] == "unhealthy"

        clock.advance(61.0)  # a success-rate slot passes, breaker timeouts may expire
        live.update()
        assert without_time(live.snapshot) == without_time(core.status())

        next(iter(core.breakers.values())).force_open()
        assert "breakers" in live.update()
        assert without_time(live.snapshot) == without_time(core.status())

        core.monitor.pause("db")
        assert "targets" in live.update()
        assert without_time(live.snapshot) == without_time(core.status())

        core.monitor.apply_config(replace(config, targets=config.targets[:1]))
        assert "targets" in live.update()
        assert [t["name"] for t in live.snapshot["targets"]] == ["api"]
        assert without_time(live.snapshot) == without_time(core.status())
    finally:
        await core.stop()


async def test_an_update_rebuilds_nothing_but_the_changed_targets(listening: int) -> None:
    config = Config(monitor=MonitorSettings(interval_s=10.0, timeout_s=2.0),
                    targets=[tcp(f"t{i}", listening) for i in range(6)])
    core = NetmonCore(config, clock=FakeClock(), rng=seeded_rng(1), with_history=False,
                      with_database=False)
    live = LiveStatus(monitor=core.monitor, breakers=core.breakers.values)
    try:
        await core.monitor.run_once()
        live.update()
        before = list(live.snapshot["targets"])
        await core.monitor.run_once(["t1", "t4"])
        assert "targets" in live.update()
        after = live.snapshot["targets"]
        rebuilt = [b["name"] for a, b in zip(before, after, strict=True) if a is not b]
        assert rebuilt == ["t1", "t4"]
    finally:
        await core.stop()
