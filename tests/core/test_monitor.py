"""HealthMonitor against real loopback servers, scheduled on a FakeClock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest

from core.breaker import BreakerState, CircuitBreaker
from core.config import BreakerSettings, Config, MonitorSettings, Target
from core.errors import ErrorKind
from core.monitor import FIRST_ROUND_S, Condition, HealthMonitor, StatusChange, TargetStatus
from core.probes import ProbeResult
from core.probes.base import PhaseTimer, ProbeContext, failure
from core.stats import SuccessWindows, percentile
from core.testing import FakeClock, seeded_rng
from tests.support.dns_server import DnsServer
from tests.support.fixtures import FaultProxyFactory
from tests.support.http_server import HttpServer, Request, Response
from tests.support.netutil import free_tcp_port

S = TargetStatus


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll real I/O progress (never used to wait for a timeout to expire)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


def web(name: str, url: str, **kw: object) -> Target:
    return Target(name=name, kind="http", url=url, **kw)  # type: ignore[arg-type]


def config(*targets: Target, **monitor: object) -> Config:
    settings = {"interval_s": 10.0, "timeout_s": 2.0, **monitor}
    return Config(monitor=MonitorSettings(**settings), targets=list(targets))  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def monitors() -> AsyncIterator[list[HealthMonitor]]:
    made: list[HealthMonitor] = []
    yield made
    for monitor in made:
        await monitor.stop()


async def tick(monitor: HealthMonitor, clock: FakeClock, seconds: float, name: str) -> ProbeResult:
    """Advance the clock by ``seconds`` and wait for ``name``'s next result."""
    before = monitor.states[name].probes
    clock.advance(seconds)
    await until(lambda: monitor.states[name].probes > before)
    last = monitor.states[name].last
    assert last is not None
    return last


async def test_degraded_then_down_after_three_failures_then_up(
    clock: FakeClock, monitors: list[HealthMonitor], http_server: HttpServer,
    fault_proxy_factory: FaultProxyFactory,
) -> None:
    http_server.route("/health", body="ok")
    port = int(http_server.url.rsplit(":", 1)[1])
    proxy = await fault_proxy_factory("127.0.0.1", port)
    monitor = HealthMonitor(config(web("api", f"http://127.0.0.1:{proxy.port}/health")),
                            clock=clock, rng=seeded_rng())
    monitors.append(monitor)
    changes: list[StatusChange] = []
    monitor.status_changed.connect(changes.append)
    assert monitor.states["api"].status is S.UNKNOWN
    await monitor.start()
    await tick(monitor, clock, 10, "api")
    assert monitor.states["api"].status is S.UP
    await proxy.set_mode("refuse")
    await proxy.cut()
    statuses = []
    for _ in range(3):
        result = await tick(monitor, clock, 10, "api")
        assert result.error_kind is ErrorKind.CONNECTION_REFUSED
        statuses.append(monitor.states["api"].status)
    assert statuses == [S.DEGRADED, S.DEGRADED, S.DOWN]
    await proxy.set_mode("pass")
    await tick(monitor, clock, 10, "api")
    assert monitor.states["api"].status is S.UP
    assert [(c.old, c.new) for c in changes] == [
        (S.UNKNOWN, S.UP), (S.UP, S.DEGRADED), (S.DEGRADED, S.DOWN), (S.DOWN, S.UP)]
    rates = monitor.states["api"].windows.rates(clock.monotonic())
    assert rates["5m"] == pytest.approx(2 / 5)


async def test_up_after_needs_that_many_successes_and_slow_is_degraded(
    clock: FakeClock, monitors: list[HealthMonitor], http_server: HttpServer,
) -> None:
    route = http_server.route("/x", status=500)
    monitor = HealthMonitor(
        config(web("api", http_server.url + "/x"), down_after=1, up_after=2),
        clock=clock, rng=seeded_rng())
    monitors.append(monitor)
    await monitor.run_once()
    assert monitor.states["api"].status is S.DOWN
    route.status = 200
    await monitor.run_once()
    assert monitor.states["api"].status is S.DEGRADED
    assert monitor.states["api"].reason.startswith("recovering: 1 of 2")
    await monitor.run_once()
    assert monitor.states["api"].status is S.UP
    route.delay = 0.05
    slow = HealthMonitor(config(web("api", http_server.url + "/x", latency_threshold_ms=10)),
                         clock=clock)
    monitors.append(slow)
    await slow.run_once()
    assert slow.states["api"].status is S.DEGRADED
    assert slow.states["api"].reason.startswith("slow:")


