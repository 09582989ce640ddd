"""NetmonCore wires breakers, monitor, auth, database and recovery from one config."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from core.commands.check import snapshot_once
from core.config import parse_config
from core.errors import ConfigError
from core.runtime import NetmonCore
from core.testing import FakeClock
from tests.support.fixtures import FaultProxyFactory
from tests.support.http_server import HttpServer


async def test_core_with_an_unreachable_database_starts_in_emergency_mode(
    tmp_path: Path, http_server: HttpServer
) -> None:
    http_server.route("/ok", body="ok")
    config = parse_config(f"""
[history]
path = '{tmp_path / "h.sqlite3"}'
[auth]
jwt_secret_env = "NETMON_TEST_UNSET_SECRET"
[database]
target = "db"
[[targets]]
name = "api"
kind = "http"
url = "{http_server.url}/ok"
[[targets]]
name = "db"
kind = "postgres"
dsn = "postgresql://app@db.something.invalid:5432/app"
critical = false
""")
    core = NetmonCore(config, clock=FakeClock())
    await core.start(schedule=False)
    try:
        await core.ready()
        await core.monitor.run_once()
        snapshot = core.status()
    finally:
        await core.stop()
    # the [database] target's probe feeds the database layer's breaker: no second one
    assert set(core.breakers) == {"api", "database", "auth"}
    db_entry = next(t for t in snapshot["targets"] if t["name"] == "db")
    assert db_entry["breaker"]["name"] == "database"
    assert core.auth is not None  # configured by reference, even while the secret is unset
    assert snapshot["auth"]["cached_tokens"] == 0
    assert snapshot["database"]["mode"] == "emergency"
    assert snapshot["database"]["last_error_kind"] == "dns_not_found"
    assert snapshot["status"] == "unhealthy"
    assert snapshot["http_status"] == 503
    ids = {s["id"] for s in snapshot["suggestions"]}
    assert "db_emergency_mode" in ids
    assert core.database is not None
    assert core.database.recovery_task is None or core.database.recovery_task.done()


def _blackholed_db_config(port: int, timeout_s: float) -> str:
    return f"""
[history]
enabled = false
[database]
target = "db"
[[targets]]
name = "db"
kind = "postgres"
dsn = "postgresql://app@127.0.0.1:{port}/app"
sslmode = "disable"
timeout_s = {timeout_s}
"""


async def test_start_with_a_blackholed_database_is_bounded_by_its_timeout(
    fault_proxy_factory: FaultProxyFactory,
) -> None:
    proxy = await fault_proxy_factory("127.0.0.1", 9, mode="blackhole")  # never answers
    timeout, margin = 0.5, 1.0
    core = NetmonCore(parse_config(_blackholed_db_config(proxy.port, timeout)),
                      clock=FakeClock(), with_history=False)
    try:
        started = time.perf_counter()
        async with asyncio.timeout(timeout + 5):
            await core.start(schedule=False)
        assert time.perf_counter() - started < timeout + margin
        assert core.database is not None
        health = core.database.health()
        assert health["status"] == "unknown" and health["connecting"] is True
        assert proxy.connections_total <= 1  # the connect attempt runs in the background
        async with asyncio.timeout(timeout + 5):
            await core.ready()
        assert time.perf_counter() - started < timeout + margin
        health = core.database.health()
        assert health["connecting"] is False
        assert health["status"] == "down" and health["mode"] == "emergency"
        assert health["error_kind"] == "timeout"
    finally:
        async with asyncio.timeout(5):
            await core.stop()
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("netmon-db-")]


async def test_stop_cancels_a_connect_in_flight(fault_proxy_factory: FaultProxyFactory) -> None:
    proxy = await fault_proxy_factory("127.0.0.1", 9, mode="blackhole")
    core = NetmonCore(parse_config(_blackholed_db_config(proxy.port, 30)), clock=FakeClock(),
                      with_history=False)
    async with asyncio.timeout(5):
        await core.start(schedule=False)
        while not proxy.connections_total:  # the background attempt is waiting on the proxy
            await asyncio.sleep(0.01)
        started = time.perf_counter()
        await core.stop()
    assert time.perf_counter() - started < 5.0  # not the connect's 30 s timeout
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("netmon-db-")]
    assert core.database is not None and core.database.health()["status"] == "down"


async def test_status_snapshot_with_a_blackholed_database_is_bounded(
    fault_proxy_factory: FaultProxyFactory,
) -> None:
    proxy = await fault_proxy_factory("127.0.0.1", 9, mode="blackhole")
    timeout, margin = 0.5, 1.0
    config = parse_config(_blackholed_db_config(proxy.port, timeout))
    started = time.perf_counter()
    async with asyncio.timeout(timeout + 5):
        snapshot = await snapshot_once(config, with_database=True)
    assert time.perf_counter() - started < timeout + margin
    assert snapshot["database"]["status"] == "down"
    assert snapshot["database"]["error_kind"] == "timeout"
    assert [t["error_kind"] for t in snapshot["targets"]] == ["timeout"]


@pytest.mark.parametrize("value", ["0", "-1", "'ten'"])
def test_acquire_timeout_must_be_a_positive_number(value: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(f"[database]\nacquire_timeout_s = {value}\n")
    assert "acquire_timeout_s" in str(err.value)
    assert parse_config("[database]\nacquire_timeout_s = 0.25\n").database.acquire_timeout_s == 0.25
