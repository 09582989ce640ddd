"""What every probe returns, and what probes share (clock, HTTP client, timeout)."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from ..clock import Clock, SystemClock
from ..config import Target
from ..errors import ErrorKind, NetmonError, classify
from ..log import redact

if TYPE_CHECKING:  # imported where used: a config of TCP targets needs neither
    import httpx

    from .dns_client import DnsClient

__all__ = [
    "PhaseTimer",
    "Probe",
    "ProbeContext",
    "ProbeResult",
    "TargetProbe",
    "describe",
    "environment_proxy",
    "failure",
    "iso_utc",
    "system_nameservers",
]


#: The text of recent whole UTC seconds, without the "Z" (results of one second share
#: it): an aware datetime's ``isoformat`` costs about twice a look-up here and the
#: microseconds' digits.
_SECONDS: dict[tuple[int, int, int, int, int, int], str] = {}


def iso_utc(when: datetime) -> str:
    """``2026-01-01T12:00:00.123456Z`` for an aware UTC datetime (any other datetime:
    its ``isoformat``, an offset of zero written as "Z")."""
    if when.tzinfo is not UTC:
        return when.isoformat().replace("+00:00", "Z")
    key = (when.year, when.month, when.day, when.hour, when.minute, when.second)
    text = _SECONDS.get(key)
    if text is None:
        if len(_SECONDS) >= 64:
            _SECONDS.clear()
        text = _SECONDS[key] = when.replace(microsecond=0).isoformat()[:-6]
    micro = when.microsecond
    return f"{text}.{micro:06d}Z" if micro else f"{text}Z"


_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe of one target.

    ``ok`` says whether the dependency works; ``degraded`` marks partial function (some of
    the resolvers of a DNS target answer and others fail), with ``error_kind``/``error``
    saying what failed even when ``ok``. ``phases`` are milliseconds per step
    (``dns``, ``connect``, ``tls``, ``ttfb``, ``query``...); ``details`` is kind-specific.
    """

    target: str
    kind: str
    ok: bool
    latency_ms: float | None
    checked_at: datetime
    phases: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    error_kind: ErrorKind | None = None
    error: str | None = None
    degraded: bool = False
    details: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the per-result shape of CLI JSON lines and exports)."""
        return {
            "target": self.target,
            "kind": self.kind,
            "ok": self.ok,
            "degraded": self.degraded,
            "latency_ms": _round(self.latency_ms),
            "phases": {k: _round(v) for k, v in self.phases.items()},
            "error_kind": str(self.error_kind) if self.error_kind else None,
            "error": self.error,
            "checked_at": iso_utc(self.checked_at),
            "details": dict(self.details),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class PhaseTimer:
    """Measures named phases in milliseconds on the performance counter."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.phases: dict[str, float] = {}
        self._mark = self.started

    def lap(self, name: str) -> float:
        """Record the time since the previous lap as phase ``name``; returns it (ms)."""
        now = time.perf_counter()
        ms = (now - self._mark) * 1000
        self.phases[name] = ms
        self._mark = now
        return ms

    def restart_lap(self) -> None:
        """Start the next phase now (time since the last lap is not counted)."""
        self._mark = time.perf_counter()

    def total_ms(self) -> float:
        """Milliseconds since the timer started."""
        return (time.perf_counter() - self.started) * 1000


def describe(exc: BaseException) -> str:
    """A one-line, redacted description of an error for people (with its number if any)."""
    if isinstance(exc, NetmonError):
        return redact(str(exc))
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.errno is not None and f"{exc.errno}" not in text:
        text = f"[Errno {exc.errno}] {text}"
    cause = exc.__cause__ or exc.__context__
    if cause is not None and not str(exc):
        return f"{type(exc).__name__}: {describe(cause)}"
    return redact(f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text)


def failure(
    target: Target, exc: BaseException, checked_at: datetime, timer: PhaseTimer,
    **details: Any,
) -> ProbeResult:
    """A failed ``ProbeResult`` for ``exc``, with the phases measured so far."""
    return ProbeResult(
        target=target.name, kind=target.kind, ok=False, latency_ms=timer.total_ms(),
        checked_at=checked_at, phases=dict(timer.phases), error_kind=classify(exc),
        error=describe(exc), details=details,
    )


def environment_proxy(url: str) -> str | None:
    """The proxy URL the environment selects for ``url`` (credentials masked), or None."""
    import urllib.request
    parts = urlsplit(url)
    host = parts.hostname or ""
    if urllib.request.proxy_bypass(host):
        return None
    proxies = {k.lower(): v for k, v in urllib.request.getproxies().items()}
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    return redact(proxy) if proxy else None


def system_nameservers() -> list[str]:
    """The nameservers this machine is configured with (resolv.conf, Windows registry).

    Reads files or the registry: call it off the event loop."""
    import dns.resolver

    try:
        return [str(ns) for ns in dns.resolver.Resolver(configure=True).nameservers]
    except Exception:  # no resolv.conf, unreadable registry: nothing to compare with
        return []


#: How long the system nameservers are trusted: a VPN that changes them shows within this.
NAMESERVERS_TTL_S = 60.0


