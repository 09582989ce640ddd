"""classify(): every number and message ARCHITECTURE.md lists, on every platform,
plus real failures wrapped by httpx and asyncpg."""

from __future__ import annotations

import asyncio
import socket
import ssl

import asyncpg
import dns.message
import dns.resolver
import httpx
import pytest

from core.errors import (
    NETWORK_KINDS,
    CircuitOpenError,
    ConfigError,
    ErrorKind,
    classify,
    http_status_for,
    kind_info,
)

K = ErrorKind


def _win(winerror: int, errno_: int | None = None) -> OSError:
    """An OSError as Windows' proactor raises it (``winerror`` cannot exist on Linux)."""
    exc = OSError(errno_ if errno_ is not None else winerror, "windows error")
    exc.winerror = winerror  # type: ignore[attr-defined]
    return exc


GAI_TABLE = [
    # Linux / glibc
    (-2, K.DNS_NOT_FOUND), (-3, K.DNS_TEMPORARY), (-4, K.DNS_FAILURE), (-5, K.DNS_NO_DATA),
    # macOS / BSD
    (8, K.DNS_NOT_FOUND), (2, K.DNS_TEMPORARY), (4, K.DNS_FAILURE), (7, K.DNS_NO_DATA),
    # Windows WSA
    (11001, K.DNS_NOT_FOUND), (11002, K.DNS_TEMPORARY), (11003, K.DNS_FAILURE),
    (11004, K.DNS_NO_DATA),
]


@pytest.mark.parametrize(("code", "kind"), GAI_TABLE)
def test_gaierror_numbers(code: int, kind: ErrorKind) -> None:
    assert classify(socket.gaierror(code, "getaddrinfo failed")) is kind


ERRNO_TABLE = [
    # Linux
    (111, K.CONNECTION_REFUSED), (101, K.NETWORK_UNREACHABLE), (113, K.HOST_UNREACHABLE),
    (104, K.CONNECTION_RESET), (110, K.TIMEOUT),
    # macOS
    (61, K.CONNECTION_REFUSED), (51, K.NETWORK_UNREACHABLE), (65, K.HOST_UNREACHABLE),
    (54, K.CONNECTION_RESET), (60, K.TIMEOUT),
    # Windows WSA numbers as errno
    (10061, K.CONNECTION_REFUSED), (10051, K.NETWORK_UNREACHABLE), (10065, K.HOST_UNREACHABLE),
    (10054, K.CONNECTION_RESET), (10060, K.TIMEOUT),
    (11001, K.DNS_NOT_FOUND), (11002, K.DNS_TEMPORARY), (11003, K.DNS_FAILURE),
    (11004, K.DNS_NO_DATA),
]


@pytest.mark.parametrize(("code", "kind"), ERRNO_TABLE)
def test_oserror_numbers(code: int, kind: ErrorKind) -> None:
    assert classify(OSError(code, "some text")) is kind


@pytest.mark.parametrize(
    ("winerror", "kind"),
    [(10061, K.CONNECTION_REFUSED), (10051, K.NETWORK_UNREACHABLE), (10065, K.HOST_UNREACHABLE),
     (10054, K.CONNECTION_RESET), (10060, K.TIMEOUT), (1225, K.CONNECTION_REFUSED),
     (1231, K.NETWORK_UNREACHABLE), (1232, K.HOST_UNREACHABLE), (64, K.CONNECTION_RESET),
     (121, K.TIMEOUT)],
)
def test_windows_winerror_attribute(winerror: int, kind: ErrorKind) -> None:
    # Python on Windows maps WSAECONNREFUSED to errno 10061 but also sets winerror;
    # the proactor's Win32 codes (1225...) arrive with an unrelated errno.
    assert classify(_win(winerror, errno_=22)) is kind


MESSAGES = [
    ("[Errno 11001] getaddrinfo failed", K.DNS_NOT_FOUND),
    ("Name or service not known", K.DNS_NOT_FOUND),
    ("nodename nor servname provided, or not known", K.DNS_NOT_FOUND),
    ("Temporary failure in name resolution", K.DNS_TEMPORARY),
    ("Network is unreachable", K.NETWORK_UNREACHABLE),
    ("No route to host", K.HOST_UNREACHABLE),
    ("Connection refused", K.CONNECTION_REFUSED),
    ("No connection could be made because the target machine actively refused it",
     K.CONNECTION_REFUSED),
    ("An existing connection was forcibly closed by the remote host", K.CONNECTION_RESET),
]


@pytest.mark.parametrize(("message", "kind"), MESSAGES)
def test_messages_without_numbers(message: str, kind: ErrorKind) -> None:
    assert classify(RuntimeError(message)) is kind
    assert classify(OSError(message)) is kind


def test_subclasses_without_numbers() -> None:
    assert classify(ConnectionRefusedError()) is K.CONNECTION_REFUSED
    assert classify(ConnectionResetError()) is K.CONNECTION_RESET
    assert classify(BrokenPipeError()) is K.CONNECTION_RESET


def test_timeouts() -> None:
    assert classify(TimeoutError()) is K.TIMEOUT
    assert classify(asyncio.CancelledError()) is K.UNKNOWN


def test_ssl_errors_are_tls() -> None:
    assert classify(ssl.SSLCertVerificationError(1, "certificate verify failed")) is K.TLS_ERROR
    assert classify(ssl.SSLError(1, "wrong version number")) is K.TLS_ERROR


def test_unknown_is_unknown() -> None:
    assert classify(ValueError("bad value")) is K.UNKNOWN
    assert classify(KeyError("x")) is K.UNKNOWN


