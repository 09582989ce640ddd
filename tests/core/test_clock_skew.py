"""The clock check of ``netmon env``: SNTP against a real responder on 127.0.0.1 whose clock
is off by a chosen offset (tests/support/sntp_server.py), the NTP servers read from Linux
configuration files and recorded W32Time registry values, the ``clock_skew`` condition, and
``netmon env --time-server`` as a subprocess. Nothing is sent beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.environment import (
    ClockCheck,
    Environment,
    EnvironmentReport,
    check_clock,
    collect_environment,
    conditions,
    read_environment,
)
from core.environment.linux import read_linux
from core.environment.render import render_text
from core.environment.sntp import query_sntp, split_server
from core.environment.windows import W32TIME
from core.testing import FakeClock
from tests.support.sntp_server import SntpServer

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ENV = Environment(platform="linux", read_at=NOW)
_CLOCK_IDS = {"clock_skew", "time_source_silent"}


def _clock_conditions(check: ClockCheck, env: Environment = ENV) -> list[Any]:
    """The conditions the clock check adds (the bare environment has others)."""
    return [c for c in conditions(env, (), check) if c.id in _CLOCK_IDS]


# --------------------------------------------------------------------------- SNTP
@pytest.mark.parametrize("offset", [600.0, -90.0, 0.0])
async def test_offset_of_the_responder_is_measured(offset: float) -> None:
    with SntpServer(offset) as srv:
        check = await query_sntp(srv.address, timeout=2.0)
    assert check.error is None
    assert check.offset_s == pytest.approx(offset, abs=0.25)
    assert check.round_trip_ms is not None and 0 <= check.round_trip_ms < 250
    assert (check.method, check.stratum, check.server) == ("sntp", 2, srv.address)
    assert len(srv.requests) == 1 and len(srv.requests[0]) == 48
    assert srv.requests[0][0] == 0x23  # LI 0, version 4, client mode


async def test_server_processing_time_is_not_counted_as_round_trip() -> None:
    with SntpServer(30.0, delay=0.3) as srv:
        check = await query_sntp(srv.address, timeout=2.0)
    assert check.offset_s == pytest.approx(30.0, abs=0.25)
    assert check.round_trip_ms is not None and check.round_trip_ms < 150


async def test_silent_source_times_out_quickly() -> None:
    with SntpServer(behaviour="silent") as srv:
        check = await query_sntp(srv.address, timeout=0.2)
    assert not check.ok and check.error == "no answer within 0.2 s"
    assert len(srv.requests) == 1


@pytest.mark.parametrize(("behaviour", "said"), [
    ("short", "malformed answer: 12 bytes, an SNTP answer has at least 48"),
    ("kiss", "the server refused (kiss-o'-death RATE)"),
    ("wrong_origin", "malformed answer: it does not echo our request's timestamp"),
])
async def test_bad_answers_are_shown_not_crashed_on(behaviour: str, said: str) -> None:
    with SntpServer(behaviour=behaviour) as srv:
        check = await query_sntp(srv.address, timeout=1.0)
    assert (check.offset_s, check.error) == (None, said)
    found = _clock_conditions(check)
    assert [(c.id, c.severity) for c in found] == [("time_source_silent", "info")]
    assert said in found[0].detail


def test_time_server_forms() -> None:
    assert split_server("127.0.0.1:1234") == ("127.0.0.1", 1234)
    assert split_server("ntp.corp.example") == ("ntp.corp.example", 123)
    assert split_server("[::1]:5123") == ("::1", 5123)
    assert split_server("::1") == ("::1", 123)
    for bad in ("host:abc", "host:0", ":123", "[::1]:x"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            split_server(bad)


# --------------------------------------------------------------------------- conditions
@pytest.mark.parametrize(("offset", "expected"), [
    (600.0, [("clock_skew", "critical")]), (-90.0, [("clock_skew", "warning")]),
    (301.0, [("clock_skew", "critical")]), (60.0, []), (-59.0, []), (0.0, []),
])
def test_skew_thresholds(offset: float, expected: list[tuple[str, str]]) -> None:
    check = ClockCheck("127.0.0.1:9", offset, 1.0)
    assert [(c.id, c.severity) for c in _clock_conditions(check)] == expected


def test_skew_condition_names_what_breaks_and_the_fix() -> None:
    behind = _clock_conditions(ClockCheck("ntp.example", 600.0, 1.0))[0]
    assert "10.0 min behind ntp.example" in behind.detail
    for word in ("not yet valid", "JWT", "nbf/exp", "Kerberos"):
        assert word in behind.detail
    assert "timedatectl" in behind.suggestion
    for word in ("TLS", "JWT", "Kerberos"):
        assert word in behind.suggestion
    win = Environment(platform="win32", read_at=NOW)
    ahead = _clock_conditions(ClockCheck("dc1", -90.0, 1.0), win)[0]
    assert "90 s ahead of dc1" in ahead.detail and "w32tm /resync" in ahead.suggestion


def test_no_time_source_is_said_and_nothing_is_sent() -> None:
    import asyncio

    check = asyncio.run(check_clock(ENV))
    assert check == ClockCheck(None, method="none", error="no time source configured")
    assert _clock_conditions(check) == []
    report = EnvironmentReport(ENV, (), True, (), check)
    assert "CLOCK             not checked: no time source configured" in render_text(report)
    assert "TIME SERVERS      none configured" in render_text(report)


async def test_configured_server_is_asked_and_reported() -> None:
    with SntpServer(-90.0) as srv:
        env = Environment(platform="linux", read_at=NOW, time_servers=(srv.address, "x"),
                          time_source="/etc/chrony.conf server/pool")
        check = await check_clock(env, timeout=1.0)
        named = await check_clock(env, time_server=srv.address, timeout=1.0)
    assert check.source == "/etc/chrony.conf server/pool" and check.server == srv.address
    assert check.offset_s == pytest.approx(-90.0, abs=0.25)
    assert named.source == "--time-server"


async def test_collect_with_a_time_server_checks_only_the_clock() -> None:
    with SntpServer(600.0) as srv:
        report = await collect_environment(time_server=srv.address, timeout=1.0,
                                           clock=FakeClock(NOW))
    doc = report.as_dict()
    assert doc["probed"] is False and doc["reachability"] == []
    assert doc["clock"]["server"] == srv.address
    assert doc["clock"]["offset_s"] == pytest.approx(600.0, abs=0.25)
    assert set(doc["clock"]) == {"server", "source", "method", "offset_s", "round_trip_ms",
                                 "stratum", "error"}
    assert "clock_skew" in [c["id"] for c in doc["conditions"]]
    assert report.exit_code == 2
    assert "offset +600" in render_text(report)
    assert (await collect_environment(clock=FakeClock(NOW))).clock is None


# --------------------------------------------------------------------------- configured servers
def _files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _linux_servers(root: Path) -> tuple[tuple[str, ...], str]:
    env = read_linux(NOW, root=root, environ={}, addresses={})
    return env.time_servers, env.time_source


def test_linux_timesyncd_with_drop_ins(tmp_path: Path) -> None:
    _files(tmp_path, {
        "etc/systemd/timesyncd.conf": "[Time]\n#NTP=\nNTP=ntp1.corp.example ntp2.corp.example\n",
        "etc/chrony.conf": "server chrony.corp.example iburst\n"})
    assert _linux_servers(tmp_path) == (("ntp1.corp.example", "ntp2.corp.example"),
                                        "/etc/systemd/timesyncd.conf NTP=")
    _files(tmp_path, {"etc/systemd/timesyncd.conf.d/50-site.conf": "[Time]\nNTP=10.0.0.5\n"})
    assert _linux_servers(tmp_path) == (
        ("10.0.0.5",), "/etc/systemd/timesyncd.conf.d/50-site.conf NTP=")
    _files(tmp_path, {"etc/systemd/timesyncd.conf.d/90-reset.conf": "[Time]\nNTP=\n"})
    assert _linux_servers(tmp_path) == (("chrony.corp.example",),
                                        "/etc/chrony.conf server/pool")


def test_linux_chrony_and_ntpd_lines(tmp_path: Path) -> None:
    _files(tmp_path, {"etc/ntp.conf": "# ntpd\nserver 127.127.1.0\nfudge 127.127.1.0\n"
                                      "pool 0.corp.pool.example iburst\nserver 10.1.1.1\n"})
    assert _linux_servers(tmp_path) == (("0.corp.pool.example", "10.1.1.1"),
                                        "/etc/ntp.conf server/pool")
    _files(tmp_path, {"etc/chrony/chrony.conf": "pool time.corp.example iburst maxsources 4\n"
                                                "makestep 1 3\n"})
    assert _linux_servers(tmp_path)[0] == ("time.corp.example",)


def test_linux_without_configuration_names_no_server(tmp_path: Path) -> None:
    _files(tmp_path, {"etc/systemd/timesyncd.conf": "[Time]\n#NTP=\n#FallbackNTP=x\n"})
    assert _linux_servers(tmp_path) == ((), "")


class W32TimeApi:
    """A ``WindowsApi`` with no adapters and recorded W32Time ``Parameters`` values."""

    def __init__(self, w32time: dict[str, Any]) -> None:
        self._w32time = w32time

    def adapters(self) -> list[dict[str, Any]]:
        return []

    def reg_values(self, hive: str, key: str) -> dict[str, Any]:
        return dict(self._w32time) if (hive, key) == ("HKLM", W32TIME) else {}

    def reg_subkeys(self, hive: str, key: str) -> list[str]:
        return []

    def ie_proxy(self) -> dict[str, Any]:
        return {}

    def winhttp_proxy(self) -> dict[str, Any]:
        return {"dwAccessType": 1}


def _windows(w32time: dict[str, Any], tmp_path: Path) -> Environment:
    return read_environment(clock=FakeClock(NOW), windows_api=W32TimeApi(w32time), environ={},
                            hosts_path=str(tmp_path / "hosts"))


def test_windows_ntpserver_value(tmp_path: Path) -> None:
    # As `reg query ...\W32Time\Parameters` shows a workgroup machine's REG_SZ values.
    env = _windows({"NtpServer": "time.corp.example,0x9 10.0.0.5,0x8", "Type": "NTP",
                    "ServiceDll": r"%systemroot%\system32\w32time.dll"}, tmp_path)
    assert env.time_servers == ("time.corp.example", "10.0.0.5")
    assert env.time_source == f"HKLM\\{W32TIME} NtpServer"
    assert env.as_dict()["time"] == {"servers": ["time.corp.example", "10.0.0.5"],
                                     "source": f"HKLM\\{W32TIME} NtpServer"}


def test_windows_domain_hierarchy_is_not_guessed(tmp_path: Path) -> None:
    env = _windows({"NtpServer": "time.windows.com,0x9", "Type": "NT5DS"}, tmp_path)
    assert env.time_servers == ()
    assert any("Type=NT5DS" in n and "--time-server" in n for n in env.notes)


# --------------------------------------------------------------------------- CLI
def _netmon(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", os.getcwd())}
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True,
                          text=True, timeout=30, env=env)


def test_cli_time_server_json_and_text() -> None:
    with SntpServer(-90.0) as srv:
        done = _netmon("env", "--json", "--time-server", srv.address, "--timeout", "1")
        text = _netmon("env", "--time-server", srv.address, "--timeout", "1")
    assert done.stderr == "" and done.returncode in (1, 2), done.stderr
    doc = json.loads(done.stdout)
    assert doc["probed"] is False and doc["reachability"] == []
    assert doc["clock"]["offset_s"] == pytest.approx(-90.0, abs=0.5)
    assert doc["clock"]["source"] == "--time-server"
    skew = [c for c in doc["conditions"] if c["id"] == "clock_skew"]
    assert [c["severity"] for c in skew] == ["warning"]
    assert f"against {srv.address} (sntp, round trip" in text.stdout
    assert "The system clock is wrong" in text.stdout
    assert len(srv.requests) == 2


def test_cli_bad_time_server_is_one_line() -> None:
    done = _netmon("env", "--time-server", "127.0.0.1:notaport")
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--time-server" in done.stderr
