"""Layered diagnosis of one ``host[:port]``: hosts file, OS resolver, direct resolvers, TCP.

Each layer is probed for real and reported as a finding (network failures never raise);
``verdict`` then names the layer that fails, the likely causes and concrete next steps
(Windows-aware: ``ipconfig /flushdns``, ``nslookup``, ``Test-NetConnection``...)::

    d = await diagnose("db.internal:5432", nameservers=["10.0.0.53"])
    print(d.render_text())
    sys.exit(exit_code(d))        # 0 reachable, 1 degraded, 2 unreachable

Independent steps run concurrently and each is bounded by ``timeout``: the hosts file,
OS resolver, direct resolvers and proxy check first, then TCP connects to every address
found, so a diagnosis takes at most about twice the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ntpath
import os
import re
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from .clock import Clock, SystemClock
from .errors import ErrorKind, classify
from .log import redact
from .probes.base import describe, iso_utc, system_nameservers
from .probes.dns import (
    ResolverAnswer,
    is_ip_literal,
    parse_nameserver,
    resolve_direct,
    resolve_os,
)
from .probes.tcp import connect_once
from .render import text_lines

__all__ = [
    "Diagnosis",
    "HostsFileCheck",
    "ProxyInfo",
    "TcpAttempt",
    "Verdict",
    "check_hosts_file",
    "diagnose",
    "exit_code",
    "hosts_entries",
    "hosts_file_path",
    "parse_target",
    "proxy_info",
    "tcp_connect",
    "verdict",
]

K = ErrorKind
_T = TypeVar("_T")

#: Target status, as in ARCHITECTURE.md: ``up`` (exit 0), ``degraded`` (1), ``down`` (2).
UP, DEGRADED, DOWN = "up", "degraded", "down"

_DEFAULT_PORTS = {
    "http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21, "ssh": 22, "smtp": 25,
    "postgres": 5432, "postgresql": 5432, "mysql": 3306, "redis": 6379, "rediss": 6379,
    "mongodb": 27017, "amqp": 5672, "amqps": 5671, "ldap": 389, "ldaps": 636,
}
_SCHEME_FOR_PORT = {80: "http", 443: "https"}
_MAX_TCP_ADDRESSES = 8
_DNS_TIMEOUTS = frozenset({K.DNS_TIMEOUT, K.TIMEOUT})
_UNREACHABLE = frozenset({K.NETWORK_UNREACHABLE, K.HOST_UNREACHABLE})
#: getaddrinfo codes worth naming (Linux/glibc negatives and Windows WSA; not macOS's
#: small positives, which collide with ordinary errno numbers).
_GAI_NAMES = {
    -2: "EAI_NONAME", -3: "EAI_AGAIN", -4: "EAI_FAIL", -5: "EAI_NODATA", -9: "EAI_ADDRFAMILY",
    11001: "WSAHOST_NOT_FOUND", 11002: "WSATRY_AGAIN", 11003: "WSANO_RECOVERY",
    11004: "WSANO_DATA",
}


# --------------------------------------------------------------------------- findings
@dataclass(frozen=True, slots=True)
class HostsFileCheck:
    """Hosts file entries for the name; ``note`` says why the file could not be used."""

    path: str = ""
    entries: tuple[str, ...] = ()
    note: str | None = None
    checked: bool = True

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"path": self.path, "entries": list(self.entries), "note": self.note,
                "checked": self.checked}


@dataclass(frozen=True, slots=True)
class TcpAttempt:
    """One TCP connect to one address."""

    address: str
    port: int
    ok: bool
    latency_ms: float
    error_kind: ErrorKind | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"address": self.address, "port": self.port, "ok": self.ok,
                "latency_ms": round(self.latency_ms, 3),
                "error_kind": str(self.error_kind) if self.error_kind else None,
                "error": self.error}


@dataclass(frozen=True, slots=True)
class ProxyInfo:
    """Proxy settings that apply to this machine, with credentials redacted.

    ``proxies`` maps scheme to (redacted) proxy URL; ``applies`` is the proxy HTTP(S)
    traffic to the target would use (None when bypassed, none set, or raw TCP).
    """

    proxies: tuple[tuple[str, str], ...] = ()
    no_proxy: str | None = None
    bypass: bool = False
    applies: str | None = None
    scheme: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"proxies": dict(self.proxies), "no_proxy": self.no_proxy,
                "bypass": self.bypass, "applies": self.applies, "scheme": self.scheme,
                "note": self.note}


@dataclass(frozen=True, slots=True)
class Verdict:
    """Which layer fails and why; ``status`` is ``up``, ``degraded`` or ``down``."""

    layer: str
    kind: ErrorKind | None
    status: str
    summary: str
    causes: tuple[str, ...] = ()
    next_steps: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"layer": self.layer, "kind": str(self.kind) if self.kind else None,
                "status": self.status, "summary": self.summary, "causes": list(self.causes),
                "next_steps": list(self.next_steps), "notes": list(self.notes)}


@dataclass(frozen=True)
class Diagnosis:
    """Everything found about one target, and the verdict drawn from it."""

    target: str
    host: str
    port: int | None
    os_answer: ResolverAnswer
    verdict: Verdict
    hosts: HostsFileCheck = field(default_factory=HostsFileCheck)
    direct: tuple[ResolverAnswer, ...] = ()
    tcp: tuple[TcpAttempt, ...] = ()
    tcp_source: str | None = None
    proxy: ProxyInfo = field(default_factory=ProxyInfo)
    timeout_s: float = 3.0
    elapsed_ms: float = 0.0
    checked_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (ErrorKinds as strings)."""
        return {
            "target": self.target, "host": self.host, "port": self.port,
            "status": self.verdict.status, "exit_code": exit_code(self),
            "hosts_file": self.hosts.as_dict(), "os_resolver": self.os_answer.as_dict(),
            "direct_resolvers": [a.as_dict() for a in self.direct],
            "tcp": [t.as_dict() for t in self.tcp], "tcp_source": self.tcp_source,
            "proxy": self.proxy.as_dict(), "verdict": self.verdict.as_dict(),
            "timeout_s": self.timeout_s, "elapsed_ms": round(self.elapsed_ms, 3),
            "checked_at": iso_utc(self.checked_at) if self.checked_at else None,
        }

    def render_text(self) -> str:
        """A readable, ASCII-only multi-line report for a terminal."""
        return _render(self)


