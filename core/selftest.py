"""``netmon --self-test``: the checklist a support engineer runs first on a user's machine.

Each check prints one line (``PASS``, ``WARN`` or ``FAIL``, its name, what it saw, how long it
took); the exit code is 0 when nothing failed, 1 otherwise. A warning (e.g. a keyring that
cannot store) is reported but does not fail the run. Nothing leaves the machine: the DNS and
HTTP checks talk to tiny servers this module starts on 127.0.0.1 (port 0), each in its own
thread, so they work whatever event loop the caller runs (asyncio's or Qt's).

``netmon_gui.selftest`` adds the Qt checks and runs the same list on the console's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import logging
import pkgutil
import platform
import secrets
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from .version import __version__

__all__ = ["Check", "CheckFailedError", "CheckWarning", "Outcome", "check_forward",
           "core_checks", "main", "run_checks", "run_sync"]

#: A check returns what it saw (one short line) or raises; ``CheckWarning`` marks a warning.
Check = tuple[str, Callable[[], Awaitable[str]]]

_DNS_NAME = "selftest.netmon.test"
_DNS_ADDRESS = "192.0.2.53"  # TEST-NET-1: never a real host
_HTTP_BODY = b"netmon self-test ok"
_KEYRING_TIMEOUT_S = 5.0
_CHECK_TIMEOUT_S = 15.0


class CheckFailedError(Exception):
    """A check saw something wrong (its message is the line's detail)."""


class CheckWarning(Exception):  # noqa: N818 - a warning, not an error
    """A check found something a support engineer should know that does not fail the run."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One check's result."""

    name: str
    status: str  # "PASS", "WARN" or "FAIL"
    detail: str
    ms: float

    def line(self) -> str:
        """The printed line (ASCII only: a cp1252 console prints it)."""
        return _ascii(f"{self.status:<4}  {self.name:<10} {self.detail} ({self.ms:.0f} ms)")


async def run_checks(checks: Sequence[Check], out: TextIO) -> list[Outcome]:
    """Run ``checks`` one after the other, printing a line for each as it finishes.

    What netmon logs meanwhile (a breaker opening is part of a check) is kept off stderr;
    under a failed check its warnings are printed, indented, as evidence.
    """
    outcomes = []
    for name, check in checks:
        started = time.perf_counter()
        with _captured_log() as logged:
            try:
                detail = await asyncio.wait_for(check(), _CHECK_TIMEOUT_S)
                status = "PASS"
            except CheckWarning as warning:
                status, detail = "WARN", str(warning)
            except TimeoutError:
                status, detail = "FAIL", f"no answer within {_CHECK_TIMEOUT_S:.0f} s"
            except Exception as exc:
                status, detail = "FAIL", _describe(exc)
        outcome = Outcome(name, status, detail, (time.perf_counter() - started) * 1000)
        outcomes.append(outcome)
        print(outcome.line(), file=out, flush=True)
        if status == "FAIL":
            for message in logged:
                print(f"      log: {_ascii(message)}", file=out, flush=True)
    failed = sum(o.status == "FAIL" for o in outcomes)
    warned = sum(o.status == "WARN" for o in outcomes)
    print(f"self-test: {len(outcomes) - failed - warned} passed, {warned} warnings, "
          f"{failed} failed", file=out, flush=True)
    return outcomes


def run_sync(checks: Sequence[Check], out: TextIO | None = None) -> int:
    """Run ``checks`` on a fresh asyncio loop; the exit code (0 all passed, 1 any failed)."""
    outcomes = asyncio.run(run_checks(checks, out or sys.stdout))
    return 1 if any(o.status == "FAIL" for o in outcomes) else 0


def main(out: TextIO | None = None) -> int:
    """``netmon --self-test``."""
    return run_sync(core_checks(cli=True), out)


def core_checks(*, cli: bool = False) -> list[Check]:
    """The checks shared by ``netmon`` and ``netmon-gui``, in the order they run (``cli``:
    the imports include every CLI command)."""
    return [
        ("imports", functools.partial(check_imports, cli=cli)),
        ("resources", check_resources),
        ("folders", check_folders),
        ("keyring", check_keyring),
        ("dns", check_dns),
        ("http", check_http),
        ("breaker", check_breaker),
        ("retry", check_retry),
        ("history", check_history),
        ("jwt", check_jwt),
    ]


# ----------------------------------------------------------------------------- the checks

_MODULES = (
    "core.runtime", "core.diagnose", "core.probes.postgres", "core.probes.supabase",
    "core.remote", "asyncpg", "httpx", "dns.asyncresolver", "jwt",
    "cryptography.hazmat.primitives.asymmetric.ec", "keyring", "platformdirs", "tomlkit",
    "sqlite3", "ssl",
)


def _cli_modules() -> list[str]:
    """Every CLI command module (the commands may be imported lazily, so a frozen build
    can miss one that nothing imports by name)."""
    from . import commands

    names = (m.name for m in pkgutil.iter_modules(commands.__path__))
    return ["core.cli", *(f"core.commands.{name}" for name in names)]


async def check_imports(*, cli: bool = False) -> str:
    """The modules every netmon executable needs (and the CLI's commands) import."""
    modules = [*_MODULES, *(_cli_modules() if cli else ())]
    for module in modules:
        importlib.import_module(module)
    frozen = "frozen" if getattr(sys, "frozen", False) else "from source"
    return (f"netmon {__version__} ({frozen}), Python {platform.python_version()} on "
            f"{platform.system()} {platform.release()}, {len(modules)} modules")


async def check_resources() -> str:
    """The embedded default config is there and valid; the icons are there."""
    from importlib import resources

    from .config import default_config_text, parse_config

    config = parse_config(default_config_text(), source=Path("<embedded default_config.toml>"))
    icons = resources.files("resources").joinpath("icons")
    missing = [n for n in ("app.svg", "app.ico") if not icons.joinpath(n).is_file()]
    if missing:
        raise CheckFailedError(f"missing resources/icons/{', '.join(missing)}")
    return f"default config ({len(config.targets)} targets), icons app.svg and app.ico"


async def check_folders() -> str:
    """The config, data and log folders exist (they are created) and take a file."""
    import platformdirs

    from .config import config_path
    from .log import log_dir

    folders = {
        "config": config_path().parent,
        "data": Path(platformdirs.user_data_dir("netmon", appauthor=False)),
        "logs": log_dir(),
    }
    for label, folder in folders.items():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".selftest-"):
                pass
        except OSError as exc:
            raise CheckFailedError(f"{label} folder {folder} is not writable: {exc}") from None
    return ", ".join(f"{label} {folder}" for label, folder in folders.items())