async def test_first_probes_are_spread_by_a_random_phase(
    clock: FakeClock, monitors: list[HealthMonitor],
) -> None:
    targets = [web(f"t{i}", f"http://127.0.0.1:1/{i}") for i in range(20)]
    monitor = HealthMonitor(config(*targets, interval_s=30), clock=clock, rng=seeded_rng(5))
    monitors.append(monitor)
    monitor.pause  # noqa: B018 - the API exists
    await monitor.start()
    start = clock.monotonic()
    dues = sorted(s.next_due - start for s in monitor.states.values())
    assert all(0 <= d < FIRST_ROUND_S for d in dues)  # nobody waits an interval for a result
    assert len({round(d, 3) for d in dues}) == 20
    assert dues[-1] - dues[0] > FIRST_ROUND_S / 2  # spread, not bunched


async def test_concurrency_cap_and_probe_timeout(
    clock: FakeClock, monitors: list[HealthMonitor], http_server: HttpServer,
) -> None:
    active = peak = 0

    async def slow(request: Request) -> Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.1)
        active -= 1
        return Response(200, b"ok")

    http_server.route("/slow", handler=slow)
    http_server.fault("/hang", "hang")
    targets = [web(f"t{i}", http_server.url + "/slow") for i in range(6)]
    targets.append(web("stuck", http_server.url + "/hang", timeout_s=0.2))
    monitor = HealthMonitor(config(*targets, concurrency=2), clock=clock)
    monitors.append(monitor)
    results = await monitor.run_once()
    assert peak == 2
    stuck = next(r for r in results if r.target == "stuck")
    assert stuck.error_kind is ErrorKind.TIMEOUT
    assert sum(r.ok for r in results) == 6


async def test_a_probe_in_flight_is_not_doubled_and_counts_a_missed_turn(
    clock: FakeClock, monitors: list[HealthMonitor], http_server: HttpServer,
) -> None:
    gate = asyncio.Event()

    async def held(request: Request) -> Response:
        await gate.wait()
        return Response(200, b"ok")

    http_server.route("/held", handler=held)
    monitor = HealthMonitor(config(web("api", http_server.url + "/held", timeout_s=5)),
                            clock=clock, rng=seeded_rng())
    monitors.append(monitor)
    await monitor.start()
    clock.advance(10)
    await until(lambda: len(http_server.requests) == 1)
    for _ in range(2):
        clock.advance(10)
        await asyncio.sleep(0.02)  # let the scheduler take its turn
    assert len(http_server.requests) == 1
    assert monitor.states["api"].missed == 2
    gate.set()
    await until(lambda: monitor.states["api"].probes == 1)


async def test_pause_resume_probe_now_and_clean_stop(
    clock: FakeClock, http_server: HttpServer,
) -> None:
    http_server.route("/", body="ok")
    monitor = HealthMonitor(config(web("api", http_server.url + "/")), clock=clock,
                            rng=seeded_rng())
    await monitor.start()
    await tick(monitor, clock, 10, "api")
    monitor.pause("api")
    clock.advance(100)
    await asyncio.sleep(0.05)
    assert monitor.states["api"].probes == 1
    result = await monitor.probe_now("api")
    assert result.ok
    assert monitor.states["api"].probes == 2
    monitor.resume("api")
    await until(lambda: monitor.states["api"].probes == 3)
    with pytest.raises(KeyError, match="no enabled target named 'nope'"):
        await monitor.probe_now("nope")
    await monitor.stop()
    ours = [t for t in asyncio.all_tasks() if t.get_name().startswith(("probe:", "netmon-"))]
    assert ours == []
    assert clock.pending_timers == 0


async def silent_dns(host: str) -> DnsServer:
    server = DnsServer(host, default_behaviour="silent")
    await server.start()
    return server


def direct_dns(name: str, server: DnsServer, **kw: object) -> Target:
    return Target(name=name, kind="dns", host=f"{name}.corp.invalid", resolver="direct",
                  system_nameservers=False, nameservers=[f"{server.address}:{server.port}"],
                  timeout_s=0.3, **kw)  # type: ignore[arg-type]


