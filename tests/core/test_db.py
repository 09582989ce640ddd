"""DatabaseResilience against the real PostgreSQL cluster behind a fault proxy (no mocks)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from core.breaker import BreakerState
from core.config import Target
from core.db import DatabaseResilience, DatabaseUnavailableError, DbMode, DbStatus
from core.errors import CircuitOpenError, ErrorKind, classify
from core.retry import strategy
from core.secrets import store_secret
from core.testing import FakeClock, seeded_rng
from tests.support.fault_proxy import FaultProxy
from tests.support.fixtures import FaultProxyFactory
from tests.support.postgres import PostgresCluster

Factory = Callable[..., DatabaseResilience]
#: how a reset surfaces: ConnectionDoesNotExistError (a PostgresConnectionError) or an OSError
_NETWORK_ERRORS = (asyncpg.PostgresConnectionError, OSError)


def _target(cluster: PostgresCluster, **kw: Any) -> Target:
    return Target(name="db", kind="postgres", dsn=cluster.dsn_without_password(),
                  sslmode="disable", password_keyring="netmon/db", **kw)


def _our_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("netmon-db-")]


async def _until(predicate: Callable[[], bool], clock: FakeClock | None = None,
                 step: float = 31.0, limit: float = 10.0) -> None:
    """Poll real I/O (advancing the fake clock each round) until ``predicate`` holds."""
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        if clock is not None:
            clock.advance(step)
        await asyncio.sleep(0.02)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_db(
    postgres_cluster: PostgresCluster, clock: FakeClock
) -> AsyncIterator[Factory]:
    """``make_db(host=..., port=..., **options)``; every layer is closed at teardown."""
    store_secret("netmon/db", postgres_cluster.password)
    made: list[DatabaseResilience] = []

    def make(*, host: str = "127.0.0.1", port: int = 0, **options: Any) -> DatabaseResilience:
        target = _target(postgres_cluster, host=host, port=port or postgres_cluster.port)
        db = DatabaseResilience(target, clock=clock, rng=seeded_rng(), **options)
        made.append(db)
        return db

    yield make
    for db in made:
        await db.close()
    assert _our_tasks() == []


async def _proxy(cluster: PostgresCluster, factory: FaultProxyFactory,
                 mode: str = "pass") -> FaultProxy:
    return await factory(cluster.host, cluster.port, mode=mode)


async def test_start_normal_query_and_pool_health(make_db: Factory) -> None:
    db = make_db(pool_max=4)
    events: list[dict[str, Any]] = []
    db.health_changed.connect(events.append)
    started = await db.start()
    assert started["mode"] == "normal" and started["status"] == "up"
    assert await db.fetchval("SELECT 1") == 1
    assert [r["n"] for r in await db.fetch("SELECT generate_series(1, 3) AS n")] == [1, 2, 3]
    assert (await db.fetchrow("SELECT 2 AS two"))["two"] == 2
    health = db.health()
    assert health["pool"] == {"size": 1, "idle": 1, "in_use": 0, "max": 4}
    assert health["breaker"] == "closed"
    assert health["last_error_kind"] is None and health["error_kind"] is None
    assert isinstance(health["acquire_wait_p95_ms"], float)
    assert health["acquire_wait_p95_ms"] >= 0
    assert [(e["status"], e["connecting"]) for e in events] == [("unknown", True),
                                                                ("up", False)]
    # a query in flight shows up as in_use
    busy = asyncio.create_task(db.fetchval("SELECT pg_sleep(0.3)"))
    await _until(lambda: db.health()["pool"]["in_use"] == 1)
    await busy
    assert db.health()["pool"]["in_use"] == 0
    # an SQL error is the caller's problem, not the database's health
    with pytest.raises(Exception, match="syntax"):
        await db.execute("SELEC 1")
    assert db.health()["last_error_kind"] is None and db.breaker.state is BreakerState.CLOSED


async def test_cut_connection_is_replaced(
    make_db: Factory, postgres_cluster: PostgresCluster, fault_proxy_factory: FaultProxyFactory
) -> None:
    proxy = await _proxy(postgres_cluster, fault_proxy_factory)
    db = make_db(port=proxy.port)
    await db.start()
    assert await db.fetchval("SELECT 1") == 1
    assert proxy.connections_total == 1
    assert await proxy.cut() == 1
    assert await db.fetchval("SELECT 1") == 1  # no error: the dead connection was discarded
    assert proxy.connections_total == 2
    assert db.health()["pool"]["size"] == 1
    # cut in the middle of a query: the read fails over to a fresh connection by retry
    slow = asyncio.create_task(db.fetchval("SELECT pg_sleep(0.5)::text || 'done'"))
    await _until(lambda: db.health()["pool"]["in_use"] == 1)
    await asyncio.sleep(0.05)
    await proxy.cut()
    assert await slow == "done"
    assert proxy.connections_total == 3
    assert db.health()["last_error_kind"] == "connection_reset"


async def test_breaker_opens_rejects_without_connecting_and_recovers(
    make_db: Factory, clock: FakeClock, postgres_cluster: PostgresCluster,
    fault_proxy_factory: FaultProxyFactory,
) -> None:
    proxy = await _proxy(postgres_cluster, fault_proxy_factory)
    db = make_db(port=proxy.port)
    await db.start()
    assert await db.fetchval("SELECT 1") == 1
    await proxy.set_mode("reset")
    await proxy.cut()
    for i in range(3):
        assert db.breaker.state is BreakerState.CLOSED, i
        with pytest.raises(_NETWORK_ERRORS) as failed:
            await db.fetchval("SELECT 1")
        assert classify(failed.value) is ErrorKind.CONNECTION_RESET
    assert db.breaker.state is BreakerState.OPEN
    assert db.health()["status"] == "down" and db.health()["breaker"] == "open"
    assert db.health()["error_kind"] == "connection_reset"

    before = proxy.connections_total
    for _ in range(5):
        with pytest.raises(CircuitOpenError):
            await db.fetchval("SELECT 1")
        with pytest.raises(CircuitOpenError):
            await db.execute("SELECT 1", idempotent=True)
    assert proxy.connections_total == before  # refused at once: no connection attempt at all

    clock.advance(31)  # past the 30 s reset timeout: exactly one trial goes through
    assert db.health()["breaker"] == "half_open"
    outcomes = await asyncio.gather(db.execute("SELECT 1"), db.execute("SELECT 1"),
                                    return_exceptions=True)
    assert sum(isinstance(o, CircuitOpenError) for o in outcomes) == 1
    assert sum(classify(o) is ErrorKind.CONNECTION_RESET for o in outcomes
               if isinstance(o, BaseException)) == 1
    assert proxy.connections_total == before + 1
    assert db.health()["breaker"] == "open"  # the trial failed

    await proxy.set_mode("pass")
    clock.advance(31)
    assert await db.fetchval("SELECT 1") == 1
    assert db.health()["breaker"] == "closed" and db.health()["status"] == "up"


async def test_writes_are_retried_only_when_idempotent(
    make_db: Factory, postgres_cluster: PostgresCluster, fault_proxy_factory: FaultProxyFactory,
) -> None:
    proxy = await _proxy(postgres_cluster, fault_proxy_factory)
    db = make_db(port=proxy.port)
    await db.start()
    assert await db.execute("CREATE TEMP TABLE t (n int)") == "CREATE TABLE"
    await proxy.set_mode("reset")
    await proxy.cut()
    before = proxy.connections_total
    with pytest.raises(_NETWORK_ERRORS) as once:
        await db.execute("INSERT INTO t VALUES (1)")
    assert classify(once.value) is ErrorKind.CONNECTION_RESET
    assert proxy.connections_total == before + 1  # one attempt
    with pytest.raises(_NETWORK_ERRORS) as thrice:
        await db.execute("INSERT INTO t VALUES (1)", idempotent=True)
    assert classify(thrice.value) is ErrorKind.CONNECTION_RESET
    assert proxy.connections_total == before + 1 + 3  # the query strategy's 3 attempts
    assert "gave up after 3 attempts" in " ".join(getattr(thrice.value, "__notes__", []))


async def test_unresolvable_host_starts_in_emergency(make_db: Factory, clock: FakeClock) -> None:
    db = make_db(host="db.something.invalid", port=5432)
    health = await db.start()  # returns, does not raise
    assert health["mode"] == "emergency" and health["status"] == "down"
    assert health["last_error_kind"] == "dns_not_found" == health["error_kind"]
    assert "db.something.invalid" in health["last_error"]
    assert health["pool"] == {"size": 0, "idle": 0, "in_use": 0, "max": 2}
    assert health["next_attempt_at"] is not None
    assert [t.get_name() for t in _our_tasks()] == ["netmon-db-recovery-db"]
    # while nothing is reachable, operations fail fast with the classified cause
    for _ in range(3):
        with pytest.raises(DatabaseUnavailableError) as err:
            await db.fetchval("SELECT 1")
        assert classify(err.value) is ErrorKind.DNS_NOT_FOUND
    with pytest.raises(CircuitOpenError):  # three of them opened the breaker
        await db.fetchval("SELECT 1")
    clock.advance(31)  # background attempts keep failing without crashing anything
    await asyncio.sleep(0.05)
    clock.advance(31)
    await asyncio.sleep(0.05)
    assert db.mode is DbMode.EMERGENCY and db.health()["last_error_kind"] == "dns_not_found"
    assert db.recovery_task is not None and not db.recovery_task.done()


async def test_emergency_returns_to_normal_by_itself(
    make_db: Factory, clock: FakeClock, postgres_cluster: PostgresCluster,
    fault_proxy_factory: FaultProxyFactory,
) -> None:
    proxy = await _proxy(postgres_cluster, fault_proxy_factory, mode="refuse")
    db = make_db(port=proxy.port)
    events: list[dict[str, Any]] = []
    db.health_changed.connect(events.append)
    health = await db.start()
    assert health["mode"] == "emergency" and health["status"] == "down"
    assert health["last_error_kind"] == "connection_refused"
    assert len(clock.sleeps) == 4  # the connect strategy: 5 attempts, 4 backoff waits
    with pytest.raises(DatabaseUnavailableError):
        await db.fetchval("SELECT 1")
    await proxy.set_mode("pass")
    await _until(lambda: db.mode is DbMode.NORMAL, clock)
    assert db.status is DbStatus.UP
    assert await db.fetchval("SELECT 1") == 1
    assert db.health()["pool"]["max"] == 10 and db.health()["next_attempt_at"] is None
    assert [(e["mode"], e["status"]) for e in events] == [("normal", "unknown"),
                                                         ("emergency", "down"),
                                                         ("normal", "up")]
    await _until(lambda: not _our_tasks())  # the recovery task finished


async def test_emergency_pool_when_only_a_small_pool_fits(
    make_db: Factory, postgres_cluster: PostgresCluster,
) -> None:
    # Five connections are demanded by the normal pool but the role may open only two.
    admin = await asyncpg.connect(postgres_cluster.dsn())
    try:
        await admin.execute("CREATE ROLE small LOGIN PASSWORD 'small-pw' CONNECTION LIMIT 2")
        store_secret("netmon/small", "small-pw")
        target = Target(name="small", kind="postgres", sslmode="disable",
                        dsn=f"postgresql://small@127.0.0.1:{postgres_cluster.port}/"
                            f"{postgres_cluster.database}",
                        password_keyring="netmon/small")
        clock = FakeClock()
        db = DatabaseResilience(target, clock=clock, rng=seeded_rng(), pool_min=5)
        try:
            health = await db.start()
            assert health["mode"] == "emergency"
            # The small pool opens at start or, when the server still counts the two
            # connections the failed normal pool has just closed (a backend ends a moment
            # after its client closes), at a background attempt: the emergency attempt is
            # retried, but this fake clock's retry waits take no real time. The two tests
            # below pin both paths deterministically.
            await _until(lambda: db.health()["status"] == "degraded", clock)
            health = db.health()
            assert health["mode"] == "emergency" and health["pool"]["max"] == 2
            assert await db.fetchval("SELECT 1") == 1
        finally:
            await db.close()
    finally:
        await admin.execute("DROP ROLE IF EXISTS small")
        await admin.close()


_TIGHT_PASSWORD = "tight-pw"


@pytest.fixture
async def tight_role(postgres_cluster: PostgresCluster) -> AsyncIterator[Target]:
    """A role that may hold two connections, and a target that logs in as it."""
    admin = await asyncpg.connect(postgres_cluster.dsn())
    try:
        await admin.execute(
            f"CREATE ROLE tight LOGIN PASSWORD '{_TIGHT_PASSWORD}' CONNECTION LIMIT 2")
        store_secret("netmon/tight", _TIGHT_PASSWORD)
        yield Target(name="tight", kind="postgres", sslmode="disable",
                     dsn=f"postgresql://tight@127.0.0.1:{postgres_cluster.port}/"
                         f"{postgres_cluster.database}",
                     password_keyring="netmon/tight")
    finally:
        await admin.execute("DROP ROLE IF EXISTS tight")
        await admin.close()


class _Slots:
    """Connections the test holds as a role, released on demand."""

    def __init__(self, cluster: PostgresCluster, role: str) -> None:
        self.cluster, self.role = cluster, role
        self.held: list[asyncpg.Connection] = []

    async def take(self, count: int, password: str) -> None:
        for _ in range(count):
            self.held.append(await asyncpg.connect(
                host=self.cluster.host, port=self.cluster.port, user=self.role,
                database=self.cluster.database, password=password, ssl=False))

    async def release(self) -> None:
        """Close them, then wait until the server no longer counts their backends."""
        held, self.held = self.held, []
        for conn in held:
            await conn.close()
        admin = await asyncpg.connect(self.cluster.dsn())
        try:
            limit = time.monotonic() + 5.0
            query = "SELECT count(*) FROM pg_stat_activity WHERE usename = $1"
            while await admin.fetchval(query, self.role):
                assert time.monotonic() < limit, "the backends did not end"
                await asyncio.sleep(0.005)
        finally:
            await admin.close()


class _ReleasingClock(FakeClock):
    """A FakeClock whose ``release_at``-th sleep (1-based, a retry wait) first runs ``release``."""

    def __init__(self, release: Callable[[], Awaitable[None]]) -> None:
        super().__init__()
        self.release = release
        self.release_at: int | None = None  # None: never
        self.released_at: int | None = None

    async def sleep(self, seconds: float) -> None:
        if len(self.sleeps) + 1 == self.release_at and self.released_at is None:
            self.released_at = self.release_at
            await self.release()
        await super().sleep(seconds)


def _tight_db(target: Target, clock: FakeClock) -> DatabaseResilience:
    """Five connections demanded by the normal pool, two attempts per connect retry."""
    return DatabaseResilience(target, clock=clock, rng=seeded_rng(), pool_min=5,
                              connect_timeout=5.0,
                              connect_policy=strategy("connect", max_attempts=2))


async def test_emergency_pool_opens_at_start_once_the_roles_slots_free_up_in_time(
    tight_role: Target, postgres_cluster: PostgresCluster,
) -> None:
    # The role's two slots are taken (as by the normal pool's own connections, which the
    # server still counts a moment after they were closed) through the normal pool's two
    # attempts and the first emergency attempt, and free up before a retry of it would run,
    # well inside the start budget: the small pool must open at start.
    slots = _Slots(postgres_cluster, "tight")
    await slots.take(2, _TIGHT_PASSWORD)
    clock = _ReleasingClock(slots.release)
    clock.release_at = 2  # wait 1 is the normal pool's retry wait; wait 2 only a retry of
    db = _tight_db(tight_role, clock)  # the emergency attempt can make
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        health = await db.start()
        took = loop.time() - began
        assert (health["mode"], health["status"], health["pool"]["max"]) == (
            "emergency", "degraded", 2), health
        assert clock.released_at == 2 and len(clock.sleeps) == 2
        assert health["last_error_kind"] == "connection_refused"  # too many connections
        assert took < db.connect_timeout
        assert await db.fetchval("SELECT 1") == 1
    finally:
        await db.close()
        await slots.release()


async def test_background_attempt_retries_the_emergency_pool_once_slots_free_up(
    tight_role: Target, postgres_cluster: PostgresCluster,
) -> None:
    slots = _Slots(postgres_cluster, "tight")
    await slots.take(2, _TIGHT_PASSWORD)
    clock = _ReleasingClock(slots.release)  # the slots stay taken through the start
    db = _tight_db(tight_role, clock)
    try:
        health = await db.start()
        assert (health["mode"], health["status"]) == ("emergency", "down")
        planned = health["next_attempt_at"]
        clock.release_at = len(clock.sleeps) + 1  # free them at the next retry wait
        await _until(lambda: clock.pending_timers == 1)  # the recovery task waits on the clock
        clock.advance(31)  # one background attempt (the first delay is at most 30 s)
        await _until(lambda: db.health()["next_attempt_at"] != planned)  # it has ended
        health = db.health()
        assert (health["mode"], health["status"], health["pool"]["max"]) == (
            "emergency", "degraded", 2), health
        assert clock.released_at is not None
        assert await db.fetchval("SELECT 1") == 1
    finally:
        await db.close()
        await slots.release()


async def test_wrong_password_is_never_shown(
    make_db: Factory, memory_keyring: Any,
) -> None:
    store_secret("netmon/db", "hunter2-not-the-password")
    db = make_db()
    health = await db.start()
    assert health["mode"] == "emergency"
    assert health["last_error_kind"] == "auth_failed"
    text = json.dumps(health)
    assert "hunter2" not in text
    with pytest.raises(DatabaseUnavailableError) as err:
        await db.fetchval("SELECT 1")
    assert "hunter2" not in str(err.value)


async def test_reconnect_returns_before_and_after(
    make_db: Factory, postgres_cluster: PostgresCluster, fault_proxy_factory: FaultProxyFactory,
) -> None:
    proxy = await _proxy(postgres_cluster, fault_proxy_factory)
    db = make_db(port=proxy.port)
    await db.start()
    assert await db.fetchval("SELECT 1") == 1
    result = await db.reconnect()
    assert result["ok"] is True
    assert result["before"]["status"] == result["after"]["status"] == "up"
    assert proxy.connections_total == 2 and proxy.connections_active == 1
    assert await db.fetchval("SELECT 1") == 1


async def test_close_is_bounded_and_leaves_no_tasks(
    make_db: Factory, postgres_cluster: PostgresCluster, fault_proxy_factory: FaultProxyFactory,
) -> None:
    db = make_db(close_timeout=0.3)
    await db.start()
    busy = asyncio.create_task(db.fetchval("SELECT pg_sleep(10)"))
    await _until(lambda: db.health()["pool"]["in_use"] == 1)
    started = time.perf_counter()
    await db.close()
    assert time.perf_counter() - started < 2.0
    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError,
                        DatabaseUnavailableError)):
        await busy  # terminated under the query (a retry then finds the layer closed)
    assert db.status is DbStatus.DOWN and _our_tasks() == []
    with pytest.raises(DatabaseUnavailableError, match="closed"):
        await db.fetchval("SELECT 1")
    # emergency mode: close() cancels and awaits the recovery task
    proxy = await _proxy(postgres_cluster, fault_proxy_factory, mode="refuse")
    stuck = make_db(port=proxy.port)
    await stuck.start()
    assert _our_tasks()
    await stuck.close()
    assert _our_tasks() == []


async def _timed_failure(call: Any, bound: float) -> tuple[float, BaseException]:
    """Run ``call``; return (seconds taken, error). A guard stops it at ``bound + 2``."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(bound + 2.0):
            await call
    except Exception as exc:  # the error is what we measure
        return time.perf_counter() - started, exc
    raise AssertionError("the call succeeded")


