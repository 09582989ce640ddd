"""RemoteBackend against a misbehaving loopback HTTP server (no real sleeps for retries)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from core.config import Config, RemoteSettings, load_config, parse_config, save_config
from core.errors import ConfigError, ErrorKind
from core.remote import (
    MAX_RAW_CHARS,
    RemoteBackend,
    RemoteResult,
    normalize_snapshot,
    resolve_remote,
)
from core.retry import strategy
from core.secrets import SecretRef, store_secret
from core.testing import FakeClock, seeded_rng
from tests.support.http_server import HttpServer, Request, Response
from tests.support.netutil import free_tcp_port
from tests.support.secrets_watch import watch

TOKEN = watch("remote-test-token-3f9a7c1e")
ENTRY = "netmon/remote-test"
API = "/api/v1/system"
STATUS = f"{API}/status/comprehensive"
RESET = f"{API}/recovery/circuit-breaker/reset"
CLEAR = f"{API}/recovery/auth-cache/clear"

TARGET = {"name": "api", "kind": "http", "status": "up", "reason": "", "latency_ms": 12.5,
          "phases": {"connect": 1.0}, "error_kind": None, "error": None,
          "checked_at": "2026-01-01T00:00:00Z",
          "success_rate": {"5m": 1.0, "1h": 1.0, "24h": 0.99},
          "latency_p50_ms": 12.0, "latency_p95_ms": 20.0, "paused": False, "missed": 0}
BREAKER = {"name": "db", "state": "closed", "consecutive_failures": 0, "failure_threshold": 3,
           "reset_timeout_s": 30.0, "opened_at": None, "retry_at": None, "calls": 4,
           "failures": 0, "rejected": 0}
SUGGESTION = {"id": "breaker_open:db", "severity": "warning", "title": "Circuit 'db' is open",
              "detail": "reset it", "action": "reset_breaker", "target": None}
SNAPSHOT: dict[str, Any] = {
    "status": "healthy", "http_status": 200, "generated_at": "2026-01-01T00:00:00Z",
    "targets": [TARGET], "conditions": [], "breakers": [BREAKER],
    "auth": {"cached_tokens": 1, "failed_tokens": 0, "failed_attempts": 0, "hits": 3,
             "misses": 1, "remote": 1, "local": 0, "offline": 0, "refused": 0, "evicted": 0,
             "offline_validations": 0, "breaker": "closed"},
    "database": {"status": "up", "mode": "normal",
                 "pool": {"size": 2, "idle": 1, "in_use": 1, "max": 10}},
    "suggestions": [SUGGESTION],
}

Make = Callable[..., RemoteBackend]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make(clock: FakeClock) -> AsyncIterator[Make]:
    """``make(url, **kwargs)``: a backend with the test token, a fake clock and seeded RNG."""
    store_secret(ENTRY, TOKEN)
    made: list[RemoteBackend] = []

    def factory(url: str, **kwargs: Any) -> RemoteBackend:
        kwargs.setdefault("token", SecretRef(keyring=ENTRY))
        backend = RemoteBackend("test", url, clock=clock, rng=seeded_rng(), **kwargs)
        made.append(backend)
        return backend

    yield factory
    for backend in made:
        await backend.aclose()


def no_token_in(result: RemoteResult) -> None:
    assert TOKEN not in repr(result) and TOKEN not in str(result.as_dict())


# --- answers ---------------------------------------------------------------------------
async def test_healthy_snapshot_sends_the_bearer_and_keeps_netmon_fields_quietly(
    http_server: HttpServer, make: Make,
) -> None:
    http_server.route(STATUS, body=SNAPSHOT)
    result = await make(http_server.url).status()
    assert result.ok and result.status_code == 200 and result.error is None
    assert result.problems == []
    assert result.data == SNAPSHOT
    assert result.raw is not None and '"healthy"' in result.raw
    assert result.endpoint == f"GET {STATUS}" and result.attempts == 1
    assert http_server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    no_token_in(result)


async def test_extra_and_missing_fields_are_flagged_and_the_raw_body_kept(
    http_server: HttpServer, make: Make,
) -> None:
    body = {"status": "sideways", "generated_at": "x", "vendor": {"v": 1},
            "targets": [{"name": "api", "state": "up", "latencyMs": 5, "colour": "green"},
                        "junk"],
            "breakers": [{"name": "b", "state": "melted"}],
            "suggestions": [{"id": "s", "level": "info", "title": "t", "message": "m"}],
            "database": None}
    http_server.route(STATUS, body=body)
    result = await make(http_server.url).status()
    assert result.ok and result.raw is not None and '"vendor"' in result.raw
    data, problems = result.data, result.problems
    assert data["vendor"] == {"v": 1} and "extra field 'vendor'" in problems
    assert "unknown status value 'sideways' in the answer" in problems
    assert data["http_status"] is None and "missing field 'http_status'" in problems
    assert data["auth"] is None and "missing field 'auth'" in problems
    assert data["database"] is None and not any("'database'" in p for p in problems)
    target = data["targets"][0]
    assert (target["status"], target["latency_ms"], target["colour"]) == ("up", 5, "green")
    assert target["error"] is None and target["phases"] == {}
    assert target["success_rate"] == {"5m": None, "1h": None, "24h": None}
    assert "field 'latencyMs' read as 'latency_ms' in targets[0] (api)" in problems
    assert "extra field 'colour' in targets[0] (api)" in problems
    assert "missing field 'kind' in targets[0] (api)" in problems
    assert "expected an object in targets[1], got a string; skipped" in problems
    assert len(data["targets"]) == 1
    assert data["breakers"][0]["failure_threshold"] is None
    assert "unknown state value 'melted' in breakers[0] (b)" in problems
    assert data["suggestions"][0]["severity"] == "info"
    assert data["suggestions"][0]["detail"] == "m"
    assert data["conditions"] == []


def test_normalize_snapshot_of_anything() -> None:
    empty, problems = normalize_snapshot([1, 2])
    assert problems == ["expected an object, got a list"]
    assert set(empty) == {"status", "http_status", "generated_at", "targets", "breakers",
                          "auth", "database", "suggestions", "conditions"}
    data, problems = normalize_snapshot({**SNAPSHOT, "targets": {"api": {}}})
    assert data["targets"] == [] and problems == ["expected a list in targets, got an object"]


async def test_fastapi_401_uses_the_www_authenticate_description(
    http_server: HttpServer, make: Make,
) -> None:
    http_server.route(STATUS, 401, {"detail": "Not authenticated"}, headers={
        "WWW-Authenticate": 'Bearer realm="netmon", error="invalid_token", '
                            'error_description="token expired"'})
    result = await make(http_server.url).status()
    assert not result.ok and result.status_code == 401
    assert result.error_kind is ErrorKind.AUTH_FAILED
    assert result.error is not None
    assert result.error.startswith("the token was refused (token expired)")
    assert result.data == {"detail": "Not authenticated"} and result.attempts == 1
    no_token_in(result)


async def test_401_without_a_challenge_falls_back_to_the_detail(
    http_server: HttpServer, make: Make,
) -> None:
    http_server.route(f"{API}/recovery/suggestions", 401, {"detail": "Not authenticated"})
    result = await make(http_server.url).suggestions()
    assert result.error is not None and "refused (Not authenticated)" in result.error


async def test_403_says_the_role_is_missing(http_server: HttpServer, make: Make) -> None:
    http_server.route(STATUS, 403, {"detail": "the token's 'role' claim must be 'admin'"})
    result = await make(http_server.url).status()
    assert result.error_kind is ErrorKind.AUTH_FAILED
    assert result.error == ("the token is valid but lacks the required role "
                            "(the token's 'role' claim must be 'admin')")


async def test_422_validation_detail_list_becomes_one_line(
    http_server: HttpServer, make: Make,
) -> None:
    http_server.route(RESET, 422, {"detail": [
        {"loc": ["query", "name"], "msg": "String should have at most 200 characters",
         "type": "string_too_long"},
        {"loc": ["query", "x"], "msg": "Field required"}]})
    result = await make(http_server.url).reset_breaker("n" * 300)
    assert result.error_kind is ErrorKind.HTTP_CLIENT_ERROR
    assert result.error == ("HTTP 422 Unprocessable Entity: query.name: String should have at "
                            "most 200 characters; query.x: Field required")


async def test_html_502_from_a_proxy_is_retried_then_reported(
    http_server: HttpServer, make: Make, clock: FakeClock,
) -> None:
    http_server.fault("/health", "html_502")
    result = await make(http_server.url).health()
    assert not result.ok and result.status_code == 502
    assert result.error_kind is ErrorKind.HTTP_SERVER_ERROR
    assert result.error == "HTTP 502 Bad Gateway from a proxy (HTML page): 502 Bad Gateway"
    assert result.raw is not None and "<center>nginx</center>" in result.raw
    assert result.attempts == 5 == len(http_server.requests)
    assert len(clock.sleeps) == 4  # the http strategy's backoff, on the fake clock


async def test_unhealthy_health_body_with_503_is_the_answer(
    http_server: HttpServer, make: Make,
) -> None:
    body = {"status": "unhealthy", "generated_at": "2026-01-01T00:00:00Z",
            "checks": [{**TARGET, "status": "down", "error_kind": "connection_refused"}],
            "conditions": [], "suggestions": []}
    http_server.route("/health", 503, body)
    backend = make(http_server.url)
    result = await backend.health()
    assert result.ok and result.status_code == 503 and result.error is None
    assert result.data["status"] == "unhealthy" and result.problems == []
    assert result.data["checks"][0]["status"] == "down"
    assert len(http_server.requests) == 1  # an answer is not retried
    assert "Authorization" not in http_server.requests[0].headers


async def test_status_503_snapshot_is_an_answer_but_503_detail_is_retried(
    http_server: HttpServer, make: Make,
) -> None:
    http_server.route(STATUS, 503, {**SNAPSHOT, "status": "unhealthy", "http_status": 503})
    backend = make(http_server.url)
    result = await backend.status()
    assert result.ok and result.status_code == 503 and result.data["status"] == "unhealthy"
    assert len(http_server.requests) == 1

    answers = iter([Response(503, {"detail": "cannot verify the token now"}),
                    Response(200, SNAPSHOT)])
    http_server.route(STATUS, handler=lambda request: next(answers))
    result = await backend.status()
    assert result.ok and result.status_code == 200 and result.attempts == 2

    http_server.route(STATUS, 503, {"detail": "cannot verify the token now"})
    result = await backend.status()
    assert not result.ok and result.attempts == 5
    assert result.error_kind is ErrorKind.HTTP_SERVER_ERROR
    assert result.error == "HTTP 503 Service Unavailable: cannot verify the token now"
    assert backend.breaker.stats().consecutive_failures == 0  # a 5xx is not a network failure


async def test_health_db_503_with_figures(http_server: HttpServer, make: Make) -> None:
    http_server.route("/health/db", 503, {
        "status": "down", "mode": "emergency", "pool": {"size": 0, "idle": 0, "in_use": 0,
                                                        "max": 10},
        "breaker": BREAKER, "probe": None, "last_error_kind": "connection_refused"})
    result = await make(http_server.url).health_db()
    assert result.ok and result.status_code == 503 and result.problems == []
    assert result.data["mode"] == "emergency" and result.data["probe"] is None


# --- network failures --------------------------------------------------------------------
async def test_slow_answer_past_the_timeout(http_server: HttpServer, make: Make) -> None:
    http_server.route("/health", body={"status": "healthy"}, delay=1.0)
    backend = make(http_server.url, timeout_s=0.2, get_policy=strategy("http", max_attempts=1))
    result = await backend.health()
    assert not result.ok and result.error_kind is ErrorKind.TIMEOUT
    assert result.error is not None and "no answer within 0.2 s" in result.error
    assert result.elapsed_ms < 900


async def test_hanging_get_times_out_and_is_retried(http_server: HttpServer, make: Make) -> None:
    http_server.fault("/health", "hang")
    backend = make(http_server.url, timeout_s=0.2, get_policy=strategy("http", max_attempts=2))
    result = await backend.health()
    assert result.error_kind is ErrorKind.TIMEOUT and result.attempts == 2
    assert len(http_server.requests) == 2


async def test_hanging_post_times_out_once_and_is_not_retried(
    http_server: HttpServer, make: Make,
) -> None:
    http_server.fault(CLEAR, "hang")
    result = await make(http_server.url, timeout_s=0.2).clear_auth_cache()
    assert result.error_kind is ErrorKind.TIMEOUT and result.attempts == 1
    assert len(http_server.requests) == 1


async def test_reset_get_is_retried_but_post_reaches_the_server_once(
    http_server: HttpServer, make: Make,
) -> None:
    http_server.fault("/health", "reset")
    http_server.fault(RESET, "reset")
    backend = make(http_server.url)
    result = await backend.health()
    assert result.error_kind is ErrorKind.CONNECTION_RESET
    assert result.attempts == 5 and result.error is not None and "after 5 attempts" in result.error
    result = await backend.reset_breaker()
    assert result.error_kind is ErrorKind.CONNECTION_RESET and result.attempts == 1
    assert [r.path for r in http_server.requests].count(RESET) == 1


async def test_reset_mid_body_is_a_network_failure(http_server: HttpServer, make: Make) -> None:
    http_server.route("/health", body="x" * 10000, fault="reset_mid_body")
    result = await make(http_server.url, get_policy=strategy("http", max_attempts=1)).health()
    assert not result.ok and result.error_kind is ErrorKind.CONNECTION_RESET


async def test_refused_post_is_retried_because_it_never_left(
    make: Make, clock: FakeClock,
) -> None:
    backend = make(f"http://127.0.0.1:{free_tcp_port()}")
    result = await backend.clear_auth_cache()
    assert result.error_kind is ErrorKind.CONNECTION_REFUSED and result.status_code is None
    assert result.attempts == 5 and len(clock.sleeps) == 4
    assert result.error is not None and result.error.startswith("Connection refused calling")


async def test_breaker_opens_after_three_network_failures(
    http_server: HttpServer, make: Make,
) -> None:
    http_server.fault(RESET, "reset")
    backend = make(http_server.url)
    assert backend.breaker.name == "remote:test"
    for _ in range(3):
        assert (await backend.reset_breaker()).error_kind is ErrorKind.CONNECTION_RESET
    result = await backend.reset_breaker()
    assert result.error_kind is ErrorKind.CIRCUIT_OPEN and result.attempts == 0
    assert result.error is not None and "circuit 'remote:test' is open" in result.error
    assert len(http_server.requests) == 3


async def test_non_json_and_wrong_json_type(http_server: HttpServer, make: Make) -> None:
    http_server.route(STATUS, body="OK, all good")
    http_server.route(f"{API}/recovery/suggestions", body=[{"id": "x"}])
    backend = make(http_server.url)
    result = await backend.status()
    assert not result.ok and result.error_kind is ErrorKind.PROTOCOL_ERROR
    assert result.error is not None and "expected JSON, got text (Expecting value)" in result.error
    assert result.raw == "OK, all good"
    result = await backend.suggestions()
    assert not result.ok and result.error_kind is ErrorKind.PROTOCOL_ERROR
    assert result.error is not None
    assert "expected a JSON object, got a list (1 items)" in result.error
    assert result.data == [{"id": "x"}]


async def test_redirects_are_reported_not_followed(http_server: HttpServer, make: Make) -> None:
    http_server.route(STATUS, 302, headers={"Location": "https://login.example/"})
    result = await make(http_server.url).status()
    assert result.error_kind is ErrorKind.PROTOCOL_ERROR and len(http_server.requests) == 1
    assert result.error is not None and "redirected to https://login.example/" in result.error


# --- the token ---------------------------------------------------------------------------
async def test_missing_token_sends_nothing(http_server: HttpServer, make: Make) -> None:
    http_server.route(STATUS, body=SNAPSHOT)
    result = await make(http_server.url, token=SecretRef(keyring="netmon/none",
                                                          env="NETMON_NO_SUCH_VAR")).status()
    assert not result.ok and result.error_kind is ErrorKind.AUTH_FAILED
    assert result.attempts == 0 and http_server.requests == []
    assert result.error is not None and "keyring set netmon none" in result.error
    assert result.error.startswith("no API token for remote 'test': none found in keyring")
    assert "NETMON_NO_SUCH_VAR" in result.error
    result = await make(http_server.url, token=SecretRef()).status()
    assert result.error is not None and "--token-env" in result.error
    unauthenticated = await make(http_server.url, token=SecretRef()).health()
    assert unauthenticated.attempts == 1  # /health needs no token: sent (and 404 here)
    assert unauthenticated.error_kind is ErrorKind.HTTP_CLIENT_ERROR


async def test_token_from_the_environment(http_server: HttpServer, make: Make,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETMON_REMOTE_TEST", TOKEN)
    http_server.route(CLEAR, body={"cleared": {"cached": 2, "failed": 1},
                                   "before": {}, "after": {}})
    result = await make(http_server.url, token=SecretRef(env="NETMON_REMOTE_TEST")
                        ).clear_auth_cache()
    assert result.ok and result.data["cleared"] == {"cached": 2, "failed": 1}
    assert result.problems == []
    assert http_server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_an_echoed_token_never_reaches_a_result(
    http_server: HttpServer, make: Make, caplog: pytest.LogCaptureFixture,
) -> None:
    def echo(request: Request) -> Response:
        header = request.headers["authorization"]
        return Response(401, {"detail": f"bad token {header}", "seen": header})

    def echo_ok(request: Request) -> Response:
        return Response(200, {"suggestions": [], "you_sent": request.headers["authorization"]})

    http_server.route(STATUS, handler=echo)
    http_server.route(f"{API}/recovery/suggestions", handler=echo_ok)
    caplog.set_level(logging.DEBUG)
    backend = make(http_server.url)
    for result in (await backend.status(), await backend.suggestions()):
        no_token_in(result)
    assert TOKEN not in caplog.text


# --- other endpoints ---------------------------------------------------------------------
async def test_reset_one_breaker_by_name(http_server: HttpServer, make: Make) -> None:
    http_server.route(RESET, method="POST", body={"breakers": [
        {"name": "db", "before": "open", "after": "closed"}]})
    result = await make(http_server.url).reset_breaker("db")
    assert result.ok and result.problems == []
    assert result.data == {"breakers": [{"name": "db", "before": "open", "after": "closed"}]}
    assert http_server.requests[0].method == "POST"
    assert http_server.requests[0].query == {"name": "db"}


async def test_an_empty_post_answer_is_accepted_with_a_problem(
    http_server: HttpServer, make: Make,
) -> None:
    http_server.route(CLEAR, 204)
    result = await make(http_server.url).clear_auth_cache()
    assert result.ok and result.data is None and result.status_code == 204
    assert result.problems[0].startswith("HTTP 204 with an empty body")


async def test_metrics_text(http_server: HttpServer, make: Make) -> None:
    http_server.route("/metrics", body=(
        "# HELP netmon_up Whether up\n# TYPE netmon_up gauge\n"
        'netmon_up{target="api",kind="http"} 1.0\nnetmon_calls_total 7\ngarbage line here\n'))
    result = await make(http_server.url).metrics()
    assert result.ok and result.data["types"] == {"netmon_up": "gauge"}
    assert result.data["samples"] == [
        {"name": "netmon_up", "labels": {"target": "api", "kind": "http"}, "value": 1.0},
        {"name": "netmon_calls_total", "labels": {}, "value": 7.0}]
    assert result.problems == ["line 5 is not a Prometheus sample: garbage line here"]


async def test_big_body_raw_is_truncated(http_server: HttpServer, make: Make) -> None:
    http_server.route("/health", body={"status": "healthy", "checks": [], "suggestions": [],
                                       "blob": "y" * (MAX_RAW_CHARS * 2)})
    result = await make(http_server.url).health()
    assert result.ok and result.problems == ["extra field 'blob'"]
    assert result.raw is not None and len(result.raw) < MAX_RAW_CHARS + 100
    assert result.raw.endswith("characters]")


async def test_tls_uses_the_ca_file_and_verification_failures_are_classified(
    tls_http_server: HttpServer, make: Make, caplog: pytest.LogCaptureFixture,
) -> None:
    tls_http_server.route("/health", body={"status": "healthy", "checks": [], "suggestions": []})
    ok = await make(tls_http_server.url, ca_file=str(tls_http_server.ca_pem_path)).health()
    assert ok.ok
    bad = await make(tls_http_server.url).health()
    assert bad.error_kind is ErrorKind.TLS_ERROR and bad.attempts == 1
    make(tls_http_server.url, verify_tls=False)
    make(tls_http_server.url, verify_tls=False)
    warnings = [r for r in caplog.records if "verification is OFF" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    insecure = await make(tls_http_server.url, verify_tls=False).health()
    assert insecure.ok


# --- configuration -----------------------------------------------------------------------
REMOTES = """
[[remotes]]
name = "prod"
url = "https://netmon.example.com/base"
token_keyring = "netmon/prod"
timeout_s = 5