async def test_silence_from_two_hosts_is_one_local_network_condition(
    clock: FakeClock, monitors: list[HealthMonitor],
) -> None:
    servers = [await silent_dns("127.0.0.1"), await silent_dns("127.0.0.2")]
    try:
        monitor = HealthMonitor(config(direct_dns("a", servers[0]), direct_dns("b", servers[1])),
                                clock=clock)
        monitors.append(monitor)
        conditions: list[Condition] = []
        monitor.condition_changed.connect(conditions.append)
        await monitor.run_once()
    finally:
        for server in servers:
            await server.close()
    assert {s.last.error_kind for s in monitor.states.values() if s.last} == {
        ErrorKind.DNS_TIMEOUT}
    assert monitor.local_network is not None
    assert monitor.local_network.active
    assert "no answer from 2 hosts" in monitor.local_network.detail
    assert len(conditions) == 1


async def test_silence_from_one_host_is_not_the_local_network(
    clock: FakeClock, monitors: list[HealthMonitor],
) -> None:
    server = await silent_dns("127.0.0.1")
    try:
        monitor = HealthMonitor(config(direct_dns("a", server), direct_dns("b", server)),
                                clock=clock)
        monitors.append(monitor)
        await monitor.run_once()
    finally:
        await server.close()
    assert monitor.local_network is None


async def test_nxdomain_and_servfail_from_an_answering_server_are_not_the_local_network(
    clock: FakeClock, monitors: list[HealthMonitor], dns_server: DnsServer,
) -> None:
    """It used to raise local_network_down ("check the cable") although a server answered."""
    dns_server.set_behaviour("gone.corp.invalid", "nxdomain")
    dns_server.set_behaviour("broken.corp.invalid", "servfail")
    ns = [f"127.0.0.1:{dns_server.port}"]
    targets = [Target(name=n, kind="dns", host=f"{n}.corp.invalid", nameservers=ns,
                      system_nameservers=False) for n in ("gone", "broken")]
    monitor = HealthMonitor(config(*targets, down_after=1), clock=clock)
    monitors.append(monitor)
    await monitor.run_once()
    assert all(s.status is S.DOWN for s in monitor.states.values())
    assert monitor.local_network is None
    (gone, broken) = monitor.snapshot()
    assert gone["reason"].endswith(f"OS: not found; 127.0.0.1:{dns_server.port}: NXDOMAIN")
    assert broken["reason"].endswith(f"OS: not found; 127.0.0.1:{dns_server.port}: SERVFAIL")
    assert [(r["resolver"], r["ok"], r["rcode"]) for r in broken["resolvers"]] == [
        ("os", False, None), (f"127.0.0.1:{dns_server.port}", False, "SERVFAIL")]


class _NoRouteProbe:
    """What a probe sees where Windows has no route (WSAENETUNREACH, 10051): no such
    network can be made here without sending packets somewhere, so the error is made."""

    def __init__(self, target: Target, context: ProbeContext) -> None:
        self.target = target
        self.context = context

    async def run(self) -> ProbeResult:
        error = OSError(10051, "A socket operation was attempted to an unreachable network")
        return failure(self.target, error, self.context.clock.now(), PhaseTimer())


async def test_the_os_saying_no_route_is_the_local_network_even_for_one_host(
    clock: FakeClock, monitors: list[HealthMonitor],
) -> None:
    monitor = HealthMonitor(config(Target(name="db", kind="tcp", host="10.1.2.3", port=5432)),
                            clock=clock, probe_factory=_NoRouteProbe)
    monitors.append(monitor)
    await monitor.run_once()
    assert monitor.states["db"].last is not None
    assert monitor.states["db"].last.error_kind is ErrorKind.NETWORK_UNREACHABLE
    assert monitor.local_network is not None
    assert monitor.local_network.active
    assert "no route to the network of db" in monitor.local_network.detail


