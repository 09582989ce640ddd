"""netmon check / diagnose / monitor / history as real subprocesses against loopback servers."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from pathlib import Path

import pytest

from tests.support.dns_server import DnsServer
from tests.support.http_server import HttpServer
from tests.support.netutil import free_tcp_port


async def netmon(*args: str, env: dict[str, str] | None = None,
                 timeout: float = 60) -> tuple[int, str, str]:
    """Run ``python -m core ARGS`` while this loop keeps serving the test servers."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "core", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "netmon.toml"
    path.write_text(body, encoding="utf-8")
    return path


def http_target(name: str, url: str, critical: bool = True) -> str:
    return (f'[[targets]]\nname = "{name}"\nkind = "http"\nurl = "{url}"\n'
            f"critical = {str(critical).lower()}\n")


async def test_check_exit_codes_follow_the_status(tmp_path: Path, http_server: HttpServer) -> None:
    http_server.route("/ok", body="ok")
    http_server.route("/bad", status=503, body="down")
    ok = write_config(tmp_path, http_target("api", http_server.url + "/ok"))
    code, out, err = await netmon("--config", str(ok), "check")
    assert code == 0, err
    assert "HEALTHY" in out
    assert "api" in out
    partial = write_config(tmp_path, http_target("api", http_server.url + "/ok")
                           + http_target("extra", http_server.url + "/bad", critical=False))
    code, out, _ = await netmon("--config", str(partial), "check")
    assert code == 1
    assert "DEGRADED" in out
    down = write_config(tmp_path, http_target("api", http_server.url + "/bad"))
    code, out, _ = await netmon("--config", str(down), "check", "--json")
    assert code == 2
    snapshot = json.loads(out)
    assert snapshot["status"] == "unhealthy"
    assert snapshot["http_status"] == 500  # a 5xx answer is an application failure
    (target,) = snapshot["targets"]
    assert target["error_kind"] == "http_server_error"
    assert set(target["success_rate"]) == {"5m", "1h", "24h"}


async def test_check_network_failure_is_503_and_only_filters(
    tmp_path: Path, http_server: HttpServer
) -> None:
    http_server.route("/ok", body="ok")
    path = write_config(tmp_path, http_target("api", http_server.url + "/ok")
                        + http_target("ghost", "http://ghost.something.invalid/"))
    code, out, _ = await netmon("--config", str(path), "check", "--json", "--only", "ghost")
    assert code == 2
    snapshot = json.loads(out)
    assert [t["name"] for t in snapshot["targets"]] == ["ghost"]
    assert snapshot["http_status"] == 503
    assert snapshot["targets"][0]["error_kind"] == "dns_not_found"
    code, _, err = await netmon("--config", str(path), "check", "--only", "nope")
    assert code == 3
    assert "no target named 'nope'" in err