@dataclass
class ProbeContext:
    """Shared by all probes of one monitor: the clock, HTTP clients, default timeout."""

    clock: Clock = field(default_factory=SystemClock)
    default_timeout_s: float = 10.0
    _clients: dict[tuple[bool, str | None, str | None], httpx.AsyncClient] = field(
        default_factory=dict)
    _tls: dict[str | None, ssl.SSLContext] = field(default_factory=dict)
    _tls_loading: dict[str | None, asyncio.Future[ssl.SSLContext]] = field(
        default_factory=dict)
    _proxies: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _nameservers: tuple[float, list[str]] | None = None
    _dns: DnsClient | None = None

    @property
    def dns(self) -> DnsClient:
        """Direct DNS queries, one long-lived socket per nameserver (made on first use: it
        imports dnspython)."""
        if self._dns is None:
            from .dns_client import DnsClient
            self._dns = DnsClient()
        return self._dns

    async def system_nameservers(self) -> list[str]:
        """This machine's nameservers, read in a worker thread and kept for a minute
        (every DNS probe asks; reading the registry or resolv.conf each time, on the
        loop, was repeated blocking I/O)."""
        now = self.clock.monotonic()
        if self._nameservers is None or now - self._nameservers[0] >= NAMESERVERS_TTL_S:
            self._nameservers = (now, await asyncio.to_thread(system_nameservers))
        return self._nameservers[1]

    def proxy_for(self, url: str) -> str | None:
        """The environment proxy for ``url`` (masked), looked up once per scheme and host.

        Clients read the proxy environment when they are created, so caching it for the
        context's lifetime matches what they do (and saves ~100 us per probe).
        """
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            self._proxies[key] = environment_proxy(url)
        return self._proxies[key]

    async def http_client(self, *, verify: bool = True, ca_file: str | None = None,
                          owner: str | None = None) -> httpx.AsyncClient:
        """The keep-alive client for this TLS setting (built on first use), one per
        ``owner`` when given (the HTTP probe passes its target's name).

        Requests go through :class:`~core.probes.http_transport.ProbeTransport` (h11 over
        asyncio streams: about half the CPU of httpx's default transport per keep-alive
        GET), which keeps at most 1 idle connection per origin for a target's own client
        and 8 for the shared one. A target's own client keeps its one connection alive
        from probe to probe: no churn, and no scan of a large shared pool. Proxies from
        the environment go through httpx's own proxy transports (see ``_proxy_mounts``).

        Verification uses the operating system's trust store (``ssl.create_default_context``),
        not certifi, so a corporate CA installed in Windows is trusted as browsers trust it;
        ``ca_file`` adds a private CA. Loading the trust store takes ~100 ms of blocking
        work, so it runs in a worker thread once per ``ca_file`` (clients share the
        context), and callers get the client before they start timing anything. Its
        cookies are ``ProbeCookies``: an answer that sets none costs no cookie-jar work.
        """
        key = (verify, ca_file, owner)
        client = self._clients.get(key)
        if client is None:
            import httpx

            from .http_transport import ProbeCookies, ProbeTransport

            tls = (await self._trust_store(ca_file) if verify
                   else httpx.create_ssl_context(verify=False))  # what httpx does for False
            client = self._clients.get(key)  # another probe may have built it meanwhile
            if client is None:
                limits = (httpx.Limits(max_connections=4, max_keepalive_connections=1)
                          if owner is not None else
                          httpx.Limits(max_connections=200, max_keepalive_connections=8))
                transport = ProbeTransport(tls, max_idle=limits.max_keepalive_connections or 1)
                client = httpx.AsyncClient(transport=transport, mounts=_proxy_mounts(tls, limits),
                                           trust_env=True, headers={"User-Agent": "netmon-probe"})
                # the setter would wrap them in plain Cookies again
                client._cookies = ProbeCookies(client.cookies.jar)
                self._clients[key] = client
        return client

    async def _trust_store(self, ca_file: str | None) -> ssl.SSLContext:
        """The TLS context for ``ca_file``, loaded once in a worker thread and shared: the
        first probes of many targets start together and wait for the same load (each
        loading its own was ~100 ms of CPU per target)."""
        context = self._tls.get(ca_file)
        if context is not None:
            return context
        loading = self._tls_loading.get(ca_file)
        if loading is None:
            loading = self._tls_loading[ca_file] = asyncio.ensure_future(
                asyncio.to_thread(ssl.create_default_context, cafile=ca_file))
            loading.add_done_callback(lambda _: self._tls_loading.pop(ca_file, None))
        context = await asyncio.shield(loading)  # a failed load is tried again next time
        return self._tls.setdefault(ca_file, context)

    async def aclose(self) -> None:
        """Close the clients and DNS sockets this context opened."""
        if self._dns is not None:
            self._dns.close()
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


def _proxy_mounts(tls: ssl.SSLContext, limits: httpx.Limits,
                  ) -> dict[str, httpx.AsyncBaseTransport | None]:
    """httpx's own proxy transports for the proxies the environment names (None: no proxy
    for that pattern, from NO_PROXY), as ``AsyncClient(trust_env=True)`` mounts them itself
    only when no ``transport=`` is given."""
    import httpx
    from httpx._utils import get_environment_proxies  # what httpx reads for trust_env

    return {pattern: None if proxy is None else httpx.AsyncHTTPTransport(
                verify=tls, trust_env=True, limits=limits, proxy=proxy)
            for pattern, proxy in get_environment_proxies().items()}


class TargetProbe:
    """What the built-in probes share: their target, the context and the timeout."""

    def __init__(self, target: Target, context: ProbeContext) -> None:
        self.target = target
        self.context = context

    @property
    def timeout(self) -> float:
        """The target's timeout, else the context default (seconds)."""
        return self.target.timeout_s or self.context.default_timeout_s


class Probe(Protocol):
    """A probe of one target."""

    target: Target

    async def run(self) -> ProbeResult:
        """Probe once; never raises for a failure of the target (it returns ok=False)."""
        ...
