"""Error kinds, the netmon exception tree and ``classify(exc) -> ErrorKind``.

The exception tree::

    NetmonError                 kind, target (every netmon error carries fields)
    +-- ConfigError             path, field, allowed  (bad config: CLI exits 3)
    +-- CircuitOpenError        breaker, retry_at, retry_after (call refused, not attempted)

``classify`` walks ``__cause__`` / ``__context__`` (httpx, httpcore and asyncpg wrap the
socket error) and knows the numbers of Linux, macOS and Windows on every platform, so
``[Errno 11001] getaddrinfo failed`` is recognised even when the log came from elsewhere.
"""

from __future__ import annotations

import errno as _errno
import socket
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "NETWORK_KINDS",
    "CircuitOpenError",
    "ConfigError",
    "ErrorKind",
    "KindInfo",
    "NetmonError",
    "classify",
    "http_status_for",
    "is_network",
    "kind_for_http_status",
    "kind_info",
]


class ErrorKind(StrEnum):
    """Why an operation failed; the values are the stable vocabulary of ARCHITECTURE.md."""

    DNS_NOT_FOUND = "dns_not_found"
    DNS_TEMPORARY = "dns_temporary"
    DNS_NO_DATA = "dns_no_data"
    DNS_FAILURE = "dns_failure"
    DNS_TIMEOUT = "dns_timeout"
    CONNECTION_REFUSED = "connection_refused"
    NETWORK_UNREACHABLE = "network_unreachable"
    HOST_UNREACHABLE = "host_unreachable"
    CONNECTION_RESET = "connection_reset"
    TIMEOUT = "timeout"
    TLS_ERROR = "tls_error"
    HTTP_SERVER_ERROR = "http_server_error"
    HTTP_CLIENT_ERROR = "http_client_error"
    AUTH_FAILED = "auth_failed"
    CIRCUIT_OPEN = "circuit_open"
    PROTOCOL_ERROR = "protocol_error"
    UNKNOWN = "unknown"


K = ErrorKind

#: Kinds that mean "the network path to the dependency is broken": HTTP 503, retryable,
#: and (except ``circuit_open``, which is our own refusal) counted by circuit breakers.
NETWORK_KINDS: frozenset[ErrorKind] = frozenset(
    {
        K.DNS_NOT_FOUND, K.DNS_TEMPORARY, K.DNS_NO_DATA, K.DNS_FAILURE, K.DNS_TIMEOUT,
        K.CONNECTION_REFUSED, K.NETWORK_UNREACHABLE, K.HOST_UNREACHABLE,
        K.CONNECTION_RESET, K.TIMEOUT, K.CIRCUIT_OPEN,
    }
)


class KindInfo(NamedTuple):
    """What a person should read about an error kind (a named tuple: no dataclasses
    import, ~10 ms, on the ``netmon --help`` path)."""

    title: str
    hint: str