async def test_check_without_targets_is_unknown(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[monitor]\ninterval_s = 5\n")
    code, _, err = await netmon("--config", str(path), "check")
    assert code == 3
    assert "no enabled targets" in err


async def test_check_json_and_table_say_what_each_nameserver_said(
    tmp_path: Path, dns_server: DnsServer,
) -> None:
    """Only the OS resolver's error used to appear; the listed nameserver's was lost."""
    dns_server.set_behaviour("app.corp.invalid", "servfail")
    ns = f"127.0.0.1:{dns_server.port}"
    path = write_config(tmp_path, f"""[history]
enabled = false
[[targets]]
name = "app"
kind = "dns"
host = "app.corp.invalid"
nameservers = ["{ns}"]
system_nameservers = false
""")
    code, out, err = await netmon("check", "--json", "--config", str(path))
    assert code == 2, err
    (target,) = json.loads(out)["targets"]
    assert [(r["resolver"], r["ok"], r["rcode"], r["error_kind"]) for r in target["resolvers"]] == [
        ("os", False, None, "dns_not_found"), (ns, False, "SERVFAIL", "dns_temporary")]
    assert target["reason"].endswith(f"OS: not found; {ns}: SERVFAIL")
    code, out, _ = await netmon("check", "--config", str(path))
    assert code == 2
    assert f"OS: not found; {ns}: SERVFAIL" in out


async def test_diagnose_exit_codes(dns_server: DnsServer, http_server: HttpServer) -> None:
    code, out, _ = await netmon("diagnose", "something.invalid:443", "--no-system-nameservers")
    assert code == 2
    assert "the name does not exist" in out or "cannot find the name" in out
    dns_server.add_a("onlyhere.invalid", "127.0.0.1")
    code, out, _ = await netmon("diagnose", "onlyhere.invalid",
                                "--nameserver", f"127.0.0.1:{dns_server.port}",
                                "--no-system-nameservers", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["verdict"]["layer"] == "dns"
    port = http_server.url.rsplit(":", 1)[1]
    code, out, _ = await netmon("diagnose", f"127.0.0.1:{port}", "--no-system-nameservers")
    assert code == 0
    code, _, err = await netmon("diagnose", "host:notaport")
    assert code == 3
    assert "Traceback" not in err


async def test_monitor_writes_history_and_export_reads_it(
    tmp_path: Path, http_server: HttpServer
) -> None:
    http_server.route("/ok", body="ok")
    history = tmp_path / "history.sqlite3"
    path = write_config(tmp_path, "[monitor]\ninterval_s = 1\n[history]\n"
                        f"path = '{history}'\n[logging]\nfile = false\n"
                        + http_target("api", http_server.url + "/ok"))
    code, out, err = await netmon("--config", str(path), "monitor", "--duration", "2.5",
                                  "--jsonl")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) >= 2
    assert all(line["target"] == "api" and line["ok"] for line in lines)
    # a probe in flight when the duration ends is cancelled, its request may have arrived
    assert len(lines) <= len(http_server.requests) <= len(lines) + 1
    code, out, err = await netmon("--config", str(path), "history", "export", "--format",
                                  "csv", "--resolution", "raw")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(lines)
    assert rows[0]["target"] == "api"
    assert f"exported {len(lines)} row(s)" in err
    code, out, _ = await netmon("--config", str(path), "history", "export", "--format", "json",
                                "--since", "1h", "--target", "api")
    assert code == 0
    assert len(json.loads(out)) >= 1
    code, _, err = await netmon("--config", str(path), "history", "export", "--since",
                                "yesterday")
    assert code == 3
    assert "--since 'yesterday'" in err


@pytest.mark.parametrize("args", [["monitor", "--duration", "-1"], ["diagnose"],
                                  ["history", "export", "--format", "xml"]])
async def test_bad_arguments_exit_3(tmp_path: Path, args: list[str]) -> None:
    path = write_config(tmp_path, http_target("api", "http://127.0.0.1:1/"))
    code, _, err = await netmon("--config", str(path), *args)
    assert code == 3
    assert "Traceback" not in err


async def test_status_includes_breakers_and_suggestions(
    tmp_path: Path, http_server: HttpServer
) -> None:
    http_server.route("/ok", body="ok")
    path = write_config(tmp_path, "[history]\nenabled = false\n"
                        + http_target("api", http_server.url + "/ok")
                        + http_target("ghost", "http://ghost.something.invalid/",
                                      critical=False))
    code, out, err = await netmon("--config", str(path), "status", "--json")
    assert code == 1, err
    snapshot = json.loads(out)
    assert [b["name"] for b in snapshot["breakers"]] == ["api", "ghost"]
    assert snapshot["auth"] is None
    assert snapshot["database"] is None
    assert isinstance(snapshot["suggestions"], list)
    code, out, _ = await netmon("--config", str(path), "status")
    assert code == 1
    assert out.startswith("netmon: DEGRADED (HTTP 200)")


async def test_recover_actions_run_locally_and_are_audited(
    tmp_path: Path, http_server: HttpServer
) -> None:
    http_server.route("/ok", body="ok")
    history = tmp_path / "h.sqlite3"
    path = write_config(tmp_path, f"[history]\npath = '{history}'\n"
                        + http_target("api", http_server.url + "/ok"))
    code, out, err = await netmon("--config", str(path), "recover", "reset-breaker", "api")
    assert code == 0, err
    assert out.strip() == "api: closed -> closed"
    code, _, err = await netmon("--config", str(path), "recover", "reset-breaker", "nope")
    assert code == 3
    assert "no breaker named 'nope'" in err
    code, out, err = await netmon("--config", str(path), "recover", "clear-auth-cache")
    assert code == 2  # nothing to clear is not "done"
    assert err.strip() == ("netmon: clear-auth-cache failed: no auth service configured "
                           "([auth] names no server or secret)")
    code, out, _ = await netmon("--config", str(path), "recover", "probe-all", "--json")
    assert code == 0
    assert json.loads(out)["after"] == {"api": "up"}
    assert json.loads(out)["ok"] is True
    from core.history import HistoryStore

    store = HistoryStore(history)
    await store.start()
    trail = await store.audit()
    await store.close()
    assert [(e["action"], e["origin"], e["ok"]) for e in trail] == [
        ("probe_all", "local", True), ("clear_auth_cache", "local", False),
        ("reset_breaker", "local", False), ("reset_breaker", "local", True)]


async def test_reconnect_to_a_refusing_database_is_reported_failed(tmp_path: Path) -> None:
    """It used to exit 0 with "done" and an ``ok`` audit entry."""
    closed_port = free_tcp_port()  # nothing listens: connections are refused
    history = tmp_path / "h.sqlite3"
    path = write_config(tmp_path, f"""[history]
path = '{history}'
[retry]
max_attempts = 1
[database]
target = "db"
[[targets]]
name = "db"
kind = "postgres"
dsn = "postgresql://app@127.0.0.1:{closed_port}/app"
timeout_s = 1
""")
    code, out, err = await netmon("--config", str(path), "recover", "reconnect-db")
    assert code == 2, (out, err)
    assert err.strip().splitlines()[-1].startswith("netmon: reconnect-db failed: database down")
    assert "done" not in out
    from core.history import HistoryStore

    store = HistoryStore(history)
    await store.start()
    trail = await store.audit()
    await store.close()
    assert [(e["action"], e["ok"]) for e in trail] == [("reconnect_database", False)]


async def test_token_inspect_never_prints_the_token(tmp_path: Path) -> None:
    import jwt

    secret = "inspect-secret-0123456789abcdef0123456789"
    token = jwt.encode({"sub": "user-7", "exp": 4_102_444_800, "aud": "authenticated"},
                       secret, algorithm="HS256")
    path = write_config(tmp_path, "[auth]\njwt_secret_env = 'TEST_JWT_SECRET'\n"
                        "audience = 'authenticated'\n")
    env = {"TEST_JWT_SECRET": secret, "TEST_TOKEN": token}
    code, out, err = await netmon("--config", str(path), "token", "inspect", "--token-env",
                                  "TEST_TOKEN", env=env)
    assert code == 0, err
    assert "VALID (checked local)" in out
    assert '"user-7"' in out
    assert token not in out + err
    assert secret not in out + err
    forged = jwt.encode({"sub": "user-7", "aud": "authenticated", "exp": 4_102_444_800},
                        "wrong-secret-0123456789abcdef-0123456789", algorithm="HS256")
    code, out, _ = await netmon("--config", str(path), "token", "inspect", "--token-env",
                                "TEST_TOKEN", "--json", env={**env, "TEST_TOKEN": forged})
    assert code == 2
    assert json.loads(out)["verdict"]["reason"] == "bad_signature"
    assert forged not in out
    code, _, err = await netmon("--config", str(path), "token", "inspect", "--token-env",
                                "UNSET_VAR_X", env=env)
    assert code == 3
    assert "UNSET_VAR_X is empty or not set" in err


async def test_serve_answers_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path, http_server: HttpServer
) -> None:
    import signal
    import socket

    import httpx

    http_server.route("/ok", body="ok")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = write_config(tmp_path, "[history]\nenabled = false\n[logging]\nfile = false\n"
                        + http_target("api", http_server.url + "/ok"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "core", "--config", str(path), "serve", "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        answers: list[tuple[int, str]] = []
        async with httpx.AsyncClient() as client:
            async with asyncio.timeout(30):
                while not answers or answers[-1][1] == "unknown":
                    try:
                        response = await client.get(f"http://127.0.0.1:{port}/health")
                    except httpx.ConnectError:
                        await asyncio.sleep(0.1)
                        continue
                    answers.append((response.status_code, response.json()["status"]))
                    await asyncio.sleep(0.05)
        # "unknown" (503) until the first probe, never "healthy" before it was measured
        assert set(answers[:-1]) <= {(503, "unknown")}
        assert answers[-1] == (200, "healthy")
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
