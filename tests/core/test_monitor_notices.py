"""``netmon monitor`` decides, prints and forwards notices like ``netmon serve`` and the
console: a real subprocess probing a refused loopback port, forwarding through apprise to a
real loopback webhook, its URL from NETMON_FORWARD_<NAME> (no keyring, as for a service
account); reminders come while it runs; stopping leaves no task behind."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from core.commands import monitor as monitor_command
from core.config import (
    Config,
    HistorySettings,
    MonitorSettings,
    NotificationSettings,
    Target,
)
from tests.support.http_server import HttpServer

NO_KEYRING = "keyring.backends.fail.Keyring"  # what a headless service account has
POSIX_SIGNALS = pytest.mark.skipif(sys.platform == "win32",
                                   reason="POSIX signal delivery to a child process")


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "netmon.toml"
    path.write_text(
        "[monitor]\ninterval_s = 1\ndown_after = 1\ntimeout_s = 2\n[logging]\nfile = false\n"
        "[history]\nenabled = false\n"
        '[notifications]\nforward = ["ops-chat"]\nforward_timeout_s = 5\n'
        f'[[targets]]\nname = "api"\nkind = "tcp"\nhost = "127.0.0.1"\nport = {port}\n',
        encoding="utf-8")
    return path


async def start(config: Path, env_url: str | None, *args: str) -> asyncio.subprocess.Process:
    env = dict(os.environ, PYTHON_KEYRING_BACKEND=NO_KEYRING)
    env.pop("NETMON_FORWARD_OPS_CHAT", None)
    if env_url is not None:
        env["NETMON_FORWARD_OPS_CHAT"] = env_url
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "core", "--config", str(config), "monitor", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)


async def read_until(proc: asyncio.subprocess.Process, marker: str) -> list[str]:
    """Lines printed up to and including the first containing ``marker`` (10 s at most)."""
    assert proc.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(10):
        while not lines or marker not in lines[-1]:
            line = await proc.stdout.readline()
            assert line, f"monitor stopped printing early: {lines}"
            lines.append(line.decode())
    return lines


async def interrupt(proc: asyncio.subprocess.Process) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    return out.decode(), err.decode()


@POSIX_SIGNALS
async def test_jsonl_prints_the_notice_and_its_forward_sent_from_the_env_var(
        tmp_path: Path, http_server: HttpServer) -> None:
    http_server.route("/hook")
    proc = await start(write_config(tmp_path, closed_port()),
                       f"json://127.0.0.1:{http_server.port}/hook", "--jsonl")
    try:
        lines = await read_until(proc, '"record": "forward"')
    finally:
        out, err = await interrupt(proc)
    records = [json.loads(line) for line in lines]
    notices = [r for r in records if r["record"] == "notice"]
    forwards = [r for r in records if r["record"] == "forward"]
    assert [(n["key"], n["severity"], n["title"]) for n in notices] == [
        ("api", "critical", "api is down")]
    assert "connection_refused" in notices[0]["body"]
    assert [(f["destination"], f["service"], f["ok"], f["reason"], f["title"], f["source"])
            for f in forwards] == [("ops-chat", "json", True, "", "api is down",
                                    "environment variable NETMON_FORWARD_OPS_CHAT")]
    assert records[0]["record"] == "result" and records[0]["target"] == "api"
    body = http_server.requests[0].json()
    assert (body["title"], body["type"]) == ("api is down", "failure")
    assert "Task was destroyed" not in err and "Traceback" not in err
    assert "URL from environment variable NETMON_FORWARD_OPS_CHAT): sent" in err
    assert str(http_server.port) + "/hook" not in err + out


@POSIX_SIGNALS
async def test_text_output_shows_the_notice_and_a_failed_forward_with_the_fix(
        tmp_path: Path) -> None:
    proc = await start(write_config(tmp_path, closed_port()), None)
    try:
        lines = await read_until(proc, " FORWARD ")
    finally:
        _, err = await interrupt(proc)
    notice = next(line for line in lines if " NOTICE " in line)
    assert notice.split(" ", 1)[1].startswith(
        "NOTICE critical api is down: 1 failure (connection_refused)")
    forward = lines[-1].split(" ", 1)[1].rstrip("\n")
    assert forward.startswith("FORWARD ops-chat failed: api is down: no URL for destination "
                              "'ops-chat': neither keyring entry 'netmon/forward/ops-chat' nor "
                              "environment variable NETMON_FORWARD_OPS_CHAT holds one;")
    assert "Traceback" not in err
    assert "netmon.forward: NOTIFY: no URL for destination 'ops-chat'" in err  # at start


async def test_reminders_come_while_it_runs_and_no_task_is_left(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from core import runtime

    monkeypatch.setattr(runtime, "REMIND_EVERY_S", 0.05)
    config = Config(
        targets=[Target(name="api", kind="tcp", host="127.0.0.1", port=closed_port())],
        monitor=MonitorSettings(interval_s=1, down_after=1, timeout_s=2),  # first probe <= 1 s
        notifications=NotificationSettings(reminder_s=0),
        history=HistorySettings(enabled=False))
    before = asyncio.all_tasks()
    args = argparse.Namespace(duration=1.3, jsonl=False, no_history=True)
    status = await monitor_command._monitor(config, args)
    assert status == "unhealthy"
    assert asyncio.all_tasks() == before
    printed = capsys.readouterr().out.splitlines()
    notices = [line.split(" ", 1)[1] for line in printed if " NOTICE " in line]
    assert notices[0].startswith("NOTICE critical api is down: ")
    reminders = [n for n in notices[1:] if n.startswith("NOTICE warning api is still down: ")]
    assert reminders and "down since " in reminders[0], printed


async def test_a_send_in_flight_when_the_duration_ends_finishes_and_is_printed(
        http_server: HttpServer, capsys: pytest.CaptureFixture[str]) -> None:
    """The hook answers after 2 s, the run lasts 1.3 s: without a grace period the send was
    cancelled and what became of the notice never shown."""
    from core.config import forward_entry
    from core.secrets import store_secret

    http_server.route("/slow", delay=2)
    store_secret(forward_entry("ops"), f"json://127.0.0.1:{http_server.port}/slow")
    config = Config(
        targets=[Target(name="api", kind="tcp", host="127.0.0.1", port=closed_port())],
        monitor=MonitorSettings(interval_s=1, down_after=1, timeout_s=2),  # first probe <= 1 s
        notifications=NotificationSettings(forward=["ops"], forward_timeout_s=5),
        history=HistorySettings(enabled=False))
    before = asyncio.all_tasks()
    args = argparse.Namespace(duration=1.3, jsonl=True, no_history=True)
    await monitor_command._monitor(config, args)
    assert asyncio.all_tasks() == before
    out, err = capsys.readouterr()
    assert "waiting up to 5 s for notices being forwarded (Ctrl+C again to quit now)" in err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["destination"], r["ok"], r["title"], r["source"]) for r in records
            if r["record"] == "forward"] == [("ops", True, "api is down",
                                              "keyring entry 'netmon/forward/ops'")]
