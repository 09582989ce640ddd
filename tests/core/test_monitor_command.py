"""``netmon monitor`` as a real subprocess: stopping by signal flushes history, output redacted."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.support.http_server import HttpServer


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "netmon.toml"
    path.write_text(body, encoding="utf-8")
    return path


def http_target(name: str, url: str, *, follow: bool = False) -> str:
    return (f'[[targets]]\nname = "{name}"\nkind = "http"\nurl = "{url}"\n'
            f"follow_redirects = {str(follow).lower()}\n")


async def start_monitor(config: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "core", "--config", str(config), "monitor", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ))


async def read_lines(proc: asyncio.subprocess.Process, count: int) -> list[str]:
    assert proc.stdout is not None
    lines = []
    while len(lines) < count:
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line, "monitor stopped printing early"
        lines.append(line.decode())
    return lines


def eight_healthy_targets(tmp_path: Path, http_server: HttpServer, history: Path) -> Path:
    """A config of eight HTTP targets that answer 200, probed every second, history on."""
    http_server.route("/ok", body="ok")
    return write_config(tmp_path, "[monitor]\ninterval_s = 1\n[logging]\nfile = false\n"
                        f"[history]\npath = '{history}'\n"
                        + "".join(http_target(f"api{i}", http_server.url + "/ok")
                                  for i in range(8)))


def results(lines: list[str]) -> list[dict[str, object]]:
    """The probe results among ``--jsonl`` records (notices and forwards are records too)."""
    records = [json.loads(line) for line in lines]
    return [r for r in records if r["record"] == "result"]


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32",
                    reason="POSIX signal delivery to a child process")
async def test_sigterm_stops_flushes_and_exits_0(tmp_path: Path,
                                                 http_server: HttpServer) -> None:
    history = tmp_path / "history.sqlite3"
    config = eight_healthy_targets(tmp_path, http_server, history)
    proc = await start_monitor(config, "--jsonl")
    printed = await read_lines(proc, 12)
    proc.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    printed += out.decode().splitlines(keepends=True)
    seen = sorted((r["target"], r["checked_at"]) for r in results(printed))
    with sqlite3.connect(history) as conn:
        stored = conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert stored == len(seen) >= 12


async def test_jsonl_and_text_output_are_redacted(tmp_path: Path,
                                                  http_server: HttpServer) -> None:
    secret = "S3cretApiKeyValue"
    http_server.route("/ok", body="ok")
    http_server.route("/query", status=302, headers={
        "Location": f"/ok?apikey={secret}&key={secret}1&client_secret={secret}2&x=1"})
    http_server.route("/userinfo", status=302, headers={
        "Location": f"http://someone:{secret}3@127.0.0.1:{http_server.port}/ok"})
    http_server.route("/fail", status=302, headers={
        "Location": f"/missing?access_token={secret}4"})
    config = write_config(tmp_path, "[monitor]\ninterval_s = 1\n[logging]\nfile = false\n"
                          + http_target("query", http_server.url + "/query", follow=True)
                          + http_target("userinfo", http_server.url + "/userinfo", follow=True)
                          + http_target("fail", http_server.url + "/fail", follow=True))
    for args in (["--jsonl"], []):
        proc = await start_monitor(config, "--duration", "1.5", "--no-history", *args)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
        text = out.decode() + err.decode()
        assert proc.returncode is not None
        assert len(out.splitlines()) >= 3, text
        assert secret not in text
        if args:
            finals = {r["target"]: r["details"].get("final_url") for r in
                      map(json.loads, out.decode().splitlines())}
            assert finals["query"] is not None and "apikey=***" in finals["query"]
            assert finals["query"].endswith("&x=1")  # only the secret is masked


async def test_history_survives_kill_9_and_the_next_run_goes_on_writing(
        tmp_path: Path, http_server: HttpServer) -> None:
    # kill -9 (TerminateProcess on Windows) while the writer runs: the file stays sound,
    # what was committed is kept, and the next run takes the same file and adds to it.
    history = tmp_path / "history.sqlite3"
    config = eight_healthy_targets(tmp_path, http_server, history)
    proc = await start_monitor(config, "--jsonl")
    try:
        printed = await read_lines(proc, 24)  # three rounds: the first is 2 s old
    finally:
        proc.kill()
        await proc.wait()
    with sqlite3.connect(history) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        killed = conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert 8 <= killed <= len(results(printed))
    kept = os.listdir(tmp_path)

    again = await start_monitor(config, "--jsonl", "--duration", "2.5")
    out, err = await asyncio.wait_for(again.communicate(), 20)
    assert again.returncode == 0, err.decode()
    assert "RESILIENT" not in err.decode()  # neither locked out nor moved aside
    assert set(os.listdir(tmp_path)) <= set(kept)  # nothing moved aside, no new file
    with sqlite3.connect(history) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert stored == killed + len(results(out.decode().splitlines())) > killed
