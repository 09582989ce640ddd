"""Forwarding notices through apprise to a real loopback HTTP server (json:// and form://):
what it receives, only on transitions, one post for the local network, a refusing
destination recorded as failed without breaking the next notice, secrets kept out of the
config file and the log."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from core.config import (
    Config,
    HistorySettings,
    MonitorSettings,
    NotificationSettings,
    Target,
    forward_entry,
    forward_env,
    parse_config,
)
from core.errors import ConfigError
from core.forward import Forwarder, ForwardResult
from core.history import HistoryStore
from core.monitor import Condition, StatusChange, TargetStatus
from core.notify import LOCAL_NETWORK, Notice, Notifier, NotifyPolicy
from core.runtime import NetmonCore
from core.secrets import store_secret
from core.testing import FakeClock
from tests.support.http_server import HttpServer

UP, DOWN = TargetStatus.UP, TargetStatus.DOWN


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Console:
    """A Notifier deciding and a Forwarder sending, as NoticeFeed wires them in the core."""

    def __init__(self, forwarder: Forwarder, clock: FakeClock) -> None:
        self.notifier = Notifier(NotifyPolicy(quiet_s=60, reminder_s=3600), clock)
        self.forwarder = forwarder
        self.clock = clock

    async def status(self, name: str, old: TargetStatus, new: TargetStatus,
                     reason: str = "") -> list[ForwardResult]:
        change = StatusChange(name, old, new, reason or f"{old} -> {new}", self.clock.now())
        return await self._send(self.notifier.on_status(change))

    async def network(self, active: bool) -> list[ForwardResult]:
        condition = Condition(LOCAL_NETWORK, active, "gateway and resolvers silent",
                              self.clock.now())
        return await self._send(self.notifier.on_condition(condition))

    async def _send(self, notice: Notice | None) -> list[ForwardResult]:
        task = self.forwarder.submit(notice) if notice is not None else None
        return await task if task is not None else []


@pytest.fixture
async def hook() -> HttpServer:  # type: ignore[misc]
    async with HttpServer() as srv:
        srv.route("/hook")
        yield srv  # type: ignore[misc]


def destination(name: str, url: str) -> str:
    store_secret(forward_entry(name), url)
    return name


async def test_down_transition_is_posted_once_with_title_message_and_type(
        hook: HttpServer) -> None:
    clock = FakeClock()
    forwarder = Forwarder([destination("ops", f"json://127.0.0.1:{hook.port}/hook")],
                          timeout_s=5, clock=clock)
    seen: list[ForwardResult] = []
    forwarder.sent.connect(seen.append)
    console = Console(forwarder, clock)

    assert await console.status("api", TargetStatus.UNKNOWN, UP) == []
    results = await console.status("api", UP, DOWN, "connection_refused: 127.0.0.1:5432")
    assert [(r.destination, r.service, r.ok, r.reason) for r in results] == [
        ("ops", "json", True, "")]
    assert len(hook.requests) == 1
    request = hook.requests[0]
    assert (request.method, request.path) == ("POST", "/hook")
    body = request.json()
    assert body["title"] == "api is down"
    assert body["message"] == "connection_refused: 127.0.0.1:5432"
    assert body["type"] == "failure"

    clock.advance(10)  # still down, no new transition: nothing more is posted
    assert await console.status("api", DOWN, DOWN) == []
    assert await console.status("api", DOWN, TargetStatus.DEGRADED) == []
    assert len(hook.requests) == 1

    await console.status("api", TargetStatus.DEGRADED, UP, "answers again")
    assert len(hook.requests) == 2
    back = hook.requests[1].json()
    assert (back["title"], back["type"]) == ("api is back up", "success")
    assert seen == list(forwarder.trail) and len(seen) == 2


async def test_local_network_down_is_one_post_not_one_per_target(hook: HttpServer) -> None:
    clock = FakeClock()
    forwarder = Forwarder([destination("ops", f"form://127.0.0.1:{hook.port}/hook")],
                          timeout_s=5, clock=clock)
    console = Console(forwarder, clock)
    for name in ("api", "db", "dns"):
        await console.status(name, TargetStatus.UNKNOWN, UP)

    await console.network(True)
    for name in ("api", "db", "dns"):
        assert await console.status(name, UP, DOWN) == []  # folded into the one notice
    assert len(hook.requests) == 1
    form = {k: v[0] for k, v in parse_qs(hook.requests[0].body.decode()).items()}
    assert form["title"] == "Local network down"
    assert form["message"] == "gateway and resolvers silent"
    assert form["type"] == "failure"


async def test_refusing_destination_is_recorded_failed_and_later_notices_still_go(
        hook: HttpServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    dead_url = f"json://127.0.0.1:{closed_port()}/token-path-abc123"
    async with HistoryStore(tmp_path / "history.db") as history:
        forwarder = Forwarder([destination("dead", dead_url),
                               destination("ops", f"json://127.0.0.1:{hook.port}/hook")],
                              timeout_s=5, clock=clock, history=history)
        console = Console(forwarder, clock)
        with caplog.at_level(logging.INFO, logger="netmon.forward"):
            first = await console.status("api", UP, DOWN, "timeout")
            clock.advance(5)
            second = await console.status("db", UP, DOWN, "refused")
        audit = await history.audit()

    by_name = {r.destination: r for r in first}
    assert by_name["ops"].ok and not by_name["dead"].ok
    assert "Connection refused" in by_name["dead"].reason
    assert [r.ok for r in second if r.destination == "ops"] == [True]
    assert [r.json()["title"] for r in hook.requests] == ["api is down", "db is down"]
    rows = [(a["action"], a["subject"], a["ok"]) for a in audit]
    assert rows.count(("forward_notice", "dead", False)) == 2
    assert rows.count(("forward_notice", "ops", True)) == 2
    failed = next(a for a in audit if not a["ok"])
    assert "Connection refused" in str(failed["detail"])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert ("forwarding 'api is down' to dead (json, URL from keyring entry "
            "'netmon/forward/dead') failed") in logged
    assert "token-path-abc123" not in logged and dead_url not in logged


async def test_missing_keyring_entry_and_hanging_server_fail_with_a_reason(
        hook: HttpServer) -> None:
    hook.route("/slow", delay=5)
    forwarder = Forwarder(["nowhere", destination("slow", f"json://127.0.0.1:{hook.port}/slow")],
                          timeout_s=1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    results = await forwarder.forward(Notice("api", "critical", "api is down", "x",
                                             FakeClock().now()))
    assert loop.time() - start < 4  # the send's own deadline, not the server's delay
    nowhere, slow = results
    assert not nowhere.ok and "netmon/forward/nowhere" in nowhere.reason
    assert not slow.ok and slow.reason


async def test_send_test_reports_apprise_success_only(hook: HttpServer) -> None:
    forwarder = Forwarder(timeout_s=5)
    ok = await forwarder.send_test(destination("ops", f"json://127.0.0.1:{hook.port}/hook"))
    assert ok.ok and hook.requests[0].json()["title"] == "netmon test notification"
    hook.route("/hook", status=500)
    failed = await forwarder.send_test("ops")
    assert not failed.ok and "500" in failed.reason
    bogus = await forwarder.send_test(destination("bogus", "nosuchservice://x/y"))
    assert not bogus.ok and "does not understand" in bogus.reason


@pytest.mark.parametrize("entry", ["json://user:hunter22@127.0.0.1/hook",
                                   "json://127.0.0.1/hook?token=abcdef123",
                                   "tgram://123456789:abcdefghijk/987654"])
def test_config_refuses_a_url_and_names_the_fix(entry: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(f'[notifications]\nforward = ["{entry}"]\n', source=Path("netmon.toml"))
    message = str(info.value)
    assert message.startswith("netmon.toml: notifications.forward: ")
    assert "keyring set netmon/forward NAME" in message and 'forward = ["NAME"]' in message
    assert entry not in message and "hunter22" not in message
    if "hunter22" in entry or "token=" in entry:
        assert "credentials never go in the config file" in message


def test_config_accepts_names_and_refuses_bad_or_repeated_ones() -> None:
    config = parse_config('[notifications]\nforward = ["ops-chat", "mail.oncall"]\n'
                          "forward_timeout_s = 5\n")
    assert config.notifications.forward == ["ops-chat", "mail.oncall"]
    assert config.notifications.forward_timeout_s == 5
    with pytest.raises(ConfigError, match="not a destination name"):
        parse_config('[notifications]\nforward = ["ops chat"]\n')
    with pytest.raises(ConfigError, match="listed twice"):
        parse_config('[notifications]\nforward = ["a", "a"]\n')


def test_netmon_does_not_import_apprise_until_a_send() -> None:
    import subprocess
    import sys

    code = ("import sys, core.forward, core.cli, core.config;"
            "print('apprise' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=30)
    assert out.stdout.strip() == "False"


async def test_self_test_forward_check_names_how_many_services_apprise_can_use() -> None:
    """A plug-in module missing from the bundle's archive imports as an empty marker file and
    drops out silently: the check names the count, which the bundle's must match."""
    import apprise

    from core.selftest import check_forward

    usable = len(apprise.Apprise().details()["schemas"])
    message = await check_forward()
    assert usable > 100  # json, form, xml, mailto, slack, discord, ntfy, ...
    assert message.startswith(f"apprise ({usable} services usable) posted a notice to json://")