async def check_keyring() -> str:
    """Which keyring backend is in use, and whether it stores (a throwaway entry, deleted)."""
    import keyring

    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__qualname__}"
    done = threading.Event()
    failure: list[BaseException] = []

    def round_trip() -> None:
        service, user = "netmon-selftest", f"selftest-{uuid.uuid4().hex}"
        value = secrets.token_hex(8)
        try:
            backend.set_password(service, user, value)
            try:
                if backend.get_password(service, user) != value:
                    raise CheckFailedError("read back a different value")
            finally:
                backend.delete_password(service, user)
        except BaseException as exc:
            failure.append(exc)
        finally:
            done.set()

    # A daemon thread, not the loop's executor: a keyring waiting for an unlock prompt
    # must not keep the process from exiting.
    threading.Thread(target=round_trip, name="netmon-selftest-keyring", daemon=True).start()
    deadline = time.monotonic() + _KEYRING_TIMEOUT_S
    while not done.is_set():
        if time.monotonic() > deadline:
            raise CheckWarning(f"{name}: no answer within {_KEYRING_TIMEOUT_S:.0f} s "
                           "(locked keyring waiting for a prompt?)")
        await asyncio.sleep(0.01)
    if failure:
        exc = failure[0]
        raise CheckWarning(f"{name} cannot store secrets ({_describe(exc)}); "
                       "name secrets with *_env variables instead")
    return f"{name} stores secrets (a throwaway entry was written, read and deleted)"


