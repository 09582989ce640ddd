"""The verdict: which layer fails, the likely causes and the next steps, from the findings.

Pure: tests feed it constructed answers (a Windows ``errno 11001`` on Linux, say).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import ErrorKind
from ..probes.dns import ResolverAnswer, is_ip_literal, parse_nameserver
from .findings import DEGRADED, DOWN, UP, HostsFileCheck, ProxyInfo, TcpAttempt, Verdict

__all__ = ["os_error_text", "verdict"]

K = ErrorKind
_DNS_TIMEOUTS = frozenset({K.DNS_TIMEOUT, K.TIMEOUT})
_UNREACHABLE = frozenset({K.NETWORK_UNREACHABLE, K.HOST_UNREACHABLE})
#: getaddrinfo codes worth naming (Linux/glibc negatives and Windows WSA; not macOS's
#: small positives, which collide with ordinary errno numbers).
_GAI_NAMES = {
    -2: "EAI_NONAME", -3: "EAI_AGAIN", -4: "EAI_FAIL", -5: "EAI_NODATA", -9: "EAI_ADDRFAMILY",
    11001: "WSAHOST_NOT_FOUND", 11002: "WSATRY_AGAIN", 11003: "WSANO_RECOVERY",
    11004: "WSANO_DATA",
}


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
        os_error = os_error_text(self.os)
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


def os_error_text(answer: ResolverAnswer) -> str:
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