def exit_code(diagnosis: Diagnosis) -> int:
    """Monitoring-plugin exit code: 0 reachable, 1 degraded, 2 unreachable."""
    return {UP: 0, DEGRADED: 1}.get(diagnosis.verdict.status, 2)


# --------------------------------------------------------------------------- target
def parse_target(target: str) -> tuple[str, int | None]:
    """``"db.internal:5432"`` -> ("db.internal", 5432); also ``[::1]:443``, ``::1``, URLs.

    Raises ValueError for an empty host or a port outside 1..65535.
    """
    host, port, _ = _parse(target)
    return host, port


def _parse(target: str) -> tuple[str, int | None, str | None]:
    text = target.strip()
    scheme: str | None = None
    port: int | None
    if "://" in text:
        parts = urllib.parse.urlsplit(text)
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        port = parts.port or _DEFAULT_PORTS.get(scheme)  # .port raises ValueError if bad
    elif text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad target {target!r}: expected [IPv6]:PORT")
        port = _port(rest[1:], target) if rest else None
    elif text.count(":") > 1:  # bare IPv6, no port
        host, port = text, None
    elif ":" in text:
        host, _, port_text = text.partition(":")
        port = _port(port_text, target)
    else:
        host, port = text, None
    if not host or any(ch.isspace() for ch in host):
        raise ValueError(f"bad target {target!r}: no host")
    return host, port, scheme


def _port(text: str, target: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad port in {target!r}: expected 1..65535")
    return int(text)


# --------------------------------------------------------------------------- hosts file
def hosts_file_path(*, platform: str | None = None, environ: Mapping[str, str] | None = None,
                    ) -> str:
    """``%SystemRoot%\\System32\\drivers\\etc\\hosts`` on Windows, ``/etc/hosts`` elsewhere."""
    if (platform or sys.platform) != "win32":
        return "/etc/hosts"
    env = os.environ if environ is None else environ
    root = env.get("SystemRoot") or env.get("SYSTEMROOT") or env.get("windir") or r"C:\Windows"
    return ntpath.join(root, "System32", "drivers", "etc", "hosts")


def check_hosts_file(name: str, path: str | os.PathLike[str] | None = None) -> HostsFileCheck:
    """Addresses the hosts file gives ``name`` (any alias, case-insensitive); never raises."""
    where = os.fspath(path) if path is not None else hosts_file_path()
    try:
        with open(where, encoding="utf-8-sig", errors="replace") as fh:
            text = fh.read()
    except FileNotFoundError:
        return HostsFileCheck(where, note="file not found")
    except OSError as exc:
        return HostsFileCheck(where, note=f"unreadable: {describe(exc)}")
    wanted = _norm(name)
    found: dict[str, None] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            address = str(ipaddress.ip_address(fields[0]))
        except ValueError:
            continue  # a bad line: ignored, as the OS does
        if any(_norm(alias) == wanted for alias in fields[1:]):
            found[address] = None
    return HostsFileCheck(where, tuple(found))


def hosts_entries(name: str, path: str | os.PathLike[str] | None = None) -> list[str]:
    """Addresses the hosts file gives ``name``; [] when none or the file is unusable."""
    return list(check_hosts_file(name, path).entries)


def _norm(name: str) -> str:
    return name.rstrip(".").casefold()


# --------------------------------------------------------------------------- proxy
def proxy_info(host: str, port: int | None = None, scheme: str | None = None) -> ProxyInfo:
    """Proxy settings (environment, else the system's) as they apply to ``host``."""
    try:
        env = urllib.request.getproxies_environment()
        proxies = env or urllib.request.getproxies()
        hostport = f"{host}:{port}" if port else host
        if env:
            bypass = bool(urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
                hostport, env))
        elif proxies:
            bypass = bool(urllib.request.proxy_bypass(host))
        else:
            bypass = False
    except Exception as exc:  # registry or SystemConfiguration oddities
        return ProxyInfo(note=f"could not read proxy settings: {describe(exc)}")
    no_proxy = proxies.get("no")
    shown = tuple(sorted((k, _redact_url(v)) for k, v in proxies.items() if k != "no"))
    scheme = scheme or (_SCHEME_FOR_PORT.get(port) if port else None)
    applies = None
    note = None
    if shown and not bypass:
        url = proxies.get(scheme) if scheme in ("http", "https") else None
        url = url or proxies.get("all")
        applies = _redact_url(url) if url else None
        if scheme not in ("http", "https") and applies is None:
            note = "HTTP(S) proxies do not carry raw TCP: applications connect directly"
    return ProxyInfo(shown, no_proxy, bypass, applies, scheme, note)


