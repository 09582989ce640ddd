"""DNS probe: the OS resolver (what fails with ``[Errno 11001] getaddrinfo failed``) and,
side by side, dnspython asking each configured nameserver and the system's own directly.

The OS path is what applications see, so it decides ``ok``; when it fails while a direct
resolver answers, the result is ``degraded`` (local resolver, VPN split DNS, hosts file).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.rcode
import dns.rdatatype
import dns.resolver

from ..errors import ErrorKind, NetmonError, classify
from .base import PhaseTimer, ProbeResult, TargetProbe, describe

__all__ = [
    "DnsProbe",
    "ResolutionError",
    "ResolverAnswer",
    "is_ip_literal",
    "parse_nameserver",
    "resolve_direct",
    "resolve_os",
]

OS_RESOLVER = "os"


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


def is_ip_literal(host: str) -> bool:
    """True for ``10.0.0.1`` or ``::1`` (nothing to resolve)."""
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
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
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
    label: str | None = None,
) -> ResolverAnswer:
    """Ask one nameserver directly for ``record_types`` of ``host`` (in parallel)."""
    ip, port = parse_nameserver(nameserver)
    name = label or nameserver
    started = time.perf_counter()
    outcomes: list[dns.resolver.Answer | BaseException] = list(await asyncio.gather(
        *(_query(host, rtype, ip, port, timeout) for rtype in record_types),
        return_exceptions=True,
    ))
    latency = _ms(started)
    addresses: list[str] = []
    cnames: list[str] = []
    ttls: list[int] = []
    rcode: str | None = None
    errors: list[BaseException] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome
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


def _configure(resolver: dns.resolver.BaseResolver, ip: str, port: int,
               timeout: float) -> None:
    resolver.nameservers = [ip]
    resolver.port = port
    resolver.lifetime = timeout
    resolver.timeout = timeout
    resolver.retry_servfail = False


async def _query(host: str, rtype: str, ip: str, port: int,
                 timeout: float) -> dns.resolver.Answer:
    """One query on the running loop; in a worker thread where the loop has no UDP.

    Some Windows event loops (IOCP/proactor-based ones, e.g. a Qt loop) cannot open
    datagram endpoints; dnspython then reports NotImplementedError for the nameserver.
    """
    resolver = dns.asyncresolver.Resolver(configure=False)
    _configure(resolver, ip, port, timeout)
    try:
        return await resolver.resolve(host, rtype, raise_on_no_answer=False, search=False)
    except NotImplementedError:
        pass
    except dns.resolver.NoNameservers as exc:
        if not any(len(e) >= 4 and isinstance(e[3], NotImplementedError)
                   for e in exc.kwargs.get("errors") or []):
            raise
    threaded = dns.resolver.Resolver(configure=False)
    _configure(threaded, ip, port, timeout)
    return await asyncio.to_thread(threaded.resolve, host, rtype, raise_on_no_answer=False,
                                   search=False)


def _most_telling(errors: list[BaseException]) -> BaseException:
    """NXDOMAIN says more than a timeout on the other record type."""
    for exc in errors:
        if isinstance(exc, dns.resolver.NXDOMAIN):
            return exc
    return errors[0]


def _rcode_of(exc: BaseException) -> str | None:
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
        checked_at = self.context.clock.now()
        timer = PhaseTimer()
        record_types = tuple(target.record_types)
        direct = [] if is_ip_literal(target.host) else await self.nameservers()
        answers = await asyncio.gather(
            resolve_os(target.host, timeout=timeout),
            *(resolve_direct(target.host, address, timeout=timeout, record_types=record_types,
                             label=label) for label, address in direct),
        )
        os_answer, direct_answers = answers[0], list(answers[1:])
        details: dict[str, Any] = {
            "host": target.host,
            "addresses": list(os_answer.addresses),
            "resolvers": [a.as_dict() for a in answers],
        }
        phases = {"dns": os_answer.latency_ms}
        if os_answer.ok:
            return ProbeResult(target.name, target.kind, True, os_answer.latency_ms, checked_at,
                               phases=phases, details=details)
        degraded = any(a.ok for a in direct_answers)
        return ProbeResult(
            target.name, target.kind, False, timer.total_ms(), checked_at, phases=phases,
            error_kind=os_answer.error_kind, error=os_answer.error, degraded=degraded,
            details=details,
        )