async def test_canaries_decide_but_any_answer_overrules_them(
    clock: FakeClock, monitors: list[HealthMonitor], http_server: HttpServer,
) -> None:
    http_server.route("/", body="ok")
    servers = [await silent_dns("127.0.0.1"), await silent_dns("127.0.0.2")]
    try:
        canaries = [direct_dns("gw1", servers[0], canary=True),
                    direct_dns("gw2", servers[1], canary=True)]
        unclear = Target(name="ghost", kind="tcp", host="ghost.corp.invalid", port=443)
        monitor = HealthMonitor(config(*canaries, unclear), clock=clock)
        monitors.append(monitor)
        await monitor.run_once()
        assert monitor.local_network is not None
        assert monitor.local_network.active
        assert "canary gw1, gw2" in monitor.local_network.detail
        answering = HealthMonitor(config(*canaries, web("api", http_server.url + "/")),
                                  clock=clock)
        monitors.append(answering)
        await answering.run_once()
        assert answering.local_network is None  # the api answered: the network works
    finally:
        for server in servers:
            await server.close()


async def test_refused_three_times_opens_the_breaker_and_a_probe_later_closes_it(
    clock: FakeClock, monitors: list[HealthMonitor], http_server: HttpServer,
    fault_proxy_factory: FaultProxyFactory,
) -> None:
    """Probe failures used to leave every breaker closed (0/3) whatever failed."""
    http_server.route("/", body="ok")
    port = int(http_server.url.rsplit(":", 1)[1])
    proxy = await fault_proxy_factory("127.0.0.1", port)
    await proxy.set_mode("refuse")
    breaker = CircuitBreaker("api", clock=clock)
    transitions: list[str] = []
    breaker.state_changed.connect(lambda t: transitions.append(f"{t.old}->{t.new}"))
    monitor = HealthMonitor(config(Target(name="api", kind="tcp", host="127.0.0.1",
                                          port=proxy.port)),
                            clock=clock, breakers={"api": breaker})
    monitors.append(monitor)
    for expected in (1, 2):
        await monitor.run_once()
        assert breaker.state is BreakerState.CLOSED
        assert breaker.stats().consecutive_failures == expected
    await monitor.run_once()
    assert breaker.state is BreakerState.OPEN
    (entry,) = monitor.snapshot()
    assert entry["breaker"]["state"] == "open"
    assert "breaker 'api' open since" in entry["reason"]
    assert "retries at" in entry["reason"]
    await monitor.run_once()  # still refused: probes are never rejected, the breaker stays
    assert breaker.state is BreakerState.OPEN
    assert breaker.stats().rejected == 0
    clock.advance(30)
    assert breaker.state is BreakerState.HALF_OPEN
    await proxy.set_mode("pass")
    await monitor.run_once()
    assert breaker.state is BreakerState.CLOSED
    assert transitions == ["closed->open", "open->half_open", "half_open->closed"]


async def test_a_probe_success_while_open_goes_half_open_and_a_failure_reopens(
    clock: FakeClock, monitors: list[HealthMonitor], http_server: HttpServer,
    fault_proxy_factory: FaultProxyFactory,
) -> None:
    http_server.route("/", body="ok")
    port = int(http_server.url.rsplit(":", 1)[1])
    proxy = await fault_proxy_factory("127.0.0.1", port, mode="refuse")
    breaker = CircuitBreaker("api", clock=clock, success_threshold=2)
    monitor = HealthMonitor(config(Target(name="api", kind="tcp", host="127.0.0.1",
                                          port=proxy.port)),
                            clock=clock, breakers={"api": breaker})
    monitors.append(monitor)
    for _ in range(3):
        await monitor.run_once()
    assert breaker.state is BreakerState.OPEN
    await proxy.set_mode("pass")
    await monitor.run_once()
    assert breaker.state is BreakerState.HALF_OPEN  # early, before the 30 s timeout
    await proxy.set_mode("refuse")
    await monitor.run_once()
    assert breaker.state is BreakerState.OPEN  # the trial by probe failed
    await proxy.set_mode("pass")
    for expected in (BreakerState.HALF_OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED):
        await monitor.run_once()
        assert breaker.state is expected  # half-open, then success_threshold = 2 successes


async def test_breakers_fed_by_real_calls_only_when_probes_are_not_followed(
    clock: FakeClock, monitors: list[HealthMonitor],
) -> None:
    target = Target(name="api", kind="tcp", host="127.0.0.1", port=free_tcp_port())
    breaker = CircuitBreaker("api", clock=clock)
    settings = replace(config(target), breaker=BreakerSettings(follow_probes=False))
    monitor = HealthMonitor(settings, clock=clock, breakers={"api": breaker})
    monitors.append(monitor)
    for _ in range(5):
        await monitor.run_once()
    assert monitor.states["api"].last is not None
    assert monitor.states["api"].last.error_kind is ErrorKind.CONNECTION_REFUSED
    assert breaker.state is BreakerState.CLOSED
    assert breaker.stats().failures == 0