async def check_dns() -> str:
    """dnspython (the direct-resolver path of the DNS probe) against a loopback server."""
    from .probes.dns import resolve_direct

    with _dns_server() as port:
        answer = await resolve_direct(_DNS_NAME, f"127.0.0.1:{port}", timeout=3.0,
                                      record_types=("A",))
    if not answer.ok or answer.addresses != (_DNS_ADDRESS,):
        raise CheckFailedError(f"{_DNS_NAME}: {answer.error or answer.addresses}")
    return f"{_DNS_NAME} -> {_DNS_ADDRESS} from 127.0.0.1:{port} on {_loop_name()}"


async def check_http() -> str:
    """The HTTP probe (httpx, the system trust store loaded) against a loopback server."""
    from .config import Target
    from .probes import ProbeContext, make_probe

    with _http_server() as port:
        target = Target(name="selftest", kind="http", url=f"http://127.0.0.1:{port}/",
                        body_contains=_HTTP_BODY.decode(), timeout_s=5.0)
        context = ProbeContext(default_timeout_s=5.0)
        try:
            result = await make_probe(target, context).run()
        finally:
            await context.aclose()
    if not result.ok:
        raise CheckFailedError(f"{target.url}: {result.error_kind}: {result.error}")
    return f"GET {target.url} -> 200 with the expected body"


async def check_forward() -> str:
    """Forwarding notices (the console's, with the notify extra): apprise finds its plug-ins
    (a bundle that misses them knows no URL; the count of usable services shows one that
    misses some) and posts to a loopback server."""
    from .forward import apprise_available, send_url, usable_services

    if not apprise_available():
        raise CheckWarning("apprise is not installed: notices are not forwarded "
                           "(pip install netmon[notify])")
    with _http_server() as port:
        url = f"json://127.0.0.1:{port}/selftest"
        reason = await asyncio.to_thread(send_url, url, "netmon self-test", "ok", "info", 5.0)
    if reason:
        raise CheckFailedError(f"json://127.0.0.1:{port}/: {reason}")
    services = await asyncio.to_thread(usable_services)
    return f"apprise ({services} services usable) posted a notice to json://127.0.0.1:{port}/"


async def check_breaker() -> str:
    """A breaker opens on network failures, rejects, half-opens and closes again."""
    from .breaker import CircuitBreaker
    from .errors import CircuitOpenError
    from .testing import FakeClock

    clock = FakeClock()
    breaker = CircuitBreaker("selftest", failure_threshold=2, reset_timeout=30.0, clock=clock)
    seen = [str(breaker.state)]

    async def refused() -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    async def fine() -> str:
        return "ok"

    for _ in range(2):
        with contextlib.suppress(ConnectionRefusedError):
            await breaker.call(refused)
    seen.append(str(breaker.state))
    try:
        await breaker.call(fine)
    except CircuitOpenError:
        seen.append("rejected")
    clock.advance(30.0)
    seen.append(str(breaker.state))
    await breaker.call(fine)
    seen.append(str(breaker.state))
    expected = ["closed", "open", "rejected", "half_open", "closed"]
    if seen != expected:
        raise CheckFailedError(f"went {' -> '.join(seen)}, expected {' -> '.join(expected)}")
    return " -> ".join(seen)


async def check_retry() -> str:
    """The retry loop retries network errors with backoff (real sleeps of a few ms)."""
    from .backoff import Backoff, Jitter
    from .retry import Retrier, RetryAttempt, RetryPolicy

    retrier = Retrier(RetryPolicy("selftest", 3, Backoff(0.005, 2.0, 0.05, Jitter.NONE)))
    attempts: list[RetryAttempt] = []
    retrier.attempted.connect(attempts.append)
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionResetError(104, "Connection reset by peer")
        return "ok"

    started = time.perf_counter()
    await retrier.call(flaky)
    waited_ms = (time.perf_counter() - started) * 1000
    delays = [a.delay for a in attempts if a.delay is not None]
    if calls != 3 or len(delays) != 2:
        raise CheckFailedError(f"{calls} calls, delays {delays}")
    planned_ms = sum(delays) * 1000
    if waited_ms < planned_ms * 0.9:
        raise CheckFailedError(f"waited {waited_ms:.1f} ms, backoff planned {planned_ms:.1f} ms")
    return (f"succeeded on attempt 3 after backoff "
            f"{' + '.join(f'{d * 1000:.0f}' for d in delays)} ms")