_INFO: dict[ErrorKind, KindInfo] = {
    K.DNS_NOT_FOUND: KindInfo(
        "Name not found",
        "Check the spelling, the hosts file, VPN split DNS and which DNS server this machine uses.",
    ),
    K.DNS_TEMPORARY: KindInfo(
        "DNS temporarily failing",
        "The resolver could not answer now; check connectivity to the DNS server and retry.",
    ),
    K.DNS_NO_DATA: KindInfo(
        "Name has no address",
        "The name exists but has no A/AAAA record; check the record type or the IPv4/IPv6 setup.",
    ),
    K.DNS_FAILURE: KindInfo(
        "DNS failure",
        "The DNS server gave a non-recoverable error; try another nameserver or fix the zone.",
    ),
    K.DNS_TIMEOUT: KindInfo(
        "DNS timed out",
        "No DNS server answered in time; check the network path to the resolver and the VPN.",
    ),
    K.CONNECTION_REFUSED: KindInfo(
        "Connection refused",
        "The host is up but nothing listens on that port: start the service or check the port.",
    ),
    K.NETWORK_UNREACHABLE: KindInfo(
        "Network unreachable",
        "This machine has no route to that network: check the link, Wi-Fi, VPN and gateway.",
    ),
    K.HOST_UNREACHABLE: KindInfo(
        "No route to host",
        "The host does not answer on the local network or a firewall rejects it; check both.",
    ),
    K.CONNECTION_RESET: KindInfo(
        "Connection reset",
        "The peer or a middlebox closed the connection; check proxies, firewalls and server logs.",
    ),
    K.TIMEOUT: KindInfo(
        "Timed out",
        "No answer in time: a firewall dropping packets, an overloaded server or a slow link.",
    ),
    K.TLS_ERROR: KindInfo(
        "TLS error",
        "Check the system clock, the certificate chain and any TLS-inspecting proxy.",
    ),
    K.HTTP_SERVER_ERROR: KindInfo(
        "Server error (5xx)",
        "The service answered but is failing; check its logs and its own dependencies.",
    ),
    K.HTTP_CLIENT_ERROR: KindInfo(
        "Request rejected (4xx)",
        "The service rejected the request; check the URL, method and parameters.",
    ),
    K.AUTH_FAILED: KindInfo(
        "Authentication failed",
        "Check the credentials stored in the keyring and the role or API key in use.",
    ),
    K.CIRCUIT_OPEN: KindInfo(
        "Circuit open",
        "Calls are paused after repeated failures; fix the cause, wait, or reset the breaker.",
    ),
    K.PROTOCOL_ERROR: KindInfo(
        "Protocol error",
        "The peer answered with something unexpected; check that the port speaks this protocol.",
    ),
    K.UNKNOWN: KindInfo(
        "Unexpected error",
        "See the error text and the log file for details.",
    ),
}


def kind_info(kind: ErrorKind) -> KindInfo:
    """Title and one-line remediation hint for ``kind``."""
    return _INFO[kind]


def is_network(kind: ErrorKind) -> bool:
    """True for kinds that mean the network path is broken."""
    return kind in NETWORK_KINDS


def http_status_for(kind: ErrorKind) -> int:
    """503 for network kinds (the dependency is unreachable), 500 for everything else."""
    return 503 if kind in NETWORK_KINDS else 500


class NetmonError(Exception):
    """Base of netmon's own errors: carries a kind and, where known, the target."""

    kind: ErrorKind = ErrorKind.UNKNOWN

    def __init__(self, message: str, *, target: str | None = None) -> None:
        super().__init__(message)
        self.target = target


class ConfigError(NetmonError):
    """The configuration cannot be used; the message names the file, field and fix."""

    def __init__(
        self, message: str, *, path: str | None = None, field: str | None = None,
        allowed: str | None = None,
    ) -> None:
        where = ": ".join(p for p in (path, field) if p)
        text = f"{where}: {message}" if where else message
        if allowed:
            text = f"{text} (allowed: {allowed})"
        super().__init__(text)
        self.path = path
        self.field = field
        self.allowed = allowed


class CircuitOpenError(NetmonError):
    """A call refused by an open circuit breaker without being attempted.

    Rejections are hot (an open breaker refuses every call): the fields live in ``args``,
    set by the C constructor of ``Exception`` (no Python ``__init__``, no instance dict),
    and ``__str__`` formats on demand.
    """

    kind = ErrorKind.CIRCUIT_OPEN
    args: tuple[str, datetime | None, float]

    if TYPE_CHECKING:
        def __init__(self, breaker: str, retry_at: datetime | None, retry_after: float) -> None:
            ...
    else:
        __init__ = Exception.__init__

    @property
    def breaker(self) -> str:
        """The name of the breaker that refused the call."""
        return self.args[0]

    @property
    def target(self) -> str:  # type: ignore[override]  # read-only here: it is the breaker
        """The breaker's name (what every NetmonError names as its target)."""
        return self.args[0]

    @property
    def retry_at(self) -> datetime | None:
        """When the breaker will admit a trial call (None when held open by hand)."""
        return self.args[1]

    @property
    def retry_after(self) -> float:
        """Seconds until then, at the time of the rejection (inf when held open by hand)."""
        return self.args[2]

    def __str__(self) -> str:
        if self.retry_after == float("inf"):
            return f"circuit '{self.breaker}' is held open by hand; reset it to allow calls"
        return f"circuit '{self.breaker}' is open; retry in {self.retry_after:.1f}s"