async def _refuse() -> None:
    raise ConnectionRefusedError(111, "Connection refused")


async def test_results_reach_events_memory_and_snapshot(
    clock: FakeClock, monitors: list[HealthMonitor], http_server: HttpServer,
) -> None:
    http_server.route("/", body="ok")
    monitor = HealthMonitor(config(web("api", http_server.url + "/")), clock=clock)
    monitors.append(monitor)
    seen: list[ProbeResult] = []
    monitor.result_recorded.connect(seen.append)
    for _ in range(4):
        await monitor.run_once()
    assert len(seen) == 4
    assert len(monitor.memory.recent("api")) == 4
    (entry,) = monitor.snapshot()
    assert entry["name"] == "api"
    assert entry["status"] == "up"
    assert entry["success_rate"] == {"5m": 1.0, "1h": 1.0, "24h": 1.0}
    assert entry["latency_p95_ms"] >= entry["latency_p50_ms"] > 0
    assert entry["checked_at"].endswith("Z")


def test_success_windows_forget_old_slots() -> None:
    windows = SuccessWindows()
    windows.add(0, True)
    windows.add(10, False)
    assert windows.rates(20) == {"5m": 0.5, "1h": 0.5, "24h": 0.5}
    assert windows.rates(400)["5m"] is None  # both results are older than 5 minutes
    assert windows.rates(4000)["1h"] is None
    assert windows.rates(4000)["24h"] == 0.5
    assert windows.rates(90_000)["24h"] is None
    for t in range(0, 200_000, 30):  # fixed memory over days
        windows.add(t, t % 90 != 0)
    assert windows.rates(200_000)["24h"] == pytest.approx(2 / 3, abs=0.01)


def test_percentile_nearest_rank() -> None:
    assert percentile([], 95) is None
    assert percentile([5.0], 50) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0


async def test_the_local_network_condition_is_judged_again_when_targets_go(
    clock: FakeClock, monitors: list[HealthMonitor],
) -> None:
    """It used to stay active (unhealthy, 503) after its targets were removed or paused."""
    servers = [await silent_dns("127.0.0.1"), await silent_dns("127.0.0.2")]
    try:
        settings = config(direct_dns("a", servers[0]), direct_dns("b", servers[1]))
        monitor = HealthMonitor(settings, clock=clock)
        monitors.append(monitor)
        await monitor.run_once()
        assert monitor.local_network is not None and monitor.local_network.active
        monitor.pause("a")
        assert not monitor.local_network.active  # one silent host is no evidence
        monitor.resume("a")
        assert monitor.local_network.active
        monitor.apply_config(replace(settings, targets=[]))
        assert not monitor.local_network.active
    finally:
        for server in servers:
            await server.close()


class _HangingProbe:
    """A probe that never ends by itself (a probe bug): only the monitor's bound ends it."""

    def __init__(self, target: Target, context: ProbeContext) -> None:
        self.target = target
        self.context = context

    async def run(self) -> ProbeResult:
        if self.target.name.startswith("hangs"):
            await asyncio.Event().wait()
        return ProbeResult(self.target.name, self.target.kind, True, 1.0,
                           self.context.clock.now())


async def test_a_probe_that_never_ends_is_a_timeout_at_its_timeout_plus_a_second(
    clock: FakeClock, monitors: list[HealthMonitor],
) -> None:
    targets = [Target(name=name, kind="tcp", host="127.0.0.1", port=1, timeout_s=0.05)
               for name in ("hangs-1", "fine", "hangs-2")]
    monitor = HealthMonitor(config(*targets), clock=clock, probe_factory=_HangingProbe)
    monitors.append(monitor)
    async with asyncio.timeout(5):
        results = await monitor.run_once()
    assert [(r.target, r.ok, r.error_kind, r.error) for r in results] == [
        ("hangs-1", False, ErrorKind.TIMEOUT, "probe did not finish within 0.05s"),
        ("fine", True, None, None),
        ("hangs-2", False, ErrorKind.TIMEOUT, "probe did not finish within 0.05s")]