async def test_the_core_forwards_without_a_console(hook: HttpServer) -> None:
    """Only the console's tray used to decide and forward notices: `netmon serve` on a
    server, the same NetmonCore without a window, alerted nobody."""

    config = Config(
        targets=[Target(name="api", kind="tcp", host="127.0.0.1", port=closed_port())],
        monitor=MonitorSettings(down_after=2),
        notifications=NotificationSettings(
            forward=[destination("ops", f"json://127.0.0.1:{hook.port}/hook")]),
        history=HistorySettings(enabled=False))
    core = NetmonCore(config)
    published: list[Notice] = []
    core.notices.published.connect(published.append)
    await core.start(schedule=False)
    try:
        for _ in range(2):  # refused twice: down
            await core.monitor.run_once(["api"])
        assert [n.title for n in published] == ["api is down"]
        async with asyncio.timeout(10):
            while not hook.requests:
                await asyncio.sleep(0.02)
        body = hook.requests[0].json()
        assert (body["title"], body["type"]) == ("api is down", "failure")
        core.notices.notifier.policy = NotifyPolicy(reminder_s=0)
        core.notices.remind()  # what the core's reminder task does every few seconds
        assert [n.title for n in published][-1] == "api is still down"
    finally:
        await core.stop()
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "netmon-notice-reminders"]