# --- numbers ---------------------------------------------------------------------------
# getaddrinfo error codes: Linux/glibc, macOS/BSD, Windows (WSA*). Only trusted on gaierror,
# because the small macOS values collide with ordinary errno numbers.
_GAI_CODES: dict[int, ErrorKind] = {
    -2: K.DNS_NOT_FOUND, 8: K.DNS_NOT_FOUND, 11001: K.DNS_NOT_FOUND,   # EAI_NONAME
    -3: K.DNS_TEMPORARY, 2: K.DNS_TEMPORARY, 11002: K.DNS_TEMPORARY,   # EAI_AGAIN
    -4: K.DNS_FAILURE, 4: K.DNS_FAILURE, 11003: K.DNS_FAILURE,         # EAI_FAIL
    -5: K.DNS_NO_DATA, 7: K.DNS_NO_DATA, 11004: K.DNS_NO_DATA,         # EAI_NODATA
    -9: K.DNS_NO_DATA,                                                 # EAI_ADDRFAMILY
}

# socket errno values: Linux, macOS/BSD, Windows (WSA*).
_ERRNO_CODES: dict[int, ErrorKind] = {
    111: K.CONNECTION_REFUSED, 61: K.CONNECTION_REFUSED, 10061: K.CONNECTION_REFUSED,
    101: K.NETWORK_UNREACHABLE, 51: K.NETWORK_UNREACHABLE, 10051: K.NETWORK_UNREACHABLE,
    113: K.HOST_UNREACHABLE, 65: K.HOST_UNREACHABLE, 10065: K.HOST_UNREACHABLE,
    104: K.CONNECTION_RESET, 54: K.CONNECTION_RESET, 10054: K.CONNECTION_RESET,
    110: K.TIMEOUT, 60: K.TIMEOUT, 10060: K.TIMEOUT,
    # ENETDOWN / EHOSTDOWN are unreachability too.
    100: K.NETWORK_UNREACHABLE, 50: K.NETWORK_UNREACHABLE, 10050: K.NETWORK_UNREACHABLE,
    112: K.HOST_UNREACHABLE, 64: K.HOST_UNREACHABLE, 10064: K.HOST_UNREACHABLE,
    # Windows WSA name-resolution errors also reach plain OSError (e.g. from asyncio).
    11001: K.DNS_NOT_FOUND, 11002: K.DNS_TEMPORARY, 11003: K.DNS_FAILURE,
    11004: K.DNS_NO_DATA,
}
# Take this platform's own errno values first, in case they differ from the table.
for _name, _kind in (
    ("ECONNREFUSED", K.CONNECTION_REFUSED), ("ENETUNREACH", K.NETWORK_UNREACHABLE),
    ("EHOSTUNREACH", K.HOST_UNREACHABLE), ("ECONNRESET", K.CONNECTION_RESET),
    ("ETIMEDOUT", K.TIMEOUT), ("ECONNABORTED", K.CONNECTION_RESET), ("EPIPE", K.CONNECTION_RESET),
):
    _ERRNO_CODES[getattr(_errno, _name)] = _kind

# Win32 system error codes that asyncio's proactor loop raises as ``winerror``.
_WINERROR_CODES: dict[int, ErrorKind] = {
    64: K.CONNECTION_RESET,      # ERROR_NETNAME_DELETED
    121: K.TIMEOUT,              # ERROR_SEM_TIMEOUT
    1225: K.CONNECTION_REFUSED,  # ERROR_CONNECTION_REFUSED
    1231: K.NETWORK_UNREACHABLE, # ERROR_NETWORK_UNREACHABLE
    1232: K.HOST_UNREACHABLE,    # ERROR_HOST_UNREACHABLE
    1236: K.CONNECTION_RESET,    # ERROR_CONNECTION_ABORTED
    **{code: kind for code, kind in _ERRNO_CODES.items() if code >= 10000},
}

#: Builtin socket errors whose number says everything (the fast path of ``classify``).
_PLAIN_OS_ERRORS: frozenset[type[BaseException]] = frozenset(
    {OSError, ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError,
     BrokenPipeError, TimeoutError}
)

