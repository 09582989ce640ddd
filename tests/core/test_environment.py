"""core.environment: the Windows reader fed recorded API answers (the shapes
GetAdaptersAddresses, winreg and WinHTTP return), the Linux reader on a copied file tree,
and the conditions drawn from both. The Linux reader on a real network is in test_netns.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.config import parse_config
from core.environment import (
    SCHEMA,
    EnvironmentReport,
    ReachCheck,
    conditions,
    read_environment,
)
from core.environment.linux import read_linux
from core.environment.windows import NRPT_KEYS, TCPIP, TCPIP6
from core.errors import ConfigError, ErrorKind
from core.probes.base import ProbeContext
from core.probes.icmp import Reach
from core.probes.registry import make_probe
from core.testing import FakeClock
from tests.support.netutil import free_tcp_port

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

#: Recorded from the shapes of a Windows 11 laptop on Wi-Fi with a VPN client connected.
ADAPTERS: list[dict[str, Any]] = [
    {"AdapterName": "{6F1A}", "FriendlyName": "Wi-Fi", "Description": "Intel(R) Wi-Fi 6E AX211",
     "IfIndex": 12, "OperStatus": 1, "IfType": 71, "Ipv4Metric": 35, "Ipv6Metric": 35,
     "DnsSuffix": "home.example",
     "UnicastAddresses": [{"Address": "192.168.1.23", "OnLinkPrefixLength": 24},
                          {"Address": "fe80::1c2d:3e4f:5a6b:7c8d", "OnLinkPrefixLength": 64}],
     "GatewayAddresses": ["192.168.1.1"],
     "DnsServerAddresses": ["192.168.1.1", "fec0:0:0:ffff::1"]},
    {"AdapterName": "{9B2C}", "FriendlyName": "CorpVPN", "Description": "Corp VPN Virtual Adapter",
     "IfIndex": 31, "OperStatus": 1, "IfType": 53, "Ipv4Metric": 1, "Ipv6Metric": 1,
     "DnsSuffix": "corp.example",
     "UnicastAddresses": [{"Address": "10.8.0.14", "OnLinkPrefixLength": 24}],
     "GatewayAddresses": ["10.8.0.1"], "DnsServerAddresses": ["10.8.0.1"]},
    {"AdapterName": "{0D3E}", "FriendlyName": "Ethernet", "Description": "Realtek PCIe GbE",
     "IfIndex": 7, "OperStatus": 2, "IfType": 6, "Ipv4Metric": 25, "Ipv6Metric": 25,
     "DnsSuffix": "", "UnicastAddresses": [], "GatewayAddresses": [],
     "DnsServerAddresses": []},
]


class RecordedApi:
    """``WindowsApi`` answering from recorded shapes; ``fail`` names calls that raise."""

    def __init__(self, *, adapters: list[dict[str, Any]] | None = None,
                 registry: dict[str, dict[str, Any]] | None = None,
                 ie: dict[str, Any] | None = None, winhttp: dict[str, Any] | None = None,
                 fail: frozenset[str] = frozenset()) -> None:
        self._adapters = ADAPTERS if adapters is None else adapters
        self._registry = registry or {}
        self._ie = ie or {"fAutoDetect": False, "lpszAutoConfigUrl": None,
                          "lpszProxy": None, "lpszProxyBypass": None}
        self._winhttp = winhttp or {"dwAccessType": 1, "lpszProxy": None,
                                    "lpszProxyBypass": None}
        self._fail = fail

    def _check(self, name: str) -> None:
        if name in self._fail:
            raise OSError(5, "Access is denied")

    def adapters(self) -> list[dict[str, Any]]:
        self._check("adapters")
        return self._adapters

    def reg_values(self, hive: str, key: str) -> dict[str, Any]:
        self._check("registry")
        return dict(self._registry.get(f"{hive}\\{key}", {}))

    def reg_subkeys(self, hive: str, key: str) -> list[str]:
        self._check("registry")
        prefix = f"{hive}\\{key}\\"
        return sorted({k[len(prefix):].split("\\")[0] for k in self._registry
                       if k.startswith(prefix)})

    def ie_proxy(self) -> dict[str, Any]:
        self._check("ie")
        return self._ie

    def winhttp_proxy(self) -> dict[str, Any]:
        self._check("winhttp")
        return self._winhttp


@pytest.fixture
def windows_root(tmp_path: Path) -> dict[str, str]:
    """An environment whose hosts file (``NETMON_TEST_HOSTS``) has one override, one sinkhole
    and localhost."""
    (tmp_path / "hosts").write_text(
        "# Copyright (c) 1993-2009 Microsoft Corp.\n"
        "127.0.0.1 localhost\n"
        "10.20.30.40 api.corp.example   # added by an installer\n"
        "0.0.0.0 telemetry.vendor.example ads.vendor.example\n", encoding="utf-8")
    return {"NETMON_TEST_HOSTS": str(tmp_path / "hosts"), "HTTPS_PROXY": "http://proxyuser:s3cretPw@10.0.0.8:3128"}


def _nrpt_registry() -> dict[str, dict[str, Any]]:
    local = NRPT_KEYS[1][1]
    return {
        f"HKLM\\{local}\\{{A1B2-VPN}}": {"Name": [".corp.example"],
                                          "GenericDNSServers": "10.8.0.1",
                                          "ConfigOptions": 8, "Version": 2},
        f"HKLM\\{TCPIP}": {"SearchList": "corp.example,home.example", "Domain": "",
                           "UseDomainNameDevolution": 1},
        f"HKLM\\{TCPIP6}": {"DisabledComponents": 0x20},
    }


def _windows(api: RecordedApi, environ: dict[str, str]) -> EnvironmentReport:
    env = read_environment(clock=FakeClock(NOW), windows_api=api, environ=environ,
                           hosts_path=environ["NETMON_TEST_HOSTS"])
    return EnvironmentReport(env, (), False, conditions(env))


def test_windows_reader_maps_the_recorded_api_answers(windows_root: dict[str, str]) -> None:
    report = _windows(RecordedApi(
        registry=_nrpt_registry(),
        ie={"fAutoDetect": True, "lpszAutoConfigUrl": "http://wpad.corp.example/proxy.pac",
            "lpszProxy": "http=10.0.0.8:3128;https=10.0.0.8:3128",
            "lpszProxyBypass": "<local>;*.corp.example"},
        winhttp={"dwAccessType": 1, "lpszProxy": None, "lpszProxyBypass": None},
    ), windows_root)
    env = report.environment
    assert env.platform == "win32"
    wifi = env.adapter("Wi-Fi")
    assert wifi is not None and wifi.up and wifi.metric == 35
    assert wifi.addresses == ("192.168.1.23/24", "fe80::1c2d:3e4f:5a6b:7c8d/64")
    assert wifi.dns_servers == ("192.168.1.1",)  # the unset fec0:0:0:ffff:: placeholder dropped
    assert env.adapter("Ethernet") is not None and env.adapter("Ethernet").up is False  # type: ignore[union-attr]
    route = env.default_route
    assert route is not None and (route.interface, route.gateway) == ("CorpVPN", "10.8.0.1")
    assert env.dns_servers == ("192.168.1.1", "10.8.0.1")
    assert env.search_domains == ("corp.example", "home.example")
    assert "UseDomainNameDevolution=1" in env.resolver_options
    [rule] = env.nrpt_rules
    assert (rule.namespaces, rule.servers, rule.source) == ((".corp.example",), ("10.8.0.1",),
                                                            "local")
    sources = {p.source: p for p in env.proxies}
    assert sources["wininet"].for_scheme("https") == "http://10.0.0.8:3128"
    assert sources["wininet"].auto_config_url == "http://wpad.corp.example/proxy.pac"
    assert sources["winhttp"].direct
    assert sources["environment"].for_scheme("https") == "http://proxyuser:***@10.0.0.8:3128"
    assert env.preference == "ipv4" and "0x20" in env.preference_source
    assert [(e.address, e.names) for e in env.hosts_entries][1:] == [
        ("10.20.30.40", ("api.corp.example",)),
        ("0.0.0.0", ("telemetry.vendor.example", "ads.vendor.example"))]
    ids = {c.id: c for c in report.conditions}
    assert {"proxy_mismatch", "proxy_autoconfig", "nrpt_rule", "competing_default_routes",
            "hosts_sinkhole", "hosts_overrides"} <= set(ids)
    assert "winhttp: direct" in ids["proxy_mismatch"].detail
    assert "netsh winhttp import proxy source=ie" in ids["proxy_mismatch"].suggestion
    assert "CorpVPN" in ids["competing_default_routes"].detail
    assert report.exit_code == 1  # warnings, nothing critical
    doc = report.as_dict()
    assert doc["schema"] == SCHEMA
    assert "s3cretPw" not in repr(doc)


def test_windows_reader_turns_a_failing_call_into_a_note(windows_root: dict[str, str]) -> None:
    report = _windows(RecordedApi(fail=frozenset({"winhttp", "registry"})), windows_root)
    env = report.environment
    assert any("WinHttpGetDefaultProxyConfiguration failed" in n for n in env.notes)
    assert any("registry" in n and "Access is denied" in n for n in env.notes)
    assert env.adapters  # the rest was still read
    assert all(p.source != "winhttp" for p in env.proxies)


def test_windows_no_adapter_up_is_critical(windows_root: dict[str, str]) -> None:
    down = [dict(a, OperStatus=2) for a in ADAPTERS]
    report = _windows(RecordedApi(adapters=down), windows_root)
    ids = {c.id for c in report.conditions}
    assert {"no_default_route", "no_dns_servers"} <= ids
    assert report.exit_code == 2
    assert report.conditions[0].severity == "critical"


def test_unreachable_nrpt_server_names_the_rule(windows_root: dict[str, str]) -> None:
    env = read_environment(clock=FakeClock(NOW),
                           windows_api=RecordedApi(registry=_nrpt_registry()),
                           environ=windows_root, hosts_path=windows_root["NETMON_TEST_HOSTS"])
    silent = Reach("10.8.0.1", False, "udp:53", None, ErrorKind.TIMEOUT, "no answer within 1 s",
                   "ICMP not used: unprivileged ICMP is not permitted")
    found = {c.id: c for c in conditions(env, [ReachCheck("nrpt_server", ".corp.example",
                                                          silent)])}
    detail = found["nrpt_server_unreachable"].detail
    assert "sends .corp.example to 10.8.0.1, which does not answer" in detail
    assert "udp:53" in detail


# --------------------------------------------------------------------------- Linux, copied tree
def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


_ROUTE_HEAD = ("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow"
               "\tIRTT\n")


def test_linux_reader_on_a_copied_tree(tmp_path: Path) -> None:
    _tree(tmp_path, {
        "proc/net/route": _ROUTE_HEAD
        + "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
        + "tun0\t00000000\t0100080A\t0003\t0\t0\t50\t00000000\t0\t0\t0\n"
        + "wlan0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n",
        "proc/net/ipv6_route":
            "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
            "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n",
        "etc/resolv.conf": "# managed by systemd-resolved\nnameserver 127.0.0.53\n"
                           "options edns0 trust-ad\nsearch corp.example\n",
        "run/systemd/resolve/resolv.conf": "nameserver 10.8.0.1\nnameserver 192.168.1.1\n"
                                           "search corp.example home.example\n",
        "etc/hosts": "127.0.0.1 localhost\n::1 ip6-localhost\n0.0.0.0 blocked.example\n",
        "etc/gai.conf": "# prefer IPv4\nprecedence ::ffff:0:0/96  100\n",
        "sys/class/net/wlan0/flags": "0x1003\n", "sys/class/net/wlan0/ifindex": "3\n",
        "sys/class/net/tun0/flags": "0x10d1\n", "sys/class/net/tun0/ifindex": "9\n",
    })
    env = read_linux(NOW, root=tmp_path, environ={"no_proxy": "localhost"},
                     addresses={"wlan0": ("192.168.1.23/24", "2001:db8::23/64"),
                                "tun0": ("10.8.0.14/24",)})
    assert [(r.interface, r.gateway, r.metric) for r in env.default_routes] == [
        ("wlan0", "192.168.1.1", 600), ("tun0", "10.8.0.1", 50)]  # the reject route is skipped
    assert env.default_route is not None and env.default_route.interface == "tun0"
    assert env.dns_servers == ("10.8.0.1", "192.168.1.1")
    assert env.dns_source == "/run/systemd/resolve/resolv.conf"
    assert env.search_domains == ("corp.example", "home.example")
    assert env.resolver_options == ("edns0", "trust-ad")
    assert env.preference == "ipv4" and "gai.conf" in env.preference_source
    wlan = env.adapter("wlan0")
    assert wlan is not None and wlan.up and wlan.gateways == ("192.168.1.1",)
    assert [e.names for e in env.hosts_entries][-1] == ("blocked.example",)
    ids = {c.id for c in conditions(env)}
    assert {"competing_default_routes", "hosts_sinkhole"} <= ids
    assert "ipv6_without_route" not in ids  # IPv4 is preferred by gai.conf


def test_linux_ipv6_preferred_without_a_route(tmp_path: Path) -> None:
    _tree(tmp_path, {
        "proc/net/route": _ROUTE_HEAD
        + "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n",
        "proc/net/ipv6_route": "", "etc/resolv.conf": "nameserver 192.168.1.1\n",
        "etc/hosts": "",
    })
    env = read_linux(NOW, root=tmp_path, environ={},
                     addresses={"eth0": ("192.168.1.5/24", "2a00:1450:4001::5/64")})  # global
    assert env.preference == "ipv6"
    found = {c.id: c for c in conditions(env)}
    assert found["ipv6_without_route"].severity == "warning"
    assert "gai.conf" in found["ipv6_without_route"].suggestion


def test_linux_without_files_says_so(tmp_path: Path) -> None:
    env = read_linux(NOW, root=tmp_path, environ={}, addresses={})
    assert env.default_routes == () and env.dns_servers == ()
    assert any("hosts file" in n and "not found" in n for n in env.notes)
    ids = {c.id for c in conditions(env)}
    assert {"no_default_route", "no_dns_servers"} <= ids


# --------------------------------------------------------------------------- icmp targets
async def test_icmp_target_falls_back_to_tcp_and_says_why() -> None:
    """On loopback: ICMP (if this host's ping_group_range allows it) or a TCP refusal from
    a closed port both prove the host is there; the method used is reported."""
    port = free_tcp_port()
    config = parse_config(f'[[targets]]\nname = "lo"\nkind = "icmp"\nhost = "127.0.0.1"\n'
                          f'port = {port}\ntimeout_s = 1\n')
    context = ProbeContext(clock=FakeClock(NOW))
    try:
        result = await make_probe(config.targets[0], context).run()
    finally:
        await context.aclose()
    assert result.ok and result.kind == "icmp"
    method = result.details["method"]
    assert method in ("icmp", f"tcp:{port}")
    if method != "icmp":
        assert "ping_group_range" in result.details["note"]


def test_icmp_needs_a_host_and_gateway_needs_none() -> None:
    with pytest.raises(ConfigError, match=r"targets\[0\] \(x\)\.host"):
        parse_config('[[targets]]\nname = "x"\nkind = "icmp"\n')
    config = parse_config('[[targets]]\nname = "gw"\nkind = "gateway"\n')
    assert config.targets[0].kind == "gateway"