async def check_history() -> str:
    """A result written to a SQLite history store (a temporary file) reads back."""
    from .history import HistoryStore
    from .probes import ProbeResult

    with tempfile.TemporaryDirectory(prefix="netmon-selftest-") as folder:
        store = HistoryStore(Path(folder) / "history.sqlite3", flush_interval=0.05)
        await store.start()
        try:
            when = datetime.now(UTC).replace(microsecond=0)
            store.add(ProbeResult("selftest", "tcp", True, 1.5, when))
            await store.flush()
            rows = await store.query("selftest", resolution="raw")
        finally:
            await store.close()
    if len(rows) != 1 or not rows[0].ok:
        raise CheckFailedError(f"wrote 1 result, read back {rows!r}")
    return f"wrote and read 1 row (SQLite {_sqlite_version()})"


async def check_jwt() -> str:
    """HS256 and ES256 tokens verified locally (PyJWT and cryptography are there)."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    from .tokens import JwksCache, LocalValidator

    now = datetime.now(UTC)
    claims = {"sub": "selftest", "iat": now, "exp": now + timedelta(minutes=5)}
    secret = secrets.token_urlsafe(32)
    hs = LocalValidator(secret=secret, algorithms=("HS256",))
    got = await hs.validate(jwt.encode(claims, secret, algorithm="HS256"))
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)

    async def keys() -> Mapping[str, Any]:
        return {"keys": [{**jwk, "kid": "selftest", "alg": "ES256", "use": "sig"}]}

    es = LocalValidator(jwks=JwksCache(keys, clock=hs.clock), algorithms=("ES256",))
    token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "selftest"})
    got_es = await es.validate(token)
    if got.get("sub") != "selftest" or got_es.get("sub") != "selftest":
        raise CheckFailedError("a token verified with the wrong claims")
    return f"HS256 and ES256 verified locally (PyJWT {jwt.__version__})"


# ----------------------------------------------------------------------------- helpers

def _ascii(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("ascii").replace("\n", " ")


def _describe(exc: BaseException) -> str:
    """The exception's type and first sentence (keyring's errors run to a paragraph)."""
    text = str(exc).split(". ")[0].strip()
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _captured_log() -> Iterator[list[str]]:
    """Collect the ``netmon`` logger's warnings instead of letting them reach stderr."""
    logger = logging.getLogger("netmon")
    capture = _Capture()
    propagate, handlers = logger.propagate, logger.handlers[:]
    logger.handlers, logger.propagate = [capture], False
    try:
        yield capture.messages
    finally:
        logger.handlers, logger.propagate = handlers, propagate

def _sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def _loop_name() -> str:
    return type(asyncio.get_running_loop()).__name__


@contextlib.contextmanager
def _dns_server() -> Iterator[int]:
    """A UDP DNS server on 127.0.0.1 answering ``_DNS_NAME`` A; yields its port."""
    import dns.message
    import dns.rcode
    import dns.rrset

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            try:
                query = dns.message.from_wire(wire)
            except Exception:  # not DNS: ignore it
                continue
            reply = dns.message.make_response(query)
            question = query.question[0]
            if question.name.to_text(omit_final_dot=True).lower() == _DNS_NAME:
                reply.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A",
                                                        _DNS_ADDRESS))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            with contextlib.suppress(OSError):
                sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, name="netmon-selftest-dns", daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(2.0)
        sock.close()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(_HTTP_BODY)))
        self.end_headers()
        self.wfile.write(_HTTP_BODY)

    def do_POST(self) -> None:
        """A forwarded notice (``check_forward``): read and answered 200 like GET."""
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: nothing on stderr."""


@contextlib.contextmanager
def _http_server() -> Iterator[int]:
    """An HTTP server on 127.0.0.1 answering 200 with ``_HTTP_BODY``; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                              name="netmon-selftest-http", daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(2.0)

