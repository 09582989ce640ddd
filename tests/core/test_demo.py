"""The demo's loopback servers behave as its docstring promises, probed by the real core."""

from __future__ import annotations

import asyncio

from core.demo import FLAP_PERIOD_S, OUTAGE_START_S, Demo
from core.runtime import NetmonCore


class Elapsed:
    """A settable monotonic clock for the demo's schedule."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _until(condition: object, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def test_demo_targets_show_healthy_partial_slow_flapping_and_down() -> None:
    clock = Elapsed()
    async with Demo(clock=clock) as demo:
        config = demo.config()
        assert all(t.host in ("", "127.0.0.1", "localhost", "intranet.demo.invalid")
                   for t in config.targets)
        assert all("127.0.0.1" in (t.url or "http://127.0.0.1") for t in config.targets)
        core = NetmonCore(config, with_history=False)
        try:
            results = {r.target: r for r in await core.monitor.run_once()}
            assert results["web"].ok and results["local-dns"].ok
            assert results["checkout"].ok and results["orders-db"].ok
            assert results["reports"].ok and results["reports"].latency_ms > 300
            states = core.monitor.states
            assert str(states["reports"].status) == "degraded"
            assert "slow" in states["reports"].reason
            assert str(states["intranet-dns"].status) == "degraded"  # only the direct answer
            assert str(states["web"].status) == "up"

            clock.now += FLAP_PERIOD_S - 1  # inside the flap's failing part
            result = await core.monitor.probe_now("checkout")
            assert not result.ok and str(result.error_kind) == "http_server_error"

            clock.now = 1000.0 + OUTAGE_START_S + 1  # the outage: the port stops listening
            await _until(lambda: demo.orders_down() and demo._tcp is None)
            for _ in range(3):
                result = await core.monitor.probe_now("orders-db")
            assert str(result.error_kind) == "connection_refused"
            assert str(core.breakers[states["orders-db"].breaker].state) == "open"
            assert str(states["orders-db"].status) == "down"

            clock.now += 30  # back: the same port listens again
            await _until(lambda: demo._tcp is not None)
            assert (await core.monitor.probe_now("orders-db")).ok
        finally:
            await core.stop()
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("netmon-demo")]