def _redact_url(url: str) -> str:
    """``http://user:pass@proxy:8080`` -> ``http://user:***@proxy:8080`` (also without scheme)."""
    text = url if "://" in url else f"//{url}"
    with contextlib.suppress(ValueError):
        parts = urllib.parse.urlsplit(text)
        if parts.password is not None:
            netloc = f"{parts.username}:***@{parts.netloc.rpartition('@')[2]}"
            text = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return redact(text if "://" in url else text.removeprefix("//"))


# --------------------------------------------------------------------------- probes
async def tcp_connect(address: str, port: int, *, timeout: float) -> TcpAttempt:
    """Open and close one TCP connection; the outcome is a finding, never an exception."""
    started = time.perf_counter()
    try:
        latency = await connect_once(address, port, timeout)
    except TimeoutError:
        return TcpAttempt(address, port, False, _ms(started), K.TIMEOUT,
                          f"no answer within {timeout:g} s")
    except Exception as exc:
        return TcpAttempt(address, port, False, _ms(started), classify(exc), describe(exc))
    return TcpAttempt(address, port, True, latency)


async def diagnose(
    target: str, *, nameservers: Iterable[str] = (), include_system: bool = True,
    timeout: float = 3.0, hosts_path: str | os.PathLike[str] | None = None,
    platform: str | None = None, clock: Clock | None = None,
) -> Diagnosis:
    """Diagnose ``target`` (``host[:port]`` or a URL) layer by layer.

    ``nameservers`` are ``IP[:PORT]`` to ask directly, plus the system's own when
    ``include_system``. Raises ValueError only for bad input (target or nameserver).
    """
    host, port, scheme = _parse(target)
    wanted = list(nameservers)
    for ns in wanted:
        _check_nameserver(ns)
    checked_at = (clock or SystemClock()).now()
    started = time.perf_counter()
    literal = is_ip_literal(host)
    lookup = host.strip("[]")

    async def hosts_task() -> HostsFileCheck:
        if literal:
            return HostsFileCheck(os.fspath(hosts_path or hosts_file_path(platform=platform)),
                                  note="IP address: nothing to look up", checked=False)
        return await _bounded(asyncio.to_thread(check_hosts_file, lookup, hosts_path), timeout,
                              HostsFileCheck(os.fspath(hosts_path or ""), note="timed out"))

    async def direct_task() -> tuple[ResolverAnswer, ...]:
        if literal:
            return ()
        chosen = [(ns, ns) for ns in wanted]
        if include_system:
            system = await _bounded(asyncio.to_thread(system_nameservers), timeout, [])
            known = {parse_nameserver(ns)[0] for ns in wanted}
            chosen += [(f"system:{ns}", ns) for ns in system if ns not in known]
        return tuple(await asyncio.gather(
            *(_direct(lookup, address, label, timeout) for label, address in chosen)))

    no_proxy = ProxyInfo(note="timed out reading proxy settings")
    hosts, os_answer, direct, proxy = await asyncio.gather(
        hosts_task(), _os(lookup, port, timeout), direct_task(),
        _bounded(asyncio.to_thread(proxy_info, lookup, port, scheme), timeout, no_proxy),
    )
    addresses, source = _addresses_to_try(os_answer, direct)
    tcp: tuple[TcpAttempt, ...] = ()
    if port is not None and addresses:
        tcp = tuple(await asyncio.gather(
            *(tcp_connect(a, port, timeout=timeout) for a in addresses[:_MAX_TCP_ADDRESSES])))
    judged = verdict(lookup, port, os_answer=os_answer, direct=direct, tcp=tcp, hosts=hosts,
                     proxy=proxy, platform=platform, literal=literal)
    return Diagnosis(
        target=target, host=lookup, port=port, os_answer=os_answer, verdict=judged,
        hosts=hosts, direct=direct, tcp=tcp, tcp_source=source if tcp else None, proxy=proxy,
        timeout_s=timeout, elapsed_ms=_ms(started), checked_at=checked_at,
    )