async def test_blackholed_database_calls_end_within_their_timeout_and_open_the_breaker(
    make_db: Factory, postgres_cluster: PostgresCluster, fault_proxy_factory: FaultProxyFactory,
) -> None:
    proxy = await _proxy(postgres_cluster, fault_proxy_factory)
    db = make_db(port=proxy.port)
    await db.start()
    assert await db.fetchval("SELECT 1") == 1
    await proxy.set_mode("blackhole")  # the pooled connection goes silent
    timeout, margin = 0.3, 0.5
    took, error = await _timed_failure(db.fetchval("SELECT 1", timeout=timeout), timeout)
    assert took < timeout + margin, f"{took:.2f}s"
    assert classify(error) is ErrorKind.TIMEOUT
    assert db.breaker.state is BreakerState.CLOSED
    await proxy.cut()  # from now on every new connection is accepted and never answered
    for i in range(1, db.breaker.failure_threshold):
        assert db.breaker.state is BreakerState.CLOSED, i
        took, error = await _timed_failure(db.execute("SELECT 1", timeout=timeout,
                                                      idempotent=True), timeout)
        assert took < timeout + margin, f"call {i}: {took:.2f}s"
        assert classify(error) is ErrorKind.TIMEOUT
    assert db.breaker.state is BreakerState.OPEN
    assert db.health()["error_kind"] == "timeout" and db.health()["status"] == "down"
    took, error = await _timed_failure(db.fetchval("SELECT 1", timeout=timeout), timeout)
    assert isinstance(error, CircuitOpenError) and took < 0.1


