"""Windows: the environment from documented APIs, through a small ``WindowsApi`` interface.

The interface returns the shapes the Windows calls return (field names as in the SDK), so
tests on any OS feed recorded answers and ``core.environment.win32.Win32Api`` makes the
real calls on Windows:

* ``adapters()``: ``GetAdaptersAddresses`` (iphlpapi): one dict per ``IP_ADAPTER_ADDRESSES``
  with ``FriendlyName``, ``Description``, ``IfIndex``, ``OperStatus`` (1 = up),
  ``Ipv4Metric``, ``Ipv6Metric``, ``DnsSuffix``, ``UnicastAddresses``
  (``[{"Address", "OnLinkPrefixLength"}]``), ``GatewayAddresses``, ``DnsServerAddresses``.
* ``reg_values(hive, key)`` / ``reg_subkeys(hive, key)``: winreg; ``{}``/``[]`` when absent
  (W32Time's ``Parameters`` give ``NtpServer``, ``"host,0x9 other,0x8"``, and ``Type``).
* ``ie_proxy()``: ``WinHttpGetIEProxyConfigForCurrentUser`` (the WinINET / Internet
  Options settings): ``fAutoDetect``, ``lpszAutoConfigUrl``, ``lpszProxy``, ``lpszProxyBypass``.
* ``winhttp_proxy()``: ``WinHttpGetDefaultProxyConfiguration`` (``netsh winhttp``):
  ``dwAccessType`` (1 no proxy, 3 named proxy), ``lpszProxy``, ``lpszProxyBypass``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from .common import environment_proxies, parse_proxy_list, read_hosts
from .model import Adapter, Environment, NrptRule, ProxySetting, Route

__all__ = ["NRPT_KEYS", "W32TIME", "WindowsApi", "read_windows"]

TCPIP = r"SYSTEM\CurrentControlSet\Services\Tcpip\Parameters"
TCPIP6 = r"SYSTEM\CurrentControlSet\Services\Tcpip6\Parameters"
W32TIME = r"SYSTEM\CurrentControlSet\Services\W32Time\Parameters"
DNS_POLICY = r"SOFTWARE\Policies\Microsoft\Windows NT\DNSClient"
#: Where NRPT rules live: Group Policy's copy and the local one VPN clients write.
NRPT_KEYS = (
    ("policy", DNS_POLICY + r"\DnsPolicyConfig"),
    ("local", r"SYSTEM\CurrentControlSet\Services\Dnscache\Parameters\DnsPolicyConfig"),
)
_IF_OPER_STATUS_UP = 1
_DEVOLUTION = ("UseDomainNameDevolution", "DomainNameDevolutionLevel")
_WINHTTP_ACCESS_NAMED_PROXY = 3
_PREFER_IPV4 = 0x20  # DisabledComponents bit: prefer IPv4 over IPv6 in the prefix policy
_IPV6_OFF = 0xFF


class WindowsApi(Protocol):
    """The Windows calls the reader needs (see the module docstring for the shapes)."""

    def adapters(self) -> list[dict[str, Any]]: ...
    def reg_values(self, hive: str, key: str) -> dict[str, Any]: ...
    def reg_subkeys(self, hive: str, key: str) -> list[str]: ...
    def ie_proxy(self) -> dict[str, Any]: ...
    def winhttp_proxy(self) -> dict[str, Any]: ...


def read_windows(api: WindowsApi, now: datetime, *, hosts_path: str,
                 environ: Mapping[str, str] | None = None) -> Environment:
    """Read the environment through ``api``; a failing call becomes a note, not an error."""
    notes: list[str] = []

    def call(what: str, fn: Any, *args: Any, default: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # an API missing on this Windows version, access denied
            notes.append(f"{what} failed: {type(exc).__name__}: {exc}")
            return default

    records = call("GetAdaptersAddresses", api.adapters, default=[])
    adapters = tuple(_adapter(r) for r in records)
    routes = tuple(
        Route("ipv6" if ":" in gw else "ipv4", gw, a.name, a.metric)
        for a in adapters if a.up for gw in a.gateways)
    if any(a.gateways for a in adapters):
        notes.append("default routes are the adapters' gateways ranked by interface metric "
                     "(route metrics are not read: route print shows them)")
    tcpip = call("registry " + TCPIP, api.reg_values, "HKLM", TCPIP, default={})
    policy = call("registry " + DNS_POLICY, api.reg_values, "HKLM", DNS_POLICY, default={})
    search_text = str(policy.get("SearchList") or tcpip.get("SearchList") or "")
    search = tuple(s.strip() for s in search_text.replace(" ", ",").split(",") if s.strip())
    if not search:
        search = tuple(dict.fromkeys(d for d in (
            tcpip.get("Domain"), *(a.dns_suffix for a in adapters if a.up)) if d))
    servers = tuple(dict.fromkeys(s for a in adapters if a.up for s in a.dns_servers))
    rules = tuple(r for source, key in NRPT_KEYS
                  for r in _nrpt(api, source, key, call))
    proxies = (*environment_proxies(environ), *_win_proxies(api, call))
    tcpip6 = call("registry " + TCPIP6, api.reg_values, "HKLM", TCPIP6, default={})
    preference, pref_source = _preference(tcpip6, adapters)
    hosts, hosts_note = read_hosts(hosts_path)
    if hosts_note:
        notes.append(f"hosts file {hosts_path}: {hosts_note}")
    options = tuple(f"{k}={tcpip[k]}" for k in _DEVOLUTION if k in tcpip)
    w32time = call("registry " + W32TIME, api.reg_values, "HKLM", W32TIME, default={})
    time_servers, time_source = _time_servers(w32time, notes)
    return Environment(
        platform="win32", read_at=now, adapters=adapters, default_routes=routes,
        dns_servers=servers, dns_source="GetAdaptersAddresses (up adapters)",
        search_domains=search, resolver_options=options, nrpt_rules=rules, proxies=proxies,
        hosts_path=hosts_path, hosts_entries=hosts, preference=preference,
        preference_source=pref_source, time_servers=time_servers, time_source=time_source,
        notes=tuple(notes),
    )


def _adapter(r: Mapping[str, Any]) -> Adapter:
    addresses = tuple(f"{u['Address']}/{u.get('OnLinkPrefixLength', 0)}"
                      for u in r.get("UnicastAddresses") or ())
    return Adapter(
        name=str(r.get("FriendlyName") or r.get("AdapterName") or "?"),
        index=r.get("IfIndex"), up=r.get("OperStatus") == _IF_OPER_STATUS_UP,
        addresses=addresses, gateways=tuple(r.get("GatewayAddresses") or ()),
        dns_servers=tuple(s for s in r.get("DnsServerAddresses") or ()
                          if not s.lower().startswith("fec0:0:0:ffff:")),  # unset IPv6 DNS
        dns_suffix=str(r.get("DnsSuffix") or ""), metric=r.get("Ipv4Metric"),
        description=str(r.get("Description") or ""),
    )


def _nrpt(api: WindowsApi, source: str, key: str, call: Any) -> list[NrptRule]:
    rules = []
    for sub in call(f"registry {key}", api.reg_subkeys, "HKLM", key, default=[]):
        values = call(f"registry {key}\\{sub}", api.reg_values, "HKLM", f"{key}\\{sub}",
                      default={})
        names = values.get("Name") or []
        if isinstance(names, str):
            names = [names]
        servers = str(values.get("GenericDNSServers") or "")
        rules.append(NrptRule(sub, tuple(names),
                              tuple(s.strip() for s in servers.split(";") if s.strip()), source))
    return rules


def _win_proxies(api: WindowsApi, call: Any) -> list[ProxySetting]:
    ie = call("WinHttpGetIEProxyConfigForCurrentUser", api.ie_proxy, default=None)
    found = []
    if ie is not None:
        found.append(ProxySetting(
            "wininet", parse_proxy_list(ie.get("lpszProxy")), _bypass(ie.get("lpszProxyBypass")),
            ie.get("lpszAutoConfigUrl") or None, bool(ie.get("fAutoDetect"))))
    wh = call("WinHttpGetDefaultProxyConfiguration", api.winhttp_proxy, default=None)
    if wh is not None:
        named = wh.get("dwAccessType") == _WINHTTP_ACCESS_NAMED_PROXY
        found.append(ProxySetting(
            "winhttp", parse_proxy_list(wh.get("lpszProxy")) if named else (),
            _bypass(wh.get("lpszProxyBypass")) if named else ()))
    return found


def _bypass(text: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in (text or "").replace(",", ";").split(";") if x.strip())


def _preference(tcpip6: Mapping[str, Any], adapters: tuple[Adapter, ...]) -> tuple[str, str]:
    disabled = tcpip6.get("DisabledComponents")
    if isinstance(disabled, int):
        if disabled & _IPV6_OFF == _IPV6_OFF:
            return "ipv4", f"Tcpip6 DisabledComponents=0x{disabled:X}: IPv6 disabled"
        if disabled & _PREFER_IPV4:
            return "ipv4", f"Tcpip6 DisabledComponents=0x{disabled:X}: prefer IPv4"
    global_v6 = any(ipaddress.ip_interface(x).ip.is_global for a in adapters if a.up
                    for x in a.addresses if ":" in x)
    if global_v6:
        return "ipv6", "default prefix policy: a global IPv6 address is configured"
    return "ipv4", "no global IPv6 address: IPv4 is used"


def _time_servers(w32time: Mapping[str, Any], notes: list[str]) -> tuple[tuple[str, ...], str]:
    """W32Time's ``NtpServer`` (``host,0x9`` flags dropped) unless ``Type`` is ``NT5DS``
    (time from the domain hierarchy: the server is the domain controller, not this value)."""
    kind = str(w32time.get("Type") or "")
    if kind.upper() == "NT5DS":
        notes.append("W32Time syncs from the domain hierarchy (Type=NT5DS): NtpServer is not "
                     "used; pass --time-server with a domain controller to check the clock")
        return (), ""
    servers = tuple(dict.fromkeys(
        part.split(",", 1)[0] for part in str(w32time.get("NtpServer") or "").split()
        if part.split(",", 1)[0]))
    return servers, (f"HKLM\\{W32TIME} NtpServer" if servers else "")