def test_env_var_name_of_a_destination() -> None:
    assert forward_env("ops-chat") == "NETMON_FORWARD_OPS_CHAT"
    assert forward_env("mail.oncall") == "NETMON_FORWARD_MAIL_ONCALL"
    assert forward_env("Ops_2") == "NETMON_FORWARD_OPS_2"


def test_config_refuses_two_names_sharing_one_env_var() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('[notifications]\nforward = ["ops-chat", "ops.chat"]\n')
    assert "NETMON_FORWARD_OPS_CHAT" in str(info.value)


async def test_env_var_serves_a_service_account_without_a_keyring(
        hook: HttpServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """keyring's `fail` backend (a headless service account): the URL comes from
    NETMON_FORWARD_<NAME>; the result and the log say so, never the URL."""
    import keyring
    from keyring.backends.fail import Keyring as NoKeyring

    url = f"json://127.0.0.1:{hook.port}/hook/envtoken123"
    hook.route("/hook/envtoken123")
    monkeypatch.setenv("NETMON_FORWARD_OPS_CHAT", url)
    keyring.set_keyring(NoKeyring())  # conftest restores its in-memory one afterwards
    forwarder = Forwarder(["ops-chat"], timeout_s=5)
    with caplog.at_level(logging.INFO, logger="netmon.forward"):
        result = await forwarder.send_test("ops-chat")
    assert result.ok, result.reason
    assert result.source == "environment variable NETMON_FORWARD_OPS_CHAT"
    assert result.as_dict()["source"] == result.source
    assert hook.requests[0].json()["title"] == "netmon test notification"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ops-chat (json, URL from environment variable NETMON_FORWARD_OPS_CHAT): sent" \
        in logged
    assert "envtoken123" not in logged


async def test_keyring_entry_wins_over_the_env_var(hook: HttpServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    hook.route("/from-env")
    monkeypatch.setenv("NETMON_FORWARD_OPS", f"json://127.0.0.1:{hook.port}/from-env")
    forwarder = Forwarder(timeout_s=5)
    result = await forwarder.send_test(destination("ops", f"json://127.0.0.1:{hook.port}/hook"))
    assert result.ok and result.source == "keyring entry 'netmon/forward/ops'"
    assert [r.path for r in hook.requests] == ["/hook"]
    monkeypatch.delenv("NETMON_FORWARD_OPS")


async def test_destination_with_no_url_anywhere_names_both_places_and_the_fix(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETMON_FORWARD_OPS_CHAT", raising=False)
    result = await Forwarder(["ops-chat"], timeout_s=5).send_test("ops-chat")
    assert not result.ok and result.source == ""
    assert result.reason == (
        "no URL for destination 'ops-chat': neither keyring entry 'netmon/forward/ops-chat' "
        "nor environment variable NETMON_FORWARD_OPS_CHAT holds one; store it in Settings > "
        "Notifications (or: keyring set netmon/forward ops-chat), or set "
        "NETMON_FORWARD_OPS_CHAT where there is no keyring (a service account)")


async def test_check_logs_where_each_destination_url_comes_from_or_the_fix(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """At start the core says where each destination's URL is (never the URL), so a service
    account missing one hears of it before the first outage."""
    monkeypatch.setenv("NETMON_FORWARD_OPS_CHAT", "json://127.0.0.1:9/envsecret77")
    monkeypatch.delenv("NETMON_FORWARD_NOWHERE", raising=False)
    forwarder = Forwarder([destination("ops", "json://127.0.0.1:9/keysecret77"), "ops-chat",
                           "nowhere"], timeout_s=5)
    with caplog.at_level(logging.INFO, logger="netmon.forward"):
        found = await forwarder.check()
    assert found == [("ops", "keyring entry 'netmon/forward/ops'"),
                     ("ops-chat", "environment variable NETMON_FORWARD_OPS_CHAT"),
                     ("nowhere", "")]
    logged = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert ("INFO", "NOTIFY: destination ops-chat: URL from environment variable "
                    "NETMON_FORWARD_OPS_CHAT") in logged
    assert ("WARNING", "NOTIFY: no URL for destination 'nowhere': neither keyring entry "
                       "'netmon/forward/nowhere' nor environment variable NETMON_FORWARD_NOWHERE "
                       "holds one; store it in Settings > Notifications (or: keyring set "
                       "netmon/forward nowhere), or set NETMON_FORWARD_NOWHERE where there is no "
                       "keyring (a service account)") in logged
    assert "secret77" not in str(logged)


async def test_busy_counts_notices_being_sent_not_url_checks(hook: HttpServer) -> None:
    hook.route("/slow", delay=1)
    forwarder = Forwarder([destination("slow", f"json://127.0.0.1:{hook.port}/slow")],
                          timeout_s=5)
    check = forwarder.check_soon()
    assert check is not None and forwarder.busy == 0  # a URL check is not a notice
    sending = forwarder.submit(Notice("api", "critical", "api is down", "x",
                                      FakeClock().now()))
    assert sending is not None and forwarder.busy == 1
    await asyncio.gather(check, sending)
    assert forwarder.busy == 0