async def test_acquire_timeout_bounds_each_attempt_inside_the_call_deadline(
    make_db: Factory, postgres_cluster: PostgresCluster, fault_proxy_factory: FaultProxyFactory,
) -> None:
    proxy = await _proxy(postgres_cluster, fault_proxy_factory)
    db = make_db(port=proxy.port, acquire_timeout=0.2)
    await db.start()
    await proxy.set_mode("blackhole")
    await proxy.cut()
    before = proxy.connections_total
    took, error = await _timed_failure(db.fetchval("SELECT 1", timeout=1.5), 1.5)
    assert classify(error) is ErrorKind.TIMEOUT
    assert took < 1.5 + 0.5, f"{took:.2f}s"
    # each attempt gave up on its connection after 0.2 s; retries ran while time was left
    assert proxy.connections_total - before >= 2
    assert db.breaker.stats().failures == 1  # one verdict per call


async def test_reconnect_reports_a_refused_database_as_not_ok(
    make_db: Factory, postgres_cluster: PostgresCluster, fault_proxy_factory: FaultProxyFactory,
) -> None:
    proxy = await _proxy(postgres_cluster, fault_proxy_factory)
    db = make_db(port=proxy.port)
    await db.start()
    await proxy.set_mode("refuse")
    await proxy.cut()
    result = await db.reconnect()
    assert result["ok"] is False
    assert result["error_kind"] == "connection_refused"
    assert isinstance(result["error"], str) and result["error"]
    assert "\n" not in result["error"] and postgres_cluster.password not in result["error"]
    assert result["before"]["status"] == "up"
    assert result["after"]["status"] == "down" and result["after"]["mode"] == "emergency"
    assert postgres_cluster.password not in json.dumps(result)
    await proxy.set_mode("pass")
    healed = await db.reconnect()
    assert healed["ok"] is True and "error_kind" not in healed and "error" not in healed
    assert healed["before"]["status"] == "down" and healed["after"]["status"] == "up"
