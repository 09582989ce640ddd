"""DNS probe: the OS resolver (what fails with ``[Errno 11001] getaddrinfo failed``) and,
side by side, dnspython asking each configured nameserver and the system's own directly.

A target's ``resolver`` says which answers decide ``ok``:

- ``both`` (default): the OS path, which is what applications see. When it fails while a
  direct resolver answers (local resolver, VPN split DNS, hosts file), or answers while a
  nameserver the user listed fails, the result is ``degraded``;
- ``os``: only the OS resolver is asked;
- ``direct``: only the nameservers asked directly, every one of them (monitoring a
  nameserver itself); some failing is ``degraded``.

``details["summary"]`` says who said what whenever any resolver failed.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import time
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ErrorKind, NetmonError, classify
from .base import PhaseTimer, ProbeResult, TargetProbe, describe
from .os_resolver import getaddrinfo

if TYPE_CHECKING:  # dnspython is imported by the first direct query (it pulls in httpx)
    import dns.resolver

    from .dns_client import DnsClient

__all__ = [
    "DnsProbe",
    "ResolutionError",
    "ResolverAnswer",
    "is_ip_literal",
    "parse_nameserver",
    "resolve_direct",
    "resolve_os",
    "resolver_summary",
]

OS_RESOLVER = "os"

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ResolverAnswer:
    """What one resolver said about one name."""

    resolver: str
    ok: bool
    addresses: tuple[str, ...] = ()
    latency_ms: float = 0.0
    error_kind: ErrorKind | None = None
    error: str | None = None
    rcode: str | None = None
    ttl: int | None = None
    cnames: tuple[str, ...] = ()
    errno: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "resolver": self.resolver, "ok": self.ok, "addresses": list(self.addresses),
            "latency_ms": round(self.latency_ms, 3),
            "error_kind": str(self.error_kind) if self.error_kind else None,
            "error": self.error, "rcode": self.rcode, "ttl": self.ttl,
            "cnames": list(self.cnames), "errno": self.errno,
        }


class ResolutionError(NetmonError):
    """The OS resolver failed before any connection was tried (carries its answer)."""

    def __init__(self, answer: ResolverAnswer) -> None:
        super().__init__(answer.error or "name resolution failed")
        self.kind = answer.error_kind or ErrorKind.DNS_FAILURE
        self.answer = answer


@functools.lru_cache(maxsize=1024)
def is_ip_literal(host: str) -> bool:
    """True for ``10.0.0.1`` or ``::1`` (nothing to resolve). Cached: every DNS and HTTP
    probe asks, and for a name ``ipaddress`` raises and catches two exceptions."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def parse_nameserver(text: str) -> tuple[str, int]:
    """``"1.1.1.1"`` -> ("1.1.1.1", 53); ``"127.0.0.1:5353"``; ``"[::1]:53"``; ``"::1"``."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, 53


async def resolve_os(host: str, port: int | None = None, *, timeout: float) -> ResolverAnswer:
    """Resolve through the OS (``getaddrinfo``), as every application does."""
    started = time.perf_counter()
    try:
        infos = await getaddrinfo(host, port, type=socket.SOCK_STREAM, timeout=timeout)
    except Exception as exc:
        errno = exc.errno if isinstance(exc, OSError) and isinstance(exc.errno, int) else None
        return ResolverAnswer(
            OS_RESOLVER, False, latency_ms=_ms(started), error_kind=classify(exc),
            error=describe(exc), errno=errno,
        )
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    return ResolverAnswer(OS_RESOLVER, True, addresses, _ms(started))


async def resolve_direct(
    host: str, nameserver: str, *, timeout: float, record_types: tuple[str, ...] = ("A", "AAAA"),
    label: str | None = None, client: DnsClient | None = None,
) -> ResolverAnswer:
    """Ask one nameserver directly for ``record_types`` of ``host`` (in parallel), through
    ``client`` (its long-lived sockets), else through one opened for this call."""
    import dns.rcode
    import dns.rdatatype
    if client is None:
        from .dns_client import DnsClient
        own = DnsClient()
        try:
            return await resolve_direct(host, nameserver, timeout=timeout,
                                        record_types=record_types, label=label, client=own)
        finally:
            own.close()
    ip, port = parse_nameserver(nameserver)
    name = label or nameserver
    started = time.perf_counter()
    outcomes = await _concurrently(
        [_outcome(_query(host, rtype, ip, port, timeout, client)) for rtype in record_types])
    latency = _ms(started)
    addresses: list[str] = []
    cnames: list[str] = []
    ttls: list[int] = []
    rcode: str | None = None
    errors: list[BaseException] = []
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            errors.append(outcome)
            continue
        rcode = dns.rcode.to_text(outcome.response.rcode())
        for rrset in outcome.response.answer:
            if rrset.rdtype == dns.rdatatype.CNAME:
                cnames.extend(str(r.target).rstrip(".") for r in rrset)
        if outcome.rrset is not None:
            addresses.extend(str(r) for r in outcome.rrset)
            ttls.append(outcome.rrset.ttl)
    if addresses:
        return ResolverAnswer(name, True, tuple(addresses), latency, rcode=rcode or "NOERROR",
                              ttl=min(ttls), cnames=tuple(dict.fromkeys(cnames)))
    if errors:
        exc = _most_telling(errors)
        return ResolverAnswer(name, False, latency_ms=latency, error_kind=classify(exc),
                              error=describe(exc), rcode=_rcode_of(exc),
                              cnames=tuple(dict.fromkeys(cnames)))
    return ResolverAnswer(name, False, latency_ms=latency, error_kind=ErrorKind.DNS_NO_DATA,
                          error=f"{host} has no {'/'.join(record_types)} records",
                          rcode=rcode or "NOERROR", cnames=tuple(dict.fromkeys(cnames)))


async def _outcome(query: Coroutine[Any, Any, dns.resolver.Answer],
                   ) -> dns.resolver.Answer | Exception:
    """The answer of ``query``, or the exception it raised."""
    try:
        return await query
    except Exception as failed:
        return failed


async def _concurrently(coros: list[Coroutine[Any, Any, _T]]) -> list[_T]:
    """The results of ``coros``, run concurrently, in order: what ``asyncio.gather`` does,
    with the last one run on the calling task (a DNS probe asks two or three resolvers
    every second: a task and gather's own future and callbacks less per probe, ~30 us).
    An exception (or a cancellation) cancels those still running and propagates."""
    tasks = [asyncio.ensure_future(coro) for coro in coros[:-1]]
    try:
        last = [await coros[-1]] if coros else []
        return [*[await task for task in tasks], *last]
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # retrieved: raised here, or not needed any more


async def _query(host: str, rtype: str, ip: str, port: int, timeout: float,
                 client: DnsClient) -> dns.resolver.Answer:
    """One query on the running loop's UDP; in a worker thread where the loop has none.

    Some Windows event loops (IOCP/proactor-based ones, e.g. a Qt loop) cannot open
    datagram endpoints (NotImplementedError): dnspython's blocking resolver then asks.
    """
    import dns.resolver
    try:
        return await client.query(host, rtype, ip, port, timeout)
    except NotImplementedError:
        pass
    threaded = dns.resolver.Resolver(configure=False)
    threaded.nameservers = [ip]
    threaded.port = port
    threaded.lifetime = timeout
    threaded.timeout = timeout
    threaded.retry_servfail = False
    return await asyncio.to_thread(threaded.resolve, host, rtype, raise_on_no_answer=False,
                                   search=False)


def _most_telling(errors: list[BaseException]) -> BaseException:
    """NXDOMAIN says more than a timeout on the other record type."""
    import dns.resolver
    for exc in errors:
        if isinstance(exc, dns.resolver.NXDOMAIN):
            return exc
    return errors[0]


def _rcode_of(exc: BaseException) -> str | None:
    import dns.resolver
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return "NXDOMAIN"
    if isinstance(exc, dns.resolver.NoNameservers):
        for entry in exc.kwargs.get("errors") or []:
            if len(entry) >= 4 and isinstance(entry[3], str):
                return entry[3]
    return None


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class DnsProbe(TargetProbe):
    """Probe a name through the OS resolver and directly against nameservers."""

    async def nameservers(self) -> list[tuple[str, str]]:
        """(label, address) of every direct resolver to ask, configured ones first."""
        chosen = [(ns, ns) for ns in self.target.nameservers]
        if self.target.system_nameservers:
            known = {parse_nameserver(ns)[0] for ns in self.target.nameservers}
            system = await self.context.system_nameservers()
            chosen += [(f"system:{ns}", ns) for ns in system if ns not in known]
        return chosen

    async def run(self) -> ProbeResult:
        target = self.target
        timeout = self.timeout
        mode = target.resolver
        asks_os = mode != "direct"
        # reading this machine's nameservers is setup (cached, in a thread), not timed
        direct = [] if is_ip_literal(target.host) or mode == "os" else await self.nameservers()
        checked_at = self.context.clock.now()
        timer = PhaseTimer()
        record_types = tuple(target.record_types)
        answers = await _concurrently([
            *([resolve_os(target.host, timeout=timeout)] if asks_os else []),
            *(resolve_direct(target.host, address, timeout=timeout, record_types=record_types,
                             label=label, client=self.context.dns)
              for label, address in direct),
        ])
        details: dict[str, Any] = {
            "host": target.host,
            "resolver_mode": mode,
            "addresses": list(next((a.addresses for a in answers if a.ok), ())),
            "resolvers": [a.as_dict() for a in answers],
        }
        if not all(a.ok for a in answers):
            details["summary"] = resolver_summary(details["resolvers"])
        os_answer = answers[0] if asks_os else None
        direct_answers = answers[1:] if asks_os else answers
        if os_answer is not None:
            phases = {"dns": os_answer.latency_ms}
            deciding = [os_answer]
            # Nameservers the user listed are watched too: a failing one is partial function.
            watched = [a for a in direct_answers if not a.resolver.startswith("system:")]
        else:
            phases = {"dns": max((a.latency_ms for a in answers), default=0.0)}
            deciding, watched = answers, []
        failing = [a for a in deciding if not a.ok]
        unexpected = _unexpected_addresses(target.expect_addresses, deciding)
        if not failing and unexpected:
            return ProbeResult(target.name, target.kind, False, timer.total_ms(), checked_at,
                               phases=phases, error_kind=ErrorKind.PROTOCOL_ERROR,
                               error=unexpected, details=details)
        if not failing:
            broken = next((a for a in watched if not a.ok), None)
            latency = max(a.latency_ms for a in deciding) if deciding else timer.total_ms()
            if broken is None:
                return ProbeResult(target.name, target.kind, True, latency, checked_at,
                                   phases=phases, details=details)
            return ProbeResult(target.name, target.kind, True, latency, checked_at,
                               phases=phases, error_kind=broken.error_kind,
                               error=f"{broken.resolver}: {broken.error}", degraded=True,
                               details=details)
        first = failing[0]
        partial = len(failing) < len(deciding) or (
            os_answer is not None and any(a.ok for a in direct_answers))
        return ProbeResult(
            target.name, target.kind, False, timer.total_ms(), checked_at, phases=phases,
            error_kind=first.error_kind, error=first.error if os_answer is not None
            else f"{first.resolver}: {first.error}", degraded=partial, details=details,
        )


def _unexpected_addresses(expected: list[str], answers: list[ResolverAnswer]) -> str | None:
    """Why the answers miss every expected address (a captive portal or a DNS hijack
    answers with its own), or None when there is nothing to expect or one was found."""
    if not expected:
        return None
    wanted = {str(ipaddress.ip_address(a)) for a in expected}
    for answer in answers:
        got = {str(ipaddress.ip_address(a)) for a in answer.addresses}
        if not got & wanted:
            who = "OS" if answer.resolver == OS_RESOLVER else answer.resolver
            return (f"{who} resolves it to {', '.join(sorted(got)) or 'nothing'}, not "
                    f"{' or '.join(sorted(wanted))} (a captive portal or DNS hijack?)")
    return None


_SAID: dict[str, str] = {  # short words per error kind, keyed by its string value
    ErrorKind.DNS_NOT_FOUND: "not found", ErrorKind.DNS_TEMPORARY: "temporary failure",
    ErrorKind.DNS_NO_DATA: "no address", ErrorKind.DNS_FAILURE: "failure",
    ErrorKind.DNS_TIMEOUT: "timeout", ErrorKind.TIMEOUT: "timeout",
}


def resolver_summary(answers: Iterable[Mapping[str, Any]]) -> str:
    """Who said what, in one line, from answers in their ``as_dict`` form:
    ``OS: not found; 10.8.0.1: SERVFAIL; 1.1.1.1: 10.8.4.21``."""
    parts = []
    for a in answers:
        who = "OS" if a.get("resolver") == OS_RESOLVER else str(a.get("resolver"))
        addresses = [str(x) for x in a.get("addresses") or ()]
        rcode = a.get("rcode")
        if a.get("ok"):
            said = ", ".join(addresses[:2]) + (" ..." if len(addresses) > 2 else "")
        elif rcode and rcode != "NOERROR":
            said = str(rcode)
        else:
            kind = str(a.get("error_kind") or ErrorKind.UNKNOWN)
            said = _SAID.get(kind, kind)
        parts.append(f"{who}: {said}")
    return "; ".join(parts)