def _check_nameserver(text: str) -> None:
    try:
        ip, port = parse_nameserver(text)
        ipaddress.ip_address(ip)
    except ValueError:
        raise ValueError(f"bad nameserver {text!r}: expected IP[:PORT]") from None
    if not 0 < port < 65536:
        raise ValueError(f"bad nameserver {text!r}: port outside 1..65535")


async def _bounded(coro: Awaitable[_T], timeout: float, default: _T) -> _T:
    """``await coro`` within ``timeout``; ``default`` on timeout or any error."""
    try:
        async with asyncio.timeout(timeout):
            result: _T = await coro
            return result
    except Exception:
        return default


async def _os(host: str, port: int | None, timeout: float) -> ResolverAnswer:
    try:
        return await resolve_os(host, port, timeout=timeout)
    except Exception as exc:  # resolve_os reports failures itself; this is a safety net
        return ResolverAnswer("os", False, error_kind=classify(exc), error=describe(exc))


async def _direct(host: str, nameserver: str, label: str, timeout: float) -> ResolverAnswer:
    try:
        async with asyncio.timeout(timeout + 1.0):  # dnspython's lifetime bounds it first
            return await resolve_direct(host, nameserver, timeout=timeout, label=label)
    except Exception as exc:
        kind = K.DNS_TIMEOUT if isinstance(exc, TimeoutError) else classify(exc)
        return ResolverAnswer(label, False, error_kind=kind, error=describe(exc))


def _addresses_to_try(
    os_answer: ResolverAnswer, direct: Sequence[ResolverAnswer],
) -> tuple[list[str], str | None]:
    if os_answer.ok:
        return list(os_answer.addresses), "os"
    answered = [a for a in direct if a.ok]
    found = list(dict.fromkeys(addr for a in answered for addr in a.addresses))
    return found, ", ".join(a.resolver for a in answered) or None


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


# --------------------------------------------------------------------------- verdict
@dataclass(frozen=True, slots=True)
class _Commands:
    """What to type on this platform."""

    windows: bool
    flush: str
    dns_config: str
    os_lookup: str
    tcp: str
    route: str
    proxy: str


def _commands(platform: str | None) -> _Commands:
    plat = platform or sys.platform
    if plat == "win32":
        return _Commands(
            True, "ipconfig /flushdns",
            "ipconfig /all  (and Get-DnsClientNrptPolicy for VPN split-DNS rules)",
            "Resolve-DnsName {name}", "Test-NetConnection {host} -Port {port}",
            "tracert -d {host}  (and route print)", "netsh winhttp show proxy",
        )
    if plat == "darwin":
        return _Commands(
            False, "sudo dscacheutil -flushcache; sudo killall -HUP mDNSResponder",
            "scutil --dns", "dscacheutil -q host -a name {name}", "nc -vz {host} {port}",
            "route -n get {host}  (and traceroute -n {host})", "env | grep -i _proxy",
        )
    return _Commands(
        False, "resolvectl flush-caches  (systemd-resolved; nscd: nscd -i hosts)",
        "resolvectl status  (or cat /etc/resolv.conf)", "getent ahosts {name}",
        "nc -vz {host} {port}", "ip route get {host}  (and traceroute -n {host})",
        "env | grep -i _proxy",
    )


def _nslookup(name: str, resolver: str | None = None) -> str:
    if resolver is None:
        return f"nslookup {name}"
    ip, port = parse_nameserver(resolver.removeprefix("system:"))
    return f"nslookup -port={port} {name} {ip}" if port != 53 else f"nslookup {name} {ip}"


def verdict(
    host: str, port: int | None = None, *, os_answer: ResolverAnswer,
    direct: Sequence[ResolverAnswer] = (), tcp: Sequence[TcpAttempt] = (),
    hosts: HostsFileCheck | None = None, proxy: ProxyInfo | None = None,
    platform: str | None = None, literal: bool | None = None,
) -> Verdict:
    """Name the failing layer, the likely causes and next steps from the findings.

    Pure: tests feed it constructed answers (a Windows ``errno 11001`` on Linux, say).
    ``platform`` (``sys.platform`` by default) picks the commands suggested.
    """
    return _Judge(host, port, os_answer, tuple(direct), tuple(tcp), hosts or HostsFileCheck(),
                  proxy or ProxyInfo(), _commands(platform),
                  is_ip_literal(host) if literal is None else literal).run()