[[remotes]]
name = "lab"
url = "http://10.0.0.5:8080"
token_env = "NETMON_LAB_TOKEN"
verify_tls = false
"""


def test_remotes_parse_from_toml_and_round_trip(tmp_path: Path) -> None:
    config = parse_config(REMOTES)
    assert [r.name for r in config.remotes] == ["prod", "lab"]
    prod, lab = config.remotes
    assert prod == RemoteSettings("prod", "https://netmon.example.com/base",
                                  token_keyring="netmon/prod", timeout_s=5.0)
    assert prod.token == SecretRef(keyring="netmon/prod")
    assert lab.verify_tls is False and lab.token == SecretRef(env="NETMON_LAB_TOKEN")
    assert Config().remotes == []
    path = save_config(config, tmp_path / "netmon.toml")
    assert load_config(path) == config


@pytest.mark.parametrize(("text", "message"), [
    ('[[remotes]]\nname = "a"\nurl = "http://h"\n[[remotes]]\nname = "a"\nurl = "http://g"\n',
     "duplicate remote name"),
    ('[[remotes]]\nname = "a"\nurl = "ftp://h"\n', "not an http(s) URL with a host"),
    ('[[remotes]]\nname = "a"\nurl = "http://u:p@h"\n', "credentials never go in the URL"),
    ('[[remotes]]\nname = "a"\nurl = "http://h/?token=abc"\n', "credentials never go in the URL"),
    ('[[remotes]]\nname = "a"\nurl = "http://h"\ntoken = "abc"\n', "never stored in the config"),
    ('[[remotes]]\nname = "a"\nurl = "http://h"\npassword = "abc"\n',
     "never stored in the config"),
    ('[[remotes]]\nname = "a"\nurl = "http://h"\ntimeout_s = 0.01\n', "out of range"),
    ('[[remotes]]\nurl = "http://h"\n', "remotes[0].name: is required"),
    ('[[remotes]]\nname = " "\nurl = "http://h"\n', "must not be empty"),
    ('remotes = 3\n', "must be an array of tables [[remotes]]"),
])
def test_bad_remotes_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)").replace("?", r"\?")):
        parse_config(text)


async def test_resolve_remote_by_name_or_url(clock: FakeClock) -> None:
    config = parse_config(REMOTES)
    by_name = resolve_remote(config, "prod", clock=clock)
    by_url = resolve_remote(config, "http://127.0.0.1:9/x/", token_env="MY_TOKEN")
    override = resolve_remote(config, "lab", token_env="OTHER")
    try:
        assert by_name.base_url == "https://netmon.example.com/base"
        assert by_name.timeout_s == 5.0 and by_name.breaker.name == "remote:prod"
        assert by_url.base_url == "http://127.0.0.1:9/x" and by_url.name == "127.0.0.1:9"
        assert by_url.token == SecretRef(env="MY_TOKEN")
        assert override.token == SecretRef(env="OTHER")
    finally:
        for backend in (by_name, by_url, override):
            await backend.aclose()
    with pytest.raises(ConfigError, match="neither a configured remote"):
        resolve_remote(config, "staging")


async def test_metrics_label_escapes_and_bad_escapes_never_raise(
    http_server: HttpServer, make: Make
) -> None:
    http_server.route("/metrics", body=(
        'm{a="caf\u00e9\\\\n",b="say \\"hi\\"\\nbye",c="\\x"} 1\n'))
    result = await make(http_server.url).metrics()
    assert result.ok
    (sample,) = result.data["samples"]
    assert sample["labels"] == {"a": "caf\u00e9\\n", "b": 'say "hi"\nbye', "c": "\\x"}


async def test_a_charset_that_cannot_decode_falls_back(
    http_server: HttpServer, make: Make
) -> None:
    http_server.route("/health", body=b'{"status": "healthy", "checks": [], "suggestions": []}',
                      headers={"Content-Type": "application/json; charset=idna"})
    result = await make(http_server.url).health()
    assert result.ok
    assert result.data["status"] == "healthy"


def test_a_bad_url_error_does_not_show_its_password() -> None:
    with pytest.raises(ConfigError) as info:
        RemoteBackend("x", "ftp://user:secretpw@host")
    assert "secretpw" not in str(info.value)