# Messages, lower case, for errors that arrive as text only (logs, wrapped strings).
_MESSAGES: tuple[tuple[str, ErrorKind], ...] = (
    ("getaddrinfo failed", K.DNS_NOT_FOUND),
    ("name or service not known", K.DNS_NOT_FOUND),
    ("nodename nor servname provided", K.DNS_NOT_FOUND),
    ("no such host is known", K.DNS_NOT_FOUND),
    ("temporary failure in name resolution", K.DNS_TEMPORARY),
    ("temporary error during hostname resolution", K.DNS_TEMPORARY),
    ("non-recoverable failure in name resolution", K.DNS_FAILURE),
    ("no address associated with hostname", K.DNS_NO_DATA),
    ("network is unreachable", K.NETWORK_UNREACHABLE),
    ("unreachable network", K.NETWORK_UNREACHABLE),
    ("no route to host", K.HOST_UNREACHABLE),
    ("unreachable host", K.HOST_UNREACHABLE),
    ("connection refused", K.CONNECTION_REFUSED),
    ("actively refused", K.CONNECTION_REFUSED),
    ("connection reset", K.CONNECTION_RESET),
    ("forcibly closed by the remote host", K.CONNECTION_RESET),
    ("server disconnected without sending", K.CONNECTION_RESET),
    ("peer closed connection", K.CONNECTION_RESET),
    ("did not properly respond after a period of time", K.TIMEOUT),
    ("timed out", K.TIMEOUT),
)


def classify(exc: BaseException) -> ErrorKind:
    """The ``ErrorKind`` of ``exc``, looking through its causes and contexts.

    The first exception in the chain (outermost first) with a specific meaning wins;
    wrappers with no meaning of their own (``httpx.ConnectError``) defer to what they wrap,
    and messages are read only when no exception in the chain says more.
    """
    if (
        type(exc) in _PLAIN_OS_ERRORS and exc.__cause__ is None and exc.__context__ is None
        and isinstance(exc.errno, int) and exc.errno in _ERRNO_CODES  # type: ignore[attr-defined]
        and getattr(exc, "winerror", None) is None
    ):
        return _ERRNO_CODES[exc.errno]  # type: ignore[attr-defined]  # fast path, no chain
    chain = _chain(exc)
    for item in chain:
        kind = _specific(item)
        if kind is not None:
            return kind
    for item in chain:
        kind = _from_message(str(item))
        if kind is not None:
            return kind
    for item in chain:
        kind = _fallback(item)
        if kind is not None:
            return kind
    return K.UNKNOWN


def _chain(exc: BaseException) -> list[BaseException]:
    seen: set[int] = set()
    out: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        item = todo.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        out.append(item)
        if isinstance(item, BaseExceptionGroup):
            todo.extend(item.exceptions)
        for nxt in (item.__cause__, item.__context__):
            if nxt is not None:
                todo.append(nxt)
    return out


def _specific(exc: BaseException) -> ErrorKind | None:
    """A kind decided by the exception's type or number alone, or None."""
    if isinstance(exc, NetmonError) and exc.kind is not K.UNKNOWN:
        return exc.kind
    for probe in (_from_dns, _from_httpx, _from_asyncpg):
        kind = probe(exc)
        if kind is not None:
            return kind
    ssl = _loaded("ssl")
    if ssl is not None and isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return K.TLS_ERROR
    if isinstance(exc, socket.gaierror):
        code = exc.errno if isinstance(exc.errno, int) else None
        if code is not None and code in _GAI_CODES:
            return _GAI_CODES[code]
        return _from_message(str(exc)) or K.DNS_FAILURE
    if isinstance(exc, OSError):
        winerror = getattr(exc, "winerror", None)
        if isinstance(winerror, int) and winerror in _WINERROR_CODES:
            return _WINERROR_CODES[winerror]
        if isinstance(exc.errno, int) and exc.errno in _ERRNO_CODES:
            return _ERRNO_CODES[exc.errno]
        if isinstance(exc, ConnectionRefusedError):
            return K.CONNECTION_REFUSED
        if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
            return K.CONNECTION_RESET
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError is TimeoutError since 3.11
        return K.TIMEOUT
    return None