class _Judge:
    def __init__(
        self, host: str, port: int | None, os_answer: ResolverAnswer,
        direct: tuple[ResolverAnswer, ...], tcp: tuple[TcpAttempt, ...], hosts: HostsFileCheck,
        proxy: ProxyInfo, cmd: _Commands, literal: bool,
    ) -> None:
        self.host, self.port, self.os, self.direct, self.tcp = host, port, os_answer, direct, tcp
        self.hosts, self.proxy, self.cmd, self.literal = hosts, proxy, cmd, literal
        self.notes: list[str] = []
        self.hosts_path = hosts.path or "the hosts file"

    # -- helpers
    def _v(self, layer: str, kind: ErrorKind | None, status: str, summary: str,
           causes: Iterable[str] = (), steps: Iterable[str] = ()) -> Verdict:
        return Verdict(layer, kind, status, summary, tuple(causes),
                       tuple(dict.fromkeys(steps)), tuple(dict.fromkeys(self.notes)))

    def _fmt(self, template: str) -> str:
        return template.format(name=self.host, host=self.host, port=self.port or "PORT")

    def _dns_server_ip(self) -> str:
        for a in self.direct:
            return parse_nameserver(a.resolver.removeprefix("system:"))[0]
        return "<DNS server IP>"

    def _dns_steps(self) -> list[str]:
        steps = [_nslookup(self.host)]
        steps += [_nslookup(self.host, a.resolver) for a in self.direct]
        steps += [f"Check {self.hosts_path} for a line naming {self.host}",
                  f"Show this machine's DNS servers: {self.cmd.dns_config}",
                  f"Flush the DNS cache: {self.cmd.flush}"]
        return steps

    # -- the rules
    def run(self) -> Verdict:
        self._observe()
        if not self.os.ok:
            return self._os_failed()
        if self.port is None or not self.tcp:
            summary = ("reachable: IP address given" if self.literal
                       else f"reachable: {self.host} resolves to {', '.join(self.os.addresses)}")
            if self.port is None:
                summary += " (no port given: TCP not tested)"
            return self._v("none", None, UP, summary)
        return self._tcp_layer(dns_ok=True)

    def _observe(self) -> None:
        """Notes that hold whatever the verdict: overrides, disagreements, sinkholes."""
        entries = set(self.hosts.entries)
        os_addrs = set(self.os.addresses)
        dns_addrs = {addr for a in self.direct if a.ok for addr in a.addresses}
        if entries:
            self.notes.append(f"{self.hosts_path} maps {self.host} to {', '.join(sorted(entries))}")
            if self.os.ok and dns_addrs and os_addrs != dns_addrs:
                self.notes.append(
                    f"hosts file overrides DNS: the OS answers {', '.join(sorted(os_addrs))}, "
                    f"DNS says {', '.join(sorted(dns_addrs))}")
            elif self.direct and all(a.error_kind is K.DNS_NOT_FOUND for a in self.direct):
                self.notes.append(f"{self.host} exists only in the hosts file, not in DNS")
        elif self.os.ok and dns_addrs and not os_addrs & dns_addrs:
            self.notes.append("the OS resolver and the DNS servers asked disagree "
                              "(VPN split DNS, a local DNS override or load balancing)")
        if os_addrs & {"0.0.0.0", "::"}:
            self.notes.append("the OS answers a sinkhole address (0.0.0.0): blocked by the hosts "
                              "file, a DNS filter or security software")
        if (self.os.ok and "." not in self.host and not self.literal and self.direct
                and all(a.error_kind is K.DNS_NOT_FOUND for a in self.direct)):
            self.notes.append("a single-label name resolved by the OS only (DNS suffix search, "
                              "hosts file, NetBIOS/LLMNR or mDNS)")
        if self.hosts.note and self.hosts.checked:
            self.notes.append(f"hosts file {self.hosts_path}: {self.hosts.note}")
        if self.proxy.applies:
            self.notes.append(f"HTTP(S) traffic to {self.host} goes through the proxy "
                              f"{self.proxy.applies}")
        elif self.proxy.proxies and self.proxy.bypass:
            self.notes.append(f"{self.host} bypasses the proxy (NO_PROXY)")

    def _os_failed(self) -> Verdict:
        kind = self.os.error_kind or K.UNKNOWN
        answered = [a for a in self.direct if a.ok]
        direct_kinds = [a.error_kind for a in self.direct if not a.ok]
        os_error = _os_error_text(self.os)
        if answered:
            return self._os_only_fails(kind, answered, os_error)
        if self.direct and all(k is K.DNS_NOT_FOUND for k in direct_kinds) \
                and kind is K.DNS_NOT_FOUND:
            servers = ", ".join(a.resolver for a in self.direct)
            return self._v(
                "dns", K.DNS_NOT_FOUND, DOWN,
                f"the name does not exist: the OS ({os_error}) and every DNS server asked "
                f"({servers}) say NXDOMAIN",
                ["a typo in the name", "the record was deleted or never created",
                 "the name exists only in an internal zone that these servers do not serve "
                 "(connect the VPN, use the internal DNS server)",
                 "a single-label name that needs a DNS suffix: try the full name"
                 if "." not in self.host else "the wrong domain suffix"],
                [f"Check the spelling of {self.host}", *self._dns_steps(),
                 "Ask the DNS owner whether the record exists (and in which view)"])
        if kind in (K.DNS_TEMPORARY, *_DNS_TIMEOUTS) and all(
                k in _DNS_TIMEOUTS for k in direct_kinds):
            asked = (f"; {', '.join(a.resolver for a in self.direct)} did not answer in time"
                     if self.direct else "")
            return self._v(
                "dns", K.DNS_TIMEOUT, DOWN,
                f"no DNS server reachable: network or VPN down (OS: {os_error}{asked})",
                ["no network connection (cable, Wi-Fi, captive portal)",
                 "the VPN is down or its DNS servers are not reachable",
                 "a firewall blocks DNS (UDP/TCP port 53)", "the DNS servers themselves are down"],
                ["Check the network link and the VPN connection",
                 f"Show this machine's DNS servers: {self.cmd.dns_config}",
                 *[_nslookup(self.host, a.resolver) for a in self.direct],
                 self.cmd.route.format(host=self._dns_server_ip())])
        if self.direct and all(k in _DNS_TIMEOUTS for k in direct_kinds):
            servers = ", ".join(a.resolver for a in self.direct)
            return self._v(
                "dns", K.DNS_TIMEOUT, DOWN,
                f"no DNS server reachable: {servers} did not answer in time and the OS "
                f"resolver fails ({os_error})",
                ["the network or the VPN is down, so the DNS servers cannot be reached",
                 "a firewall blocks DNS (port 53) to those servers",
                 "the OS answer may come from a cache or another server (VPN split DNS)"],
                ["Check the network link and the VPN connection", *self._dns_steps()])
        return self._dns_generic(kind, os_error)

    def _os_only_fails(self, kind: ErrorKind, answered: list[ResolverAnswer],
                       os_error: str) -> Verdict:
        servers = ", ".join(a.resolver for a in answered)
        summary = (f"the OS resolver fails ({os_error}) but {servers} answers: local resolver, "
                   "VPN split DNS or hosts file")
        causes = ["the OS asks other DNS servers than these (VPN split DNS: the VPN's servers "
                  "only answer for its domains, or the VPN is not connected)",
                  "a stale negative entry in the local DNS cache",
                  f"a broken or blocking line in {self.hosts_path}",
                  "the OS resolver is misconfigured (DNS server order, suffix, NRPT rules)"]
        steps = [f"Flush the DNS cache: {self.cmd.flush}", self._fmt(self.cmd.os_lookup),
                 *self._dns_steps(), "Check the VPN's split-DNS settings for this domain"]
        failing = [t for t in self.tcp if not t.ok]
        if self.tcp and len(failing) == len(self.tcp):
            tcp_kind = failing[0].error_kind
            summary += f"; TCP to those addresses fails too ({tcp_kind})"
            return self._v("dns", kind, DOWN, summary, causes, steps)
        if self.tcp:
            summary += f"; TCP to port {self.port} works by address"
        return self._v("dns", kind, DEGRADED, summary, causes, steps)

    def _dns_generic(self, kind: ErrorKind, os_error: str) -> Verdict:
        title = {K.DNS_NOT_FOUND: "cannot find the name", K.DNS_NO_DATA: "finds no address",
                 K.DNS_TEMPORARY: "cannot get an answer now", K.DNS_FAILURE: "gets a DNS error",
                 }.get(kind, "fails")
        causes = {
            K.DNS_NOT_FOUND: ["a typo in the name", "the name is internal: connect the VPN "
                              "(split DNS) or use the internal DNS server",
                              f"a missing line in {self.hosts_path}"],
            K.DNS_NO_DATA: ["the name exists but has no A/AAAA record (IPv4/IPv6 mismatch, "
                            "only a CNAME/MX/TXT)"],
            K.DNS_FAILURE: ["the DNS server failed (SERVFAIL, broken zone or DNSSEC)"],
        }.get(kind, ["the DNS server is unreachable or failing", "network or VPN down"])
        if not self.direct:
            causes = [*causes, "no direct resolver was asked: add --nameserver IP to compare"]
        return self._v("dns", kind, DOWN, f"the OS resolver {title}: {os_error}", causes,
                       [f"Check the spelling of {self.host}", *self._dns_steps()])

    def _tcp_layer(self, *, dns_ok: bool) -> Verdict:
        port = self.port
        ok = [t for t in self.tcp if t.ok]
        bad = [t for t in self.tcp if not t.ok]
        if not bad:
            best = min(t.latency_ms for t in ok)
            return self._v("none", None, UP,
                           f"reachable: TCP port {port} open on {len(ok)} of {len(self.tcp)} "
                           f"address(es) ({best:.1f} ms)")
        tcp_step = self._fmt(self.cmd.tcp)
        if ok:
            failed = ", ".join(f"{t.address} ({t.error_kind})" for t in bad)
            return self._v(
                "tcp", bad[0].error_kind, DEGRADED,
                f"degraded: port {port} answers on {', '.join(t.address for t in ok)} but not on "
                f"{failed}",
                ["one address family is broken (IPv6 not routed, service bound to IPv4 only)",
                 "a node behind the name is down or firewalled"],
                [tcp_step, f"Remove or fix the failing address in DNS or {self.hosts_path}"])
        kinds = [t.error_kind for t in bad]
        kind = max(set(kinds), key=kinds.count) or K.UNKNOWN
        hosts_pinned = bool(self.hosts.entries) and set(self.os.addresses) <= set(
            self.hosts.entries)
        dns_addrs = {addr for a in self.direct if a.ok for addr in a.addresses}
        proxy_cause = ([f"direct TCP may be blocked: HTTP(S) here goes through the proxy "
                        f"{self.proxy.applies}"] if self.proxy.applies else [])
        if hosts_pinned and dns_addrs and dns_addrs != set(self.os.addresses):
            return self._v(
                "hosts", kind, DOWN,
                f"{self.hosts_path} pins {self.host} to {', '.join(self.os.addresses)}, which does "
                f"not answer on port {port} ({kind}); DNS says {', '.join(sorted(dns_addrs))}",
                ["a stale hosts file entry (the server moved)"],
                [f"Remove or fix the {self.host} line in {self.hosts_path}",
                 f"Flush the DNS cache: {self.cmd.flush}", tcp_step])
        dns_timeouts = bool(self.direct) and all(
            a.error_kind in _DNS_TIMEOUTS for a in self.direct)
        if kind is K.TIMEOUT and len(set(kinds)) == 1 and dns_timeouts:
            return self._v(
                "network", K.TIMEOUT, DOWN,
                "no network path: the DNS servers and the target all time out",
                ["no network connection or the VPN is down", "a firewall drops everything"],
                ["Check the network link and the VPN connection", self._fmt(self.cmd.route),
                 tcp_step])
        if kind is K.CONNECTION_REFUSED:
            return self._v(
                "tcp", kind, DOWN,
                f"connection refused on port {port}: service down or firewall",
                ["the service is not running or listens on another port or interface "
                 "(e.g. 127.0.0.1 only)", "a firewall rejects the connection", *proxy_cause],
                [tcp_step, "Check that the service runs and which address/port it listens on",
                 "Check the firewall on the server (and Windows Defender Firewall)"])
        if kind in _UNREACHABLE:
            return self._v(
                "tcp", kind, DOWN,
                f"no route to {self.host} ({kind}): routing or VPN",
                ["the VPN is down or does not route this network",
                 "a missing route or gateway; an ACL rejecting with ICMP unreachable",
                 *proxy_cause],
                ["Check the VPN connection and its routes", self._fmt(self.cmd.route), tcp_step])
        if kind is K.TIMEOUT:
            return self._v(
                "tcp", kind, DOWN,
                f"TCP to port {port} times out: a firewall is dropping packets",
                ["a firewall (local, network or the server's) silently drops the connection",
                 "the host is down or the address is wrong", *proxy_cause],
                [tcp_step, self._fmt(self.cmd.route),
                 "Ask the network team whether the port is allowed from this network"])
        return self._v(
            "tcp", kind, DOWN, f"TCP to port {port} fails ({kind})",
            ["a firewall, proxy or middlebox interferes", "the service drops new connections",
             *proxy_cause],
            [tcp_step, f"Check the proxy settings: {self.cmd.proxy}"])