def test_cause_and_context_are_walked() -> None:
    try:
        try:
            raise socket.gaierror(11001, "getaddrinfo failed")
        except OSError as inner:
            raise RuntimeError("could not connect to db") from inner
    except RuntimeError as outer:
        assert classify(outer) is K.DNS_NOT_FOUND
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError:
            raise ValueError("while talking to the API")  # noqa: B904 - implicit __context__
    except ValueError as outer:
        assert classify(outer) is K.CONNECTION_REFUSED


def test_cyclic_chain_terminates() -> None:
    a, b = RuntimeError("a"), RuntimeError("b")
    a.__cause__, b.__cause__ = b, a
    assert classify(a) is K.UNKNOWN


def test_exception_group_is_searched() -> None:
    group = ExceptionGroup("many", [ValueError("x"), ConnectionResetError(104, "reset")])
    assert classify(group) is K.CONNECTION_RESET


async def test_real_getaddrinfo_failure() -> None:
    loop = asyncio.get_running_loop()
    with pytest.raises(socket.gaierror) as info:
        await loop.getaddrinfo("something.invalid", 80)
    assert classify(info.value) is K.DNS_NOT_FOUND


async def test_httpx_wrapping_real_gaierror() -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        with pytest.raises(httpx.ConnectError) as info:
            await client.get("http://something.invalid/")
    assert classify(info.value) is K.DNS_NOT_FOUND


async def test_httpx_refused_on_a_closed_loopback_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connects are refused
        async with httpx.AsyncClient(trust_env=False) as client:
            with pytest.raises(httpx.ConnectError) as info:
                await client.get(f"http://127.0.0.1:{port}/")
    assert classify(info.value) is K.CONNECTION_REFUSED


async def test_asyncpg_wrapping_real_gaierror() -> None:
    with pytest.raises(Exception) as info:  # noqa: PT011 - asyncpg's type is the question
        await asyncpg.connect(host="something.invalid", port=5432, user="u", database="d",
                              timeout=5)
    assert classify(info.value) is K.DNS_NOT_FOUND


def test_httpx_status_errors() -> None:
    request = httpx.Request("GET", "http://svc.test/")
    for status, kind in [(401, K.AUTH_FAILED), (403, K.AUTH_FAILED), (404, K.HTTP_CLIENT_ERROR),
                         (500, K.HTTP_SERVER_ERROR), (503, K.HTTP_SERVER_ERROR)]:
        response = httpx.Response(status, request=request)
        exc = httpx.HTTPStatusError("bad", request=request, response=response)
        assert classify(exc) is kind, status


def test_httpx_timeouts() -> None:
    assert classify(httpx.ConnectTimeout("x")) is K.TIMEOUT
    assert classify(httpx.ReadTimeout("x")) is K.TIMEOUT
    assert classify(httpx.PoolTimeout("x")) is K.TIMEOUT


def test_asyncpg_errors() -> None:
    assert classify(asyncpg.exceptions.InvalidPasswordError("bad password")) is K.AUTH_FAILED
    assert classify(asyncpg.exceptions.InvalidAuthorizationSpecificationError("no role")) \
        is K.AUTH_FAILED
    assert classify(asyncpg.exceptions.ConnectionDoesNotExistError("gone")) \
        is K.CONNECTION_RESET
    assert classify(asyncpg.exceptions.CannotConnectNowError("starting")) \
        is K.CONNECTION_REFUSED
    assert classify(asyncpg.exceptions.TooManyConnectionsError("full")) is K.CONNECTION_REFUSED


def test_dnspython_errors() -> None:
    assert classify(dns.resolver.NXDOMAIN()) is K.DNS_NOT_FOUND
    assert classify(dns.resolver.NoAnswer()) is K.DNS_NO_DATA
    assert classify(dns.resolver.LifetimeTimeout(timeout=1.0, errors=[])) is K.DNS_TIMEOUT
    # NoNameservers lists (server, tcp, port, rcode text or exception, response).
    query = dns.message.make_query("svc.test", "A")
    servfail = dns.resolver.NoNameservers(
        request=query, errors=[("127.0.0.1", False, 53, "SERVFAIL", None)])
    assert classify(servfail) is K.DNS_TEMPORARY
    refused = dns.resolver.NoNameservers(
        request=query, errors=[("127.0.0.1", False, 53, "REFUSED", None)])
    assert classify(refused) is K.DNS_FAILURE
    unreachable = dns.resolver.NoNameservers(
        request=query,
        errors=[("10.0.0.1", False, 53, OSError(101, "Network is unreachable"), None)])
    assert classify(unreachable) is K.NETWORK_UNREACHABLE


def test_circuit_open_and_config_errors() -> None:
    assert classify(CircuitOpenError("db", None, 1.0)) is K.CIRCUIT_OPEN
    assert classify(ConfigError("bad")) is K.UNKNOWN


def test_http_status_mapping() -> None:
    for kind in ErrorKind:
        expected = 503 if kind in NETWORK_KINDS else 500
        assert http_status_for(kind) == expected
    assert http_status_for(K.DNS_NOT_FOUND) == 503
    assert http_status_for(K.AUTH_FAILED) == 500


def test_every_kind_has_title_and_hint() -> None:
    for kind in ErrorKind:
        info = kind_info(kind)
        assert info.title and info.hint.endswith(".")
        assert info.hint.isascii() and info.title.isascii()


def test_kind_values_are_the_architecture_vocabulary() -> None:
    assert {k.value for k in ErrorKind} == {
        "dns_not_found", "dns_temporary", "dns_no_data", "dns_failure", "dns_timeout",
        "connection_refused", "network_unreachable", "host_unreachable", "connection_reset",
        "timeout", "tls_error", "http_server_error", "http_client_error", "auth_failed",
        "circuit_open", "protocol_error", "unknown",
    }
