"""The machine's network environment as one dataclass, whatever OS read it.

``Environment.as_dict()`` is the ``environment`` object of ``netmon env --json``; the
schema is documented in the README ("netmon env").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..probes.base import iso_utc

__all__ = [
    "Adapter", "Environment", "HostsEntry", "NrptRule", "ProxySetting", "Route",
]


@dataclass(frozen=True, slots=True)
class Adapter:
    """One network interface: addresses as CIDR, gateways, DNS servers, metric."""

    name: str
    index: int | None = None
    up: bool | None = None
    addresses: tuple[str, ...] = ()
    gateways: tuple[str, ...] = ()
    dns_servers: tuple[str, ...] = ()
    dns_suffix: str = ""
    metric: int | None = None
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"name": self.name, "index": self.index, "up": self.up,
                "addresses": list(self.addresses), "gateways": list(self.gateways),
                "dns_servers": list(self.dns_servers), "dns_suffix": self.dns_suffix,
                "metric": self.metric, "description": self.description}


@dataclass(frozen=True, slots=True)
class Route:
    """A default route: family ``ipv4``/``ipv6``, gateway (None: on-link), interface, metric."""

    family: str
    gateway: str | None
    interface: str
    metric: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"family": self.family, "gateway": self.gateway, "interface": self.interface,
                "metric": self.metric}


@dataclass(frozen=True, slots=True)
class NrptRule:
    """A Windows Name Resolution Policy Table rule: names under ``namespaces`` go to
    ``servers`` (VPN clients install these for split DNS). ``source`` is ``policy``
    (Group Policy) or ``local``."""

    name: str
    namespaces: tuple[str, ...]
    servers: tuple[str, ...]
    source: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"name": self.name, "namespaces": list(self.namespaces),
                "servers": list(self.servers), "source": self.source}


@dataclass(frozen=True, slots=True)
class ProxySetting:
    """Proxy settings from one source: ``environment`` (``*_proxy`` variables),
    ``wininet`` (Internet Options: browsers, most desktop apps) or ``winhttp`` (services).
    ``servers`` maps scheme (``http``, ``https``, ``all``) to a URL with credentials masked."""

    source: str
    servers: tuple[tuple[str, str], ...] = ()
    bypass: tuple[str, ...] = ()
    auto_config_url: str | None = None
    auto_detect: bool | None = None

    @property
    def direct(self) -> bool:
        """No proxy, no PAC file, no auto-detection: traffic goes direct."""
        return not self.servers and not self.auto_config_url and not self.auto_detect

    def for_scheme(self, scheme: str) -> str | None:
        """The proxy this source names for ``scheme`` (or for all), None for direct."""
        servers = dict(self.servers)
        return servers.get(scheme) or servers.get("all")

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"source": self.source, "servers": dict(self.servers),
                "bypass": list(self.bypass), "auto_config_url": self.auto_config_url,
                "auto_detect": self.auto_detect}


@dataclass(frozen=True, slots=True)
class HostsEntry:
    """One non-comment hosts file line: an address and its names."""

    address: str
    names: tuple[str, ...]
    line: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"address": self.address, "names": list(self.names), "line": self.line}


@dataclass(frozen=True)
class Environment:
    """What this machine's network looks like, read with the OS's documented interfaces.

    ``notes`` say what could not be read and why (nothing is guessed); ``preference`` is
    ``ipv4``, ``ipv6`` or ``unknown`` with ``preference_source`` saying how it was found;
    ``time_servers`` are the NTP servers the OS is configured with (``time_source`` names
    the file or registry value), empty when none is.
    """

    platform: str
    read_at: datetime
    adapters: tuple[Adapter, ...] = ()
    default_routes: tuple[Route, ...] = ()
    dns_servers: tuple[str, ...] = ()
    dns_source: str = ""
    search_domains: tuple[str, ...] = ()
    resolver_options: tuple[str, ...] = ()
    nrpt_rules: tuple[NrptRule, ...] = ()
    proxies: tuple[ProxySetting, ...] = ()
    hosts_path: str = ""
    hosts_entries: tuple[HostsEntry, ...] = ()
    preference: str = "unknown"
    preference_source: str = ""
    time_servers: tuple[str, ...] = ()
    time_source: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def default_route(self) -> Route | None:
        """The IPv4 default route that wins (lowest metric), else the IPv6 one."""
        for family in ("ipv4", "ipv6"):
            routes = [r for r in self.default_routes if r.family == family]
            if routes:
                return min(routes, key=lambda r: r.metric if r.metric is not None else 1 << 31)
        return None

    def adapter(self, name: str) -> Adapter | None:
        """The adapter called ``name``, if any."""
        return next((a for a in self.adapters if a.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the ``environment`` object of ``netmon env --json``)."""
        default = self.default_route
        return {
            "platform": self.platform, "read_at": iso_utc(self.read_at),
            "adapters": [a.as_dict() for a in self.adapters],
            "default_routes": [r.as_dict() for r in self.default_routes],
            "default_route": default.as_dict() if default else None,
            "dns": {"servers": list(self.dns_servers), "source": self.dns_source,
                    "search_domains": list(self.search_domains),
                    "options": list(self.resolver_options),
                    "nrpt_rules": [r.as_dict() for r in self.nrpt_rules]},
            "proxies": [p.as_dict() for p in self.proxies],
            "hosts_file": {"path": self.hosts_path,
                           "entries": [e.as_dict() for e in self.hosts_entries]},
            "address_preference": {"prefer": self.preference, "source": self.preference_source},
            "time": {"servers": list(self.time_servers), "source": self.time_source},
            "notes": list(self.notes),
        }
