"""Recovery actions with their audit trail, suggestion rules and the status snapshot,
over real probes of loopback servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.auth import ResilientAuthService
from core.breaker import BreakerState, CircuitBreaker
from core.config import AuthSettings, Config, MonitorSettings, Target
from core.history import HistoryStore
from core.monitor import HealthMonitor
from core.recovery import AuditEntry, Origin, RecoveryActions, suggest
from core.secrets import store_secret
from core.status import build, exit_code_for, overall_status
from core.testing import FakeClock
from core.tokens import AuthError
from tests.support.dns_server import DnsServer
from tests.support.http_server import HttpServer
from tests.support.netutil import free_tcp_port as closed_tcp_port
from tests.support.supabase import HS_SECRET, SupabaseFake


async def _refuse() -> None:
    raise ConnectionRefusedError(111, "Connection refused")


async def open_breaker(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.failure_threshold):
        with pytest.raises(ConnectionRefusedError):
            await breaker.call(_refuse)
    assert breaker.state is BreakerState.OPEN


def cfg(*targets: Target) -> Config:
    return Config(monitor=MonitorSettings(timeout_s=1.0, down_after=1), targets=list(targets))


async def test_reset_breaker_records_before_after_and_audit(tmp_path: Path) -> None:
    clock = FakeClock()
    breakers = {n: CircuitBreaker(n, clock=clock) for n in ("api", "db")}
    await open_breaker(breakers["db"])
    history = HistoryStore(tmp_path / "h.sqlite3", clock=clock)
    await history.start()
    actions = RecoveryActions(breakers=breakers, history=history, clock=clock)
    seen: list[AuditEntry] = []
    actions.audited.connect(seen.append)
    one = await actions.reset_breaker("db", origin=Origin.REMOTE, subject="ops@example.test")
    assert one == {"ok": True,
                   "breakers": [{"name": "db", "before": "open", "after": "closed"}]}
    everything = await actions.reset_breaker()
    assert [b["name"] for b in everything["breakers"]] == ["api", "db"]
    with pytest.raises(KeyError, match="no breaker named 'nope'"):
        await actions.reset_breaker("nope")
    assert [(e.action, e.origin, e.ok) for e in actions.trail] == [
        ("reset_breaker", Origin.REMOTE, True), ("reset_breaker", Origin.LOCAL, True),
        ("reset_breaker", Origin.LOCAL, False)]
    assert seen[0].subject == "ops@example.test"
    stored = await history.audit()
    await history.close()
    assert [e["ok"] for e in stored] == [False, True, True]
    assert stored[-1]["subject"] == "ops@example.test"
    assert stored[-1]["detail"]["breakers"][0]["before"] == "open"
    reopened = HistoryStore(tmp_path / "h.sqlite3", clock=clock)
    await reopened.start()
    assert len(await reopened.audit()) == 3  # kept with the history across restarts
    await reopened.close()


async def test_clear_auth_cache_and_failed_tokens_suggestion(
    http_server: HttpServer,
) -> None:
    clock = FakeClock()
    fake = SupabaseFake(http_server, clock)
    store_secret("netmon/jwt", HS_SECRET)
    auth = ResilientAuthService.from_settings(
        AuthSettings(jwt_secret_keyring="netmon/jwt", audience="authenticated"), clock=clock)
    await auth.verify(fake.token())
    for i in range(10):
        with pytest.raises(AuthError):
            await auth.verify(fake.token(exp_in=-600, sub=f"old{i}"))
    (hint,) = suggest(auth=auth.stats())
    assert hint["id"] == "failed_tokens"
    assert hint["action"] == "clear_auth_cache"
    actions = RecoveryActions(auth=auth, clock=clock)
    result = await actions.clear_auth_cache()
    assert result["cleared"] == {"cached": 1, "failed": 10}
    assert result["after"] == {"cached_tokens": 0, "failed_tokens": 0}
    assert suggest(auth=auth.stats()) == []


async def test_probe_all_reports_status_changes(http_server: HttpServer) -> None:
    http_server.route("/", body="ok")
    monitor = HealthMonitor(cfg(Target(name="api", kind="http", url=http_server.url + "/")))
    actions = RecoveryActions(monitor=monitor)
    result = await actions.probe_all()
    assert result == {"ok": True, "results": 1, "answered": 1, "before": {"api": "unknown"},
                      "after": {"api": "up"}}
    await monitor.stop()


async def test_suggestions_from_real_failures(
    dns_server: DnsServer, tls_http_server: HttpServer, http_server: HttpServer,
) -> None:
    http_server.route("/", body="ok")
    tls_http_server.route("/", body="ok")
    dns_server.add_a("split.corp.invalid", "10.9.9.9")
    targets = [
        Target(name="split", kind="dns", host="split.corp.invalid", system_nameservers=False,
               nameservers=[f"127.0.0.1:{dns_server.port}"]),
        Target(name="secure", kind="http", url=tls_http_server.url + "/"),
        Target(name="api", kind="http", url=http_server.url + "/"),
        Target(name="ghost", kind="tcp", host="ghost.corp.invalid", port=443,
               breaker="ghost-db"),
    ]
    clock = FakeClock()
    breakers = {"api": CircuitBreaker("api", clock=clock),
                "ghost-db": CircuitBreaker("ghost-db", clock=clock)}
    monitor = HealthMonitor(cfg(*targets), clock=clock, breakers=breakers)
    for _ in range(3):  # the monitor's own failures open ghost's breaker
        await monitor.run_once()
    assert breakers["ghost-db"].state is BreakerState.OPEN
    breakers["api"].force_open()  # held open by hand while its probes succeed
    hints = {h["id"]: h for h in suggest(monitor=monitor, breakers=breakers.values(),
                                         database={"mode": "emergency"})}
    split = hints["os_resolver_only:split"]
    assert split["severity"] == "warning"
    assert "VPN split DNS" in split["detail"]
    assert f"OS: not found; 127.0.0.1:{dns_server.port}: 10.9.9.9" in split["detail"]
    assert split["action"] == "diagnose"
    tls = hints["tls_error:secure"]
    assert tls["title"] == f"secure: tls error at {tls_http_server.url.split('//')[1]}"
    assert "clock" in tls["detail"]
    ghost = hints["dns_not_found:ghost"]
    assert ghost["severity"] == "critical"
    assert ghost["title"] == "ghost: name not found at ghost.corp.invalid:443"
    assert "ipconfig /flushdns" in ghost["detail"]
    assert "Circuit 'ghost-db' is open, retries at" in ghost["detail"]
    assert ghost["target"] == "ghost"
    assert hints["breaker_open_probes_ok:api"]["action"] == "reset_breaker"
    assert hints["db_emergency_mode"]["action"] == "reconnect_database"
    ordered = suggest(monitor=monitor, breakers=breakers.values())
    assert ordered[0]["severity"] == "critical"
    snapshot = build(monitor=monitor, breakers=breakers.values(), clock=clock)
    assert snapshot["status"] == "unhealthy"  # secure and ghost are critical and down
    assert snapshot["reason"] == "down: secure, ghost"
    assert snapshot["http_status"] == 503
    assert exit_code_for(snapshot["status"]) == 2
    assert {b["name"]: b["state"] for b in snapshot["breakers"]} == {
        "api": "forced_open", "ghost-db": "open"}
    entry = next(t for t in snapshot["targets"] if t["name"] == "ghost")
    assert entry["breaker"]["state"] == "open"
    assert "breaker 'ghost-db' open since" in entry["reason"]
    assert json.loads(json.dumps(snapshot)) == snapshot  # JSON-able as is
    await monitor.stop()


async def test_snapshot_shape_matches_the_architecture(http_server: HttpServer) -> None:
    http_server.route("/", body="ok")
    monitor = HealthMonitor(cfg(Target(name="api", kind="http", url=http_server.url + "/")))
    await monitor.run_once()
    snapshot = build(monitor=monitor, breakers=[CircuitBreaker("api")],
                     auth={"cached_tokens": 0, "failed_tokens": 0, "hits": 0, "misses": 0,
                           "offline_validations": 0},
                     database={"status": "up", "mode": "normal",
                               "pool": {"size": 1, "idle": 1, "in_use": 0, "max": 10}})
    await monitor.stop()
    assert {"status", "http_status", "generated_at", "targets", "breakers", "auth",
            "database", "suggestions"} <= set(snapshot)
    (target,) = snapshot["targets"]
    assert {"name", "kind", "status", "latency_ms", "phases", "error_kind", "error",
            "checked_at", "success_rate"} <= set(target)
    (breaker,) = snapshot["breakers"]
    assert {"name", "state", "consecutive_failures", "failure_threshold", "reset_timeout_s",
            "opened_at", "retry_at", "calls", "failures", "rejected"} <= set(breaker)
    assert snapshot["status"] == "healthy"
    assert snapshot["generated_at"].endswith("Z")


async def test_overall_status_is_unknown_until_measured(http_server: HttpServer) -> None:
    """Zero targets, or no result yet, used to read as a green "healthy"."""
    empty = build(monitor=HealthMonitor(cfg()))
    assert (empty["status"], empty["http_status"], empty["reason"]) == (
        "unknown", 503, "no targets configured")
    assert exit_code_for(empty["status"]) == 3
    http_server.route("/", body="ok")
    targets = [Target(name="api", kind="http", url=http_server.url + "/"),
               Target(name="extra", kind="http", url=http_server.url + "/", critical=False)]
    monitor = HealthMonitor(cfg(*targets))
    waiting = build(monitor=monitor)
    assert (waiting["status"], waiting["http_status"]) == ("unknown", 503)
    assert waiting["reason"] == "waiting for the first results (api)"
    await monitor.probe_now("api")
    measured = build(monitor=monitor)  # the non-critical target is not waited for
    assert (measured["status"], measured["http_status"]) == ("healthy", 200)
    assert measured["reason"] == "every critical target is up (1 non-critical not probed yet)"
    await monitor.stop()


async def test_every_failing_target_has_a_suggestion_naming_it(
    http_server: HttpServer,
) -> None:
    """The console said "nothing needs your attention" beside five down targets."""
    http_server.route("/broken", status=503, body="down for maintenance")
    refused = closed_tcp_port()
    targets = [
        Target(name="svc", kind="tcp", host="127.0.0.1", port=refused),
        Target(name="web", kind="http", url=http_server.url + "/broken"),
        Target(name="gone", kind="dns", host="gone.corp.invalid", system_nameservers=False),
    ]
    monitor = HealthMonitor(cfg(*targets))
    await monitor.run_once()
    hints = suggest(monitor=monitor)
    by_target = {h["target"]: h for h in hints}
    assert set(by_target) == {"svc", "web", "gone"}
    svc = by_target["svc"]
    assert svc["id"] == "connection_refused:svc"
    assert svc["severity"] == "critical"
    assert svc["title"] == f"svc: connection refused at 127.0.0.1:{refused}"
    assert f"Test-NetConnection 127.0.0.1 -Port {refused}" in svc["detail"]
    assert svc["action"] == "probe_now"
    web = by_target["web"]
    assert web["id"] == "http_server_error:web"
    assert "HTTP 503" in web["detail"]
    assert "its own health" in web["detail"]
    gone = by_target["gone"]
    assert gone["action"] == "diagnose"
    assert "gone.corp.invalid" in gone["title"]
    await monitor.stop()


async def test_probe_now_and_diagnose_actions_name_their_target(
    http_server: HttpServer,
) -> None:
    http_server.route("/", body="ok")
    monitor = HealthMonitor(cfg(Target(name="api", kind="http", url=http_server.url + "/")))
    actions = RecoveryActions(monitor=monitor)
    probed = await actions.probe_now("api")
    assert (probed["ok"], probed["before"], probed["after"]) == (True, "unknown", "up")
    found = await actions.diagnose("api")
    assert found["ok"] is True
    assert found["status"] == "up"
    assert found["diagnosis"]["port"] == int(http_server.url.rsplit(":", 1)[1])
    with pytest.raises(KeyError, match="needs the name of an enabled target"):
        await actions.probe_now("nope")
    assert [(e.action, e.ok) for e in actions.trail] == [
        ("probe_now", True), ("diagnose", True), ("probe_now", False)]
    await monitor.stop()


def test_a_database_still_connecting_is_not_called_healthy() -> None:
    up = [{"name": "api", "status": "up"}]
    assert overall_status(up, database={"status": "unknown", "mode": "normal"}) == (
        "unknown", 503, "waiting for the first results (database)")
    assert overall_status(up, database={"status": "up", "mode": "normal"})[0] == "healthy"
    assert overall_status(up, database={"status": "down", "mode": "emergency",
                                        "error_kind": "timeout"}) == (
        "unhealthy", 503, "down: database")


def test_a_paused_target_is_not_waited_for() -> None:
    targets = [{"name": "api", "status": "up"},
               {"name": "batch", "status": "unknown", "paused": True}]
    assert overall_status(targets)[:2] == ("healthy", 200)