# --------------------------------------------------------------------------- rendering
_HEAD = 18


def _os_error_text(answer: ResolverAnswer) -> str:
    """``[Errno 11001] getaddrinfo failed (WSAHOST_NOT_FOUND)`` from an OS answer."""
    text = answer.error or str(answer.error_kind or "failed")
    text = re.sub(r"^\w+: (?=\[Errno )", "", text)
    if text == "TimeoutError":
        text = "no answer in time"
    if answer.errno is not None:
        if f"[Errno {answer.errno}]" not in text:
            text = f"[Errno {answer.errno}] {text}"
        name = _GAI_NAMES.get(answer.errno)
        if name and name not in text:
            text = f"{text} ({name})"
    return text


def _short(text: str | None, limit: int = 70) -> str:
    text = re.sub(r"^\w+: (?=\[Errno )", "", " ".join((text or "").split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _mark(ok: bool | None, *, warn: bool = False) -> str:
    return f"{'WARN' if warn else '--' if ok is None else 'ok' if ok else 'FAIL':<5}"


def _render(d: Diagnosis) -> str:
    out: list[str] = []
    add = out.append
    port = f":{d.port}" if d.port else ""
    add(f"netmon diagnose {d.host}{port}   (timeout {d.timeout_s:g} s, took "
        f"{d.elapsed_ms:.0f} ms)")
    add("")
    h = d.hosts
    add(f"{'HOSTS FILE':<{_HEAD}}{h.path}")
    if not h.checked:
        add(f"  {_mark(None)} {h.note or 'not checked'}")
    elif h.note:
        add(f"  {_mark(None)} {h.note}")
    elif h.entries:
        add(f"  {_mark(True)} {d.host} -> {', '.join(h.entries)}")
    else:
        add(f"  {_mark(None)} no entry for {d.host}")
    o = d.os_answer
    add(f"{'OS RESOLVER':<{_HEAD}}getaddrinfo")
    if o.ok:
        add(f"  {_mark(True)} {', '.join(o.addresses)}  ({o.latency_ms:.1f} ms)")
    else:
        add(f"  {_mark(False)} {o.error_kind} {_os_error_text(o)}  ({o.latency_ms:.1f} ms)")
    add("DIRECT RESOLVERS")
    if not d.direct:
        add(f"  {_mark(None)} none asked" + ("" if not is_ip_literal(d.host)
                                              else " (IP address)"))
    width = max((len(a.resolver) for a in d.direct), default=0)
    for a in d.direct:
        if a.ok:
            ttl = f", ttl {a.ttl}" if a.ttl is not None else ""
            detail = f"{', '.join(a.addresses)}  ({a.latency_ms:.1f} ms{ttl})"
        else:
            why = a.rcode if a.rcode and a.rcode != "NOERROR" else _short(a.error, 60)
            detail = f"{a.error_kind} {why}  ({a.latency_ms:.1f} ms)"
        add(f"  {_mark(a.ok)} {a.resolver:<{width}}  {detail}")
    add(f"{'TCP':<{_HEAD}}" + (f"port {d.port}" if d.port else "no port given")
        + (f" (addresses from {d.tcp_source})" if d.tcp_source else ""))
    if not d.tcp:
        add(f"  {_mark(None)} " + ("not tested: no address to connect to" if d.port
                                     else "give host:port to test"))
    width = max((len(t.address) for t in d.tcp), default=0)
    for t in d.tcp:
        detail = (f"{t.latency_ms:.1f} ms" if t.ok
                  else f"{t.error_kind} {_short(t.error, 60)}  ({t.latency_ms:.1f} ms)")
        add(f"  {_mark(t.ok)} {t.address:<{width}}  {detail}")
    p = d.proxy
    add("PROXY")
    if p.note and not p.proxies:
        add(f"  {_mark(None)} {p.note}")
    elif not p.proxies:
        add(f"  {_mark(None)} no proxy configured")
    for scheme, url in p.proxies:
        add(f"  {_mark(None)} {scheme + '_proxy':<12} {url}")
    if p.no_proxy is not None:
        add(f"  {_mark(None)} {'no_proxy':<12} {p.no_proxy}")
    if p.proxies:
        used = ("bypassed (NO_PROXY)" if p.bypass
                else f"via {p.applies}" if p.applies else (p.note or "direct"))
        add(f"  {_mark(None)} {d.host}: {used}")
    v = d.verdict
    label = {UP: "OK", DEGRADED: "WARNING"}.get(v.status, "CRITICAL")
    add(f"{'VERDICT':<{_HEAD}}{label} (exit {exit_code(d)})  layer={v.layer}  "
        f"kind={v.kind or '-'}")
    add(f"  {_mark(v.status == UP, warn=v.status == DEGRADED)} {v.summary}")
    for note in v.notes:
        add(f"  note: {note}")
    if v.causes:
        add("  Likely causes:")
        out.extend(f"    - {c}" for c in v.causes)
    if v.next_steps:
        add("  Next steps:")
        out.extend(f"    {i}. {s}" for i, s in enumerate(v.next_steps, 1))
    return text_lines(out) + "\n"