def _from_message(text: str) -> ErrorKind | None:
    low = text.lower()
    for needle, kind in _MESSAGES:
        if needle in low:
            return kind
    return None


def _fallback(exc: BaseException) -> ErrorKind | None:
    """Weak hints used only when nothing more specific is known."""
    if isinstance(exc, EOFError):  # asyncio.IncompleteReadError is one
        return K.CONNECTION_RESET
    httpx = _loaded("httpx")
    if httpx is None:
        return None
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return K.CONNECTION_RESET
    if isinstance(exc, httpx.RemoteProtocolError):
        return K.PROTOCOL_ERROR
    return None


def _loaded(module: str) -> Any:
    """The module if something imported it, else None. An exception of a library nobody
    imported cannot exist, so classify() never pays for importing one (dnspython, httpx
    and asyncpg cost tens to hundreds of milliseconds, on the event loop)."""
    return sys.modules.get(module)


def _from_dns(exc: BaseException) -> ErrorKind | None:
    exception = _loaded("dns.exception")
    if exception is None or not isinstance(exc, exception.DNSException):
        return None
    if isinstance(exc, exception.Timeout):
        return K.DNS_TIMEOUT
    resolver = _loaded("dns.resolver")  # its exceptions exist only once it is imported
    if resolver is not None:
        if isinstance(exc, resolver.NXDOMAIN):
            return K.DNS_NOT_FOUND
        if isinstance(exc, resolver.NoAnswer):
            return K.DNS_NO_DATA
        if isinstance(exc, resolver.NoNameservers):
            return _from_nameserver_errors(exc.kwargs.get("errors") or [])
    return K.DNS_FAILURE


def _from_nameserver_errors(errors: list[Any]) -> ErrorKind:
    """NoNameservers lists (server, tcp, port, error-or-rcode-text, response) tuples."""
    outcomes = [entry[3] for entry in errors if len(entry) >= 4]
    if any(o == "SERVFAIL" for o in outcomes):
        return K.DNS_TEMPORARY
    exceptions = [o for o in outcomes if isinstance(o, BaseException)]
    kinds = [classify(o) for o in exceptions]
    for kind in kinds:
        if kind is K.TIMEOUT:
            return K.DNS_TIMEOUT
    for kind in kinds:
        if kind in NETWORK_KINDS:
            return kind
    return K.DNS_FAILURE


def _from_httpx(exc: BaseException) -> ErrorKind | None:
    httpx = _loaded("httpx")
    if httpx is None:
        return None
    if isinstance(exc, httpx.HTTPStatusError):
        return kind_for_http_status(exc.response.status_code)
    if isinstance(exc, httpx.TimeoutException):
        return K.TIMEOUT
    if isinstance(
        exc, httpx.UnsupportedProtocol | httpx.DecodingError | httpx.TooManyRedirects
        | httpx.LocalProtocolError | httpx.InvalidURL,
    ):
        return K.PROTOCOL_ERROR
    return None


def kind_for_http_status(status: int) -> ErrorKind | None:
    """The kind of an HTTP answer: auth_failed (401/403/407), http_server_error (5xx),
    http_client_error (other 4xx), None below 400."""
    if status in (401, 403, 407):
        return K.AUTH_FAILED
    if status >= 500:
        return K.HTTP_SERVER_ERROR
    if status >= 400:
        return K.HTTP_CLIENT_ERROR
    return None


def _from_asyncpg(exc: BaseException) -> ErrorKind | None:
    asyncpg = _loaded("asyncpg")
    if asyncpg is None:
        return None
    ex = asyncpg.exceptions
    if isinstance(exc, ex.InvalidPasswordError | ex.InvalidAuthorizationSpecificationError):
        return K.AUTH_FAILED
    if isinstance(exc, ex.CannotConnectNowError | ex.TooManyConnectionsError):
        return K.CONNECTION_REFUSED
    if isinstance(exc, ex.ConnectionDoesNotExistError | ex.PostgresConnectionError):
        return K.CONNECTION_RESET
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.ProtocolError):
        return K.PROTOCOL_ERROR
    return None
