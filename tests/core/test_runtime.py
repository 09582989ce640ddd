"""NetmonCore wires breakers, monitor, auth, database and recovery from one config."""

from __future__ import annotations

from pathlib import Path

from core.config import parse_config
from core.runtime import NetmonCore
from core.testing import FakeClock
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
