"""The console over remote backends: a real ``core.service`` app under uvicorn on loopback,
called with a real bearer token; misbehaving servers from tests/support for the rest."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jwt
import pytest
import uvicorn
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from core.clock import SystemClock
from core.config import (
    AuthSettings,
    Config,
    HistorySettings,
    RemoteSettings,
    Target,
    load_config,
    parse_config,
)
from core.runtime import NetmonCore
from core.secrets import store_secret
from core.service import create_app
from netmon_gui.backends import BackendPoller
from netmon_gui.local_service import LocalEndpoints
from netmon_gui.models.breakers import COL_STATE, MISSING
from netmon_gui.models.targets import COL_KIND, COL_STATUS
from netmon_gui.windows.backends_dialog import (
    BackendForm,
    BackendsDialog,
    TokenDialog,
    token_entry,
)
from netmon_gui.windows.main_window import MainWindow
from tests.gui.test_console import refused, settle
from tests.support.http_server import HttpServer
from tests.support.netutil import free_tcp_port
from tests.support.secrets_watch import watch
from tests.support.supabase import HS_SECRET, SupabaseFake

API = "/api/v1/system"
STATUS = f"{API}/status/comprehensive"
ENTRY = token_entry("backend")
ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@dataclass
class Backend:
    """A netmon service in its own thread and event loop, as a remote backend would be."""

    url: str
    core: NetmonCore
    fake: SupabaseFake
    loop: asyncio.AbstractEventLoop

    @functools.cached_property
    def bearer(self) -> str:
        """One valid token with the service role (the backend caches it once verified)."""
        return self.fake.token("HS256", role="service_role")

    def token(self) -> str:
        return self.bearer

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the backend's loop (the test's loop keeps turning meanwhile)."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def open_breaker(self, name: str) -> None:
        async def trip() -> None:
            for _ in range(5):
                with contextlib.suppress(Exception):
                    await self.core.breakers[name].call(refused)
        await self.run(trip())

    async def get(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url) as client:
            return await client.get(path, headers={"Authorization": f"Bearer {self.token()}"})


BACKEND_TOML = """
[monitor]
interval_s = 3600
[history]
enabled = false
[auth]
jwt_secret_keyring = "netmon/jwt"
audience = "authenticated"
[[targets]]
name = "api"
kind = "http"
url = "{url}/ok"
[[targets]]
name = "flaky"
kind = "http"
url = "{url}/broken"
critical = false
"""


@pytest.fixture
async def backend(http_server: HttpServer) -> AsyncIterator[Backend]:
    """A real netmon service (uvicorn on loopback, bearer auth) in a thread of its own:
    two targets, one failing, probed once."""
    http_server.route("/ok", body="ok")
    http_server.route("/broken", status=500, body="boom")
    store_secret("netmon/jwt", HS_SECRET)
    core = NetmonCore(parse_config(BACKEND_TOML.format(url=http_server.url)))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(core), log_config=None, lifespan="on"))
    gc.collect()  # no Qt garbage left for a collection in the backend's thread to free
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete,
                              args=(server.serve(sockets=[sock]),), daemon=True)
    thread.start()
    await settle(lambda: server.started, timeout=10)
    served = Backend(f"http://127.0.0.1:{sock.getsockname()[1]}", core,
                     SupabaseFake(http_server, SystemClock()), loop)
    try:
        await served.run(core.monitor.run_once())
        yield served
    finally:
        server.should_exit = True
        thread.join(10)
        loop.close()
        sock.close()


Console = Callable[..., Awaitable[MainWindow]]


@pytest.fixture
async def console(qtbot: QtBot) -> AsyncIterator[Console]:
    """``await console(*remotes, core=None)``: a window over a local core (no targets)
    listing ``remotes``; closed at teardown."""
    made: list[tuple[MainWindow, NetmonCore]] = []

    async def make(*remotes: RemoteSettings, core: NetmonCore | None = None) -> MainWindow:
        if core is None:
            core = NetmonCore(Config(history=HistorySettings(enabled=False),
                                     remotes=list(remotes)))
            await core.start(schedule=False)
        window = MainWindow(core)
        window.remote.confirm = lambda question, go: go()
        window.show()
        made.append((window, core))
        # the graphs are built once, just after the first paint (their imports hold the
        # GUI thread): done before a test times how the loop turns during remote calls
        await window.load_graphs()
        return window

    yield make
    for window, core in made:
        window.close()
        await window.aclose()
        window.deleteLater()
        await core.stop()
    # Free the windows here, in the Qt thread: a garbage collection that happened to run
    # in a backend's thread would destroy Qt objects from the wrong thread.
    await asyncio.sleep(0.05)
    gc.collect()


def remote(url: str, **kw: Any) -> RemoteSettings:
    kw.setdefault("token_keyring", ENTRY)
    kw.setdefault("timeout_s", 2.0)
    return RemoteSettings(name="backend", url=url, **kw)


async def open_backend(window: MainWindow, name: str = "backend") -> BackendPoller:
    assert window.remote.selector.choose(name)
    poller = window.remote.current
    assert poller is not None and poller.name == name
    await settle(lambda: poller.last is not None, timeout=8)
    return poller


async def test_console_lists_the_backend_and_shows_its_targets_and_breakers(
    backend: Backend, console: Console,
) -> None:
    store_secret(ENTRY, backend.token())
    window = await console(remote(backend.url))
    selector = window.remote.selector
    assert [selector.itemData(i) for i in range(selector.count())] == ["", "backend"]
    poller = await open_backend(window)
    assert poller.state == "degraded", poller.last
    assert "backend - degraded" in selector.itemText(1)
    model = window.remote.targets_model
    assert window.targets_proxy.sourceModel() is model
    statuses = {model.name_at(r): model.index(r, COL_STATUS).data()
                for r in range(model.rowCount())}
    assert statuses == {"api": "up", "flaky": "degraded"}
    assert window.banner.status_label.text() == "DEGRADED"
    names = {window.breakers_model.name_at(r) for r in range(window.breakers_model.rowCount())}
    assert names == set(backend.core.breakers)  # api, flaky, auth: the backend's, not ours
    assert "HTTP 200" in window.remote.strip.summary.text()
    assert window.remote.strip.error.isHidden()
    # the token the console sent was verified by the backend, so its cache now holds it
    assert "1 cached" in window.tokens_panel.summary.text()
    # back to this machine: the same widgets show the local core again
    selector.choose(None)
    await settle()
    assert window.targets_proxy.sourceModel() is window.targets_model
    assert window.breakers_model.rowCount() == 0


async def test_reset_and_clear_buttons_change_the_backend(backend: Backend,
                                                          console: Console) -> None:
    store_secret(ENTRY, backend.token())
    await backend.open_breaker("flaky")
    assert backend.core.breakers["flaky"].state == "open"
    window = await console(remote(backend.url))
    await open_backend(window)
    panel = window.breakers_panel
    await settle(lambda: panel.select("flaky"))
    row = next(r for r in range(window.breakers_model.rowCount())
               if window.breakers_model.name_at(r) == "flaky")
    assert window.breakers_model.index(row, COL_STATE).data() == "open"
    panel.reset_selected.click()
    await settle(lambda: bool(window.action_log.records), timeout=5)
    record = window.action_log.records[0]
    assert (record.backend, record.action, record.target, record.ok) == (
        "backend", "reset_breaker", "flaky", True)
    assert "flaky open -> closed" in record.text
    body = (await backend.get(STATUS)).json()  # read back over HTTP
    assert {b["name"]: b["state"] for b in body["breakers"]}["flaky"] == "closed"
    await settle(lambda: window.breakers_model.index(row, COL_STATE).data() == "closed")

    before = await auth_figures(backend)
    assert before == {"cached": 1.0, "local": 1.0}  # the console's token, verified once
    window.tabs.setCurrentIndex(2)
    assert window.tokens_panel.clear_button.isEnabled()
    polls = window.remote.current.polls if window.remote.current else 0
    window.tokens_panel.clear_button.click()
    await settle(lambda: len(window.action_log.records) == 2, timeout=5)
    assert window.action_log.records[0].ok
    assert "1 cached and 0 failed tokens removed" in window.action_log.records[0].text
    poller = window.remote.current
    await settle(lambda: poller is not None and poller.polls > polls, timeout=5)
    # the poll after the action had to verify the token afresh: the cache was emptied
    assert await auth_figures(backend) == {"cached": 1.0, "local": 2.0}


async def auth_figures(backend: Backend) -> dict[str, float]:
    """Cached tokens and local verifications, read over HTTP from /metrics (no token)."""
    async with httpx.AsyncClient(base_url=backend.url) as client:
        text = (await client.get("/metrics")).text
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines()
                   if line and not line.startswith("#"))
    return {"cached": float(samples['netmon_auth_cache_tokens{cache="cached"}']),
            "local": float(samples['netmon_auth_verifications_total{outcome="local"}'])}


async def test_a_declined_confirmation_sends_nothing(backend: Backend, console: Console,
                                                     ) -> None:
    store_secret(ENTRY, backend.token())
    await backend.open_breaker("flaky")
    window = await console(remote(backend.url))
    await open_backend(window)
    asked: list[str] = []
    window.remote.confirm = lambda question, go: asked.append(question)
    window.breakers_panel.reset_all.click()
    await settle()
    assert asked == ["Reset breaker (all) on backend?"]
    assert backend.core.breakers["flaky"].state == "open"
    assert not window.action_log.records


async def test_the_confirmation_box_keeps_the_loop_turning_and_yes_sends(
    backend: Backend, console: Console,
) -> None:
    """The question used to be a static QMessageBox.question(): a nested event loop that
    froze the core (and this test) until it was answered."""
    store_secret(ENTRY, backend.token())
    await backend.open_breaker("flaky")
    window = await console(remote(backend.url))
    await open_backend(window)
    window.remote.confirm = window.remote._ask  # the real question
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        ticks += 1

    timer = QTimer(window)
    timer.timeout.connect(tick)
    timer.start(10)
    window.breakers_panel.reset_all.click()  # returns at once: the box is window-modal
    box = next(w for w in QApplication.topLevelWidgets()
               if isinstance(w, QMessageBox) and w.isVisible())
    assert box.text() == "Reset breaker (all) on backend?"
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.No)
    await settle(lambda: ticks >= 3)  # the loop turns while the question is open
    assert backend.core.breakers["flaky"].state == "open"  # nothing sent yet
    box.button(QMessageBox.StandardButton.Yes).click()
    await settle(lambda: bool(window.action_log.records), timeout=5)
    assert window.action_log.records[0].ok
    assert backend.core.breakers["flaky"].state == "closed"
    timer.stop()


async def test_a_refused_token_is_shown_in_words_and_can_be_replaced(
    backend: Backend, console: Console, qtbot: QtBot,
) -> None:
    forged = watch(jwt.encode({"sub": "x", "role": "service_role", "aud": "authenticated",
                               "exp": 4102444800}, "another-secret-0123456789abcdef0123456",
                              algorithm="HS256"))
    store_secret(ENTRY, forged)
    window = await console(remote(backend.url))
    poller = await open_backend(window)
    assert poller.state == "refused" and poller.last is not None
    assert poller.last.status_code == 401
    strip = window.remote.strip
    assert "REFUSED" in strip.error.text() and "token was refused (bad_signature)" in (
        strip.error.text())
    assert not strip.token_button.isHidden()
    assert window.banner.status_label.text() == "REFUSED"
    assert window.remote.targets_model.rowCount() == 0  # nothing shown as healthy
    dialog = TokenDialog("backend", window)
    qtbot.addWidget(dialog)
    dialog.token.setText(backend.token())
    dialog.accept()
    assert dialog.token.text() == ""  # not kept in the widget
    window.remote.use_token_entry("backend", dialog.entry)
    await settle(lambda: poller.state == "degraded", timeout=8)
    assert strip.token_button.isHidden()


async def test_unreachable_and_silent_backends_while_the_loop_keeps_turning(
    console: Console,
) -> None:
    store_secret(ENTRY, "some-token-value")
    accepted: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await asyncio.sleep(3600)

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        window = await console(
            RemoteSettings(name="silent", url=f"http://127.0.0.1:{port}", token_keyring=ENTRY,
                           timeout_s=0.4),
            RemoteSettings(name="gone", url=f"http://127.0.0.1:{free_tcp_port()}",
                           token_keyring=ENTRY, timeout_s=0.4))
        ticks = 0

        def tick() -> None:
            nonlocal ticks
            ticks += 1

        timer = QTimer()
        timer.setInterval(20)
        timer.timeout.connect(tick)
        timer.start()
        window.remote.selector.choose("silent")
        silent_poller = window.remote.current
        assert silent_poller is not None
        await asyncio.sleep(0.35)
        assert accepted and silent_poller.last is None  # the call is still pending...
        assert ticks >= 8  # ...and Qt timers kept firing meanwhile
        assert window.banner.status_label.text() == "UNKNOWN"
        await settle(lambda: silent_poller.last is not None, timeout=8)
        timer.stop()
        assert silent_poller.state == "unreachable"
        assert "UNREACHABLE (timeout)" in window.remote.strip.error.text()
        assert "no answer within 0.4 s" in window.remote.strip.error.text()
        assert silent_poller.next_delay_s > silent_poller.interval_s  # backing off
        gone = await open_backend(window, "gone")
        assert gone.state == "unreachable"
        assert "connection_refused" in window.remote.strip.error.text()
        assert window.banner.status_label.text() == "UNREACHABLE"
        assert "gone - unreachable (connection_refused)" in window.remote.selector.itemText(2)
        window.remote.selector.choose("silent")
        window.breakers_panel.reset_all.click()  # an action on a silent backend: in words
        await settle(lambda: bool(window.action_log.records), timeout=5)
        record = window.action_log.records[0]
        assert (record.backend, record.ok) == ("silent", False)
        assert "Reset breaker failed (timeout)" in record.text
    finally:
        for writer in accepted:
            writer.close()
        silent.close()


async def test_a_foreign_shape_is_shown_raw_and_missing_fields_as_missing(
    http_server: HttpServer, console: Console,
) -> None:
    store_secret(ENTRY, "some-token-value")
    http_server.route(STATUS, body={
        "status": "healthy", "generated_at": "yesterday",
        "targets": [{"name": "api", "state": "up", "latencyMs": 5}],
        "breakers": [{"name": "db", "state": "closed"}],
        "database": {"status": "up", "mode": "emergency",
                     "pool": {"size": 4, "idle": 1, "in_use": 3, "max": 10}},
    })
    http_server.route(f"/list{STATUS}", body=[1, 2, 3])
    window = await console(remote(http_server.url), RemoteSettings(
        name="list", url=http_server.url_for("/list"), token_keyring=ENTRY))
    poller = await open_backend(window)
    assert poller.last is not None and poller.last.ok and poller.last.problems
    model = window.remote.targets_model
    assert model.index(0, COL_STATUS).data() == "up"
    assert model.index(0, COL_KIND).data() == MISSING
    assert window.breakers_model.index(0, 2).data() == f"{MISSING} / {MISSING}"
    strip = window.remote.strip
    assert "differ from netmon's shape" in strip.error.text()
    assert not strip.raw_button.isHidden()
    strip.raw_button.click()
    raw = strip.raw.toPlainText()
    assert "problem: missing field 'kind' in targets[0] (api)" in raw
    assert '"latencyMs"' in raw  # the answer as received
    panel = window.database_panel
    assert panel.values["Mode"].text() == "emergency"
    assert panel.values["Pool"].text() == "3 in use, 1 idle, size 4 of 10"
    assert not panel.reconnect.isEnabled()  # no remote endpoint for it

    listing = await open_backend(window, "list")
    assert listing.state == "unreadable"
    assert "expected a JSON object, got a list (3 items)" in strip.error.text()
    strip.raw_button.setChecked(True)
    assert "[1, 2, 3]" in strip.raw.toPlainText()


async def test_local_endpoints_let_the_cli_reset_a_breaker_the_console_shows(
    console: Console, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NETMON_TEST_JWT", HS_SECRET)
    config = Config(history=HistorySettings(enabled=False),
                    auth=AuthSettings(jwt_secret_env="NETMON_TEST_JWT",
                                      audience="authenticated", algorithms=["HS256"]),
                    targets=[Target(name="api", kind="tcp", host="127.0.0.1",
                                    port=free_tcp_port())])
    core = NetmonCore(config)
    await core.start(schedule=False)
    window = await console(core=core)
    for _ in range(3):
        with contextlib.suppress(ConnectionRefusedError):
            await core.breakers["api"].call(refused)
    await settle(lambda: window.breakers_model.index(0, COL_STATE).data() == "open")
    endpoints = LocalEndpoints(core)
    url = await endpoints.start()
    try:
        token = jwt.encode({"sub": "ops", "role": "service_role", "aud": "authenticated",
                            "exp": 4102444800}, HS_SECRET, algorithm="HS256")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NETMON_CLI_TOKEN": watch(token)}
        command = [sys.executable, "-m", "core", "recover", "reset-breaker"]
        fresh = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(fresh.communicate(), 20)
        assert fresh.returncode == 0, err
        assert f"a console serves its endpoints at {url}: add --remote local" in err.decode()
        assert core.breakers["api"].state == "open"  # a fresh process changed nothing here
        cli = await asyncio.create_subprocess_exec(
            *command, "api", "--remote", "local", "--token-env", "NETMON_CLI_TOKEN", env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(cli.communicate(), 20)
        assert cli.returncode == 0, err
        assert "api: open -> closed" in out.decode()
        assert core.breakers["api"].state == "closed"
        await settle(lambda: window.breakers_model.index(0, COL_STATE).data() == "closed")
    finally:
        await endpoints.aclose()
    gone = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "core", "status", "--remote", "local", env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = await asyncio.wait_for(gone.communicate(), 20)
    assert gone.returncode == 3
    assert "no console on this machine serves its endpoints" in err.decode()


async def test_backends_dialog_validates_and_saves_keeping_comments(
    tmp_path: Path, qtbot: QtBot, memory_keyring: Any,
) -> None:
    path = tmp_path / "netmon.toml"
    path.write_text("# my notes about this machine\n[monitor]\ninterval_s = 30\n", "utf-8")
    config = load_config(path)
    dialog = BackendsDialog(config)
    qtbot.addWidget(dialog)
    form = BackendForm(set(), None, dialog)
    qtbot.addWidget(form)
    form.name.setText("prod")
    form.url.setText("https://user:pw@prod.example:8787")
    assert not form.validate() and "no credentials in the URL" in form.errors["url"].text()
    form.url.setText("https://prod.example:8787")
    form.token.setText(watch("prod-bearer-token-7c1e9a"))
    assert form.validate() and form.errors["url"].isHidden()
    dialog.apply(None, form.result_settings())
    saved = dialog.save()
    text = path.read_text("utf-8")
    assert "# my notes about this machine" in text
    assert 'token_keyring = "netmon/remote/prod"' in text
    assert "prod-bearer-token" not in text
    assert memory_keyring.store  # the token went to keyring
    assert [r.name for r in load_config(path).remotes] == ["prod"] == [
        r.name for r in saved.remotes]
    taken = BackendForm({"prod"}, None, dialog)
    qtbot.addWidget(taken)
    taken.name.setText("prod")
    taken.url.setText("http://x.example")
    assert not taken.validate() and "already exists" in taken.errors["name"].text()


async def test_an_edited_backend_on_screen_is_followed_not_frozen(
    backend: Any, console: Any,
) -> None:
    """Editing the backend on screen used to leave the window on the closed poller: its old
    snapshot stayed up and actions hung at "sending..."."""
    store_secret(ENTRY, backend.token())
    window = await console(remote(backend.url))
    await open_backend(window)
    assert window.banner.status_label.text() == "DEGRADED"
    assert window.windowTitle().startswith("netmon - backend: DEGRADED")  # not the local one
    dead = f"http://127.0.0.1:{free_tcp_port()}"
    window.remote.set_config(replace(window.config, remotes=[remote(dead)]))
    new = window.remote.backends.get("backend")
    assert new is not None
    assert window.remote.current is new
    await settle(lambda: new.last is not None, timeout=8)
    await settle(lambda: window.banner.status_label.text() == "UNREACHABLE", timeout=3)
    assert window.remote.targets_model.rowCount() == 0
