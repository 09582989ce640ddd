"""Findings that explain failures: each a ``Condition`` with a severity and a suggestion.

Pure: ``conditions(env, checks, clock)`` reads an ``Environment`` and, when they were
checked, the reachability of gateways and DNS servers (``ReachCheck``) and the clock against
a time source (``ClockCheck``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..probes.icmp import Reach
from .model import Environment
from .sntp import ClockCheck

__all__ = ["Condition", "ReachCheck", "conditions"]

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost",
                          "ip6-loopback", "localhost6", "localhost6.localdomain6"})
_SINKHOLES = frozenset({"0.0.0.0", "::"})
#: Clock offsets (seconds) that make a warning and a critical condition.
CLOCK_WARNING_S = 60.0
CLOCK_CRITICAL_S = 300.0


@dataclass(frozen=True, slots=True)
class ReachCheck:
    """The reachability of one address in one role: ``gateway``, ``dns_server`` or
    ``nrpt_server`` (``about`` names the adapter or NRPT namespace)."""

    role: str
    about: str
    reach: Reach

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"role": self.role, "about": self.about, **self.reach.as_dict()}


@dataclass(frozen=True, slots=True)
class Condition:
    """A finding: ``severity`` is ``info``, ``warning`` or ``critical``."""

    id: str
    severity: str
    title: str
    detail: str
    suggestion: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"id": self.id, "severity": self.severity, "title": self.title,
                "detail": self.detail, "suggestion": self.suggestion}


def conditions(env: Environment, checks: Sequence[ReachCheck] = (),
               clock: ClockCheck | None = None) -> tuple[Condition, ...]:
    """Every condition the environment (and the checks, if any) shows, worst first."""
    win = env.platform == "win32"
    found = [*_routes(env, win), *_dns(env, win), *_reach(checks, win), *_proxies(env),
             *_hosts(env), *_ipv6(env, win), *_clock(clock, win)]
    order = {"critical": 0, "warning": 1, "info": 2}
    return tuple(sorted(found, key=lambda c: order[c.severity]))


def _routes(env: Environment, win: bool) -> list[Condition]:
    out = []
    route = env.default_route
    if route is None:
        out.append(Condition(
            "no_default_route", "critical", "No default route",
            "this machine has no default gateway: only directly attached networks are "
            "reachable", "Check the cable or Wi-Fi and the VPN connection"
            + ("; ipconfig /all shows each adapter's gateway" if win
               else "; ip route shows the routes")))
        return out
    adapter = env.adapter(route.interface)
    if adapter is not None and adapter.up is False:
        out.append(Condition(
            "default_route_down", "critical", "The default route's adapter is down",
            f"the default route goes via {route.interface}, which is down",
            f"Reconnect {route.interface} or remove its stale route"))
    v4 = [r for r in env.default_routes if r.family == "ipv4"]
    interfaces = sorted({r.interface for r in v4})
    if len(interfaces) > 1:
        listed = ", ".join(f"{r.interface} via {r.gateway or 'on-link'} (metric {r.metric})"
                           for r in v4)
        out.append(Condition(
            "competing_default_routes", "warning", "Several default routes",
            f"{listed}; traffic takes {route.interface}, the lowest metric. A VPN or a "
            "second adapter competes: an adapter with a lower metric but no working path "
            "takes all traffic",
            "Disconnect the adapter that should not carry traffic, or fix the metrics"
            + (" (Set-NetIPInterface -InterfaceMetric)" if win else " (ip route metric)")))
    return out


def _dns(env: Environment, win: bool) -> list[Condition]:
    out = []
    if not env.dns_servers and not env.nrpt_rules:
        out.append(Condition(
            "no_dns_servers", "critical", "No DNS server configured",
            "no adapter or resolver configuration names a DNS server: names cannot be "
            "resolved (except through the hosts file)",
            "Renew the DHCP lease (ipconfig /renew) or set a DNS server on the adapter"
            if win else "Set a nameserver in /etc/resolv.conf (or via NetworkManager / "
                        "systemd-resolved)"))
    for rule in env.nrpt_rules:
        spaces = ", ".join(rule.namespaces) or "(no namespace)"
        out.append(Condition(
            "nrpt_rule", "info", "Split-DNS rule (NRPT)",
            f"names under {spaces} are sent to {', '.join(rule.servers) or 'the default servers'}"
            f" ({rule.source} rule {rule.name}); they fail when those servers are unreachable, "
            "for example with the VPN down",
            "Get-DnsClientNrptPolicy lists the active rules; connect the VPN that installed "
            "them or remove a stale rule"))
    return out


def _reach(checks: Sequence[ReachCheck], win: bool) -> list[Condition]:
    out = []
    for check in checks:
        r = check.reach
        if r.ok:
            continue
        how = f"{r.method}: {r.error or r.error_kind}" + (f"; {r.note}" if r.note else "")
        if check.role == "gateway":
            out.append(Condition(
                "gateway_unreachable", "critical", "The default gateway does not answer",
                f"the gateway {r.address} on {check.about} does not answer ({how}): the "
                "local network or the router is down",
                "Check the cable/Wi-Fi and the router; "
                + ("ipconfig /renew" if win else "ip neigh show") + " to see the link layer"))
        elif check.role == "nrpt_server":
            out.append(Condition(
                "nrpt_server_unreachable", "critical", "A split-DNS server does not answer",
                f"the NRPT rule sends {check.about} to {r.address}, which does not answer "
                f"({how})",
                "Connect the VPN that installed the rule; if it is gone, remove the stale rule"))
        else:
            out.append(Condition(
                "dns_server_unreachable", "critical", "A DNS server does not answer",
                f"the DNS server {r.address} ({check.about}) does not answer ({how})",
                "Check the network and VPN; if the server is gone, fix the adapter's DNS "
                "settings" + (" (ipconfig /all)" if win else " (/etc/resolv.conf)")))
    return out


def _proxies(env: Environment) -> list[Condition]:
    out = []
    sources = {p.source: p for p in env.proxies}
    active = {name: p for name, p in sources.items()}
    for scheme in ("https", "http"):
        used = {name: p.for_scheme(scheme) for name, p in active.items()
                if not (p.auto_config_url or p.auto_detect) or p.for_scheme(scheme)}
        if len(set(used.values())) > 1:
            listed = "; ".join(f"{name}: {url or 'direct'}" for name, url in sorted(used.items()))
            out.append(Condition(
                "proxy_mismatch", "warning", "Proxy settings disagree",
                f"{scheme} traffic: {listed}. Applications that use another setting than the "
                "browser fail where the browser works (services use WinHTTP, browsers "
                "WinINET, scripts and CLIs the environment)",
                "Make them agree: netsh winhttp import proxy source=ie (as administrator), "
                "or set HTTPS_PROXY/NO_PROXY for command-line tools"))
            break
    for p in env.proxies:
        if p.auto_config_url or p.auto_detect:
            what = (f"the PAC file {p.auto_config_url}" if p.auto_config_url
                    else "WPAD auto-detection")
            out.append(Condition(
                "proxy_autoconfig", "info", "Proxy chosen by a PAC file or WPAD",
                f"{p.source} uses {what}: the proxy depends on the script's answer; services "
                "(WinHTTP) and command-line tools do not run it",
                "Open the PAC URL to see which proxy applies to the failing host"))
    return out


def _hosts(env: Environment) -> list[Condition]:
    custom = [e for e in env.hosts_entries
              if not set(n.lower() for n in e.names) <= _LOCAL_NAMES
              and not ipaddress.ip_address(e.address).is_loopback]
    sinks = [e for e in env.hosts_entries if e.address in _SINKHOLES]
    out = []
    if sinks:
        names = sorted({n for e in sinks for n in e.names})
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        out.append(Condition(
            "hosts_sinkhole", "warning", "Names blocked by the hosts file",
            f"{env.hosts_path} sends {shown} to {sinks[0].address}: they cannot be reached",
            f"Remove those lines from {env.hosts_path} if the names should work"))
    other = [e for e in custom if e.address not in _SINKHOLES]
    if other:
        shown = ", ".join(f"{e.names[0]} -> {e.address}" for e in other[:5])
        out.append(Condition(
            "hosts_overrides", "info", "The hosts file overrides DNS",
            f"{len(other)} line(s) in {env.hosts_path} pin names to addresses ({shown}"
            f"{', ...' if len(other) > 5 else ''}); a stale line sends a name to an old server",
            f"Check that each line in {env.hosts_path} is still wanted"))
    return out


def _ipv6(env: Environment, win: bool) -> list[Condition]:
    has_global = any(ipaddress.ip_interface(x).ip.is_global for a in env.adapters
                     if a.up is not False for x in a.addresses if ":" in x)
    v6_route = any(r.family == "ipv6" for r in env.default_routes)
    if env.preference == "ipv6" and has_global and not v6_route:
        return [Condition(
            "ipv6_without_route", "warning", "IPv6 preferred but not routed",
            "a global IPv6 address is configured and preferred, but there is no IPv6 default "
            "route: connections to dual-stack names try IPv6 first and wait for it to fail",
            "Fix IPv6 on the network, or prefer IPv4"
            + (" (Tcpip6 DisabledComponents=0x20)" if win
               else " (precedence ::ffff:0:0/96 100 in /etc/gai.conf)"))]
    return []


def _clock(clock: ClockCheck | None, win: bool) -> list[Condition]:
    if clock is None or clock.server is None:
        return []
    fix = ("w32tm /resync (as administrator; w32tm /query /status shows the source)" if win
           else "timedatectl status shows whether NTP syncs; timedatectl set-ntp true "
                "starts it (or chronyc makestep with chrony)")
    if clock.offset_s is None:
        return [Condition(
            "time_source_silent", "info", "The time source does not answer",
            f"{clock.server} did not give the time ({clock.error}): the clock is not "
            "checked, and the OS cannot correct it from this source",
            "Check that the time server is reachable (UDP port 123 through the firewall/VPN); "
            + fix)]
    skew = abs(clock.offset_s)
    if skew <= CLOCK_WARNING_S:
        return []
    way = "behind" if clock.offset_s > 0 else "ahead of"
    return [Condition(
        "clock_skew", "critical" if skew > CLOCK_CRITICAL_S else "warning",
        "The system clock is wrong",
        f"this machine's clock is {_duration(skew)} {way} {clock.server}: TLS certificates "
        "look \"not yet valid\" or expired, JWTs are rejected by their nbf/exp claims "
        "(or accepted after they expired), Kerberos refuses tickets beyond 5 minutes of skew",
        f"Set the clock from a time source: {fix}. Until then HTTPS (TLS), JWT-authenticated "
        "APIs and Kerberos sign-in fail")]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
