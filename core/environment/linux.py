"""Linux: interfaces from sysfs, addresses from rtnetlink, routes from /proc, the resolver
from resolv.conf (and systemd-resolved's upstream file), preference from gai.conf, the NTP
servers from systemd-timesyncd, chrony or ntpd configuration.

Every file is read under ``root`` (``/`` by default) so tests can point at a copy; the
addresses come from the kernel (netlink) of the network namespace the process runs in.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from .common import environment_proxies, read_hosts
from .model import Adapter, Environment, Route

__all__ = ["netlink_addresses", "read_linux"]

_STUB_RESOLVERS = frozenset({"127.0.0.53", "127.0.0.54"})
_RESOLVED_UPSTREAM = "run/systemd/resolve/resolv.conf"
_IFF_UP = 0x1
_RTF_UP, _RTF_REJECT = 0x0001, 0x0200


def read_linux(now: datetime, *, root: str | os.PathLike[str] = "/",
               environ: Mapping[str, str] | None = None,
               addresses: Mapping[str, tuple[str, ...]] | None = None) -> Environment:
    """Read this Linux machine's network environment (files under ``root``).

    ``addresses`` (interface name -> CIDRs) replaces the netlink read (tests of a copied
    tree); by default the kernel is asked.
    """
    base = Path(root)
    notes: list[str] = []
    if addresses is None:
        try:
            addresses = netlink_addresses()
        except OSError as exc:
            notes.append(f"interface addresses unreadable (netlink): {exc}")
            addresses = {}
    routes = _routes_v4(base, notes) + _routes_v6(base, notes)
    servers, search, options, source = _resolver(base, notes)
    adapters = tuple(_adapters(base, addresses, routes, notes))
    preference, pref_source = _preference(base, adapters, routes)
    hosts_path = str(base / "etc/hosts")
    hosts, hosts_note = read_hosts(hosts_path)
    if hosts_note:
        notes.append(f"hosts file {hosts_path}: {hosts_note}")
    time_servers, time_source = _time_servers(base, notes)
    return Environment(
        platform="linux", read_at=now, adapters=adapters, default_routes=tuple(routes),
        dns_servers=servers, dns_source=source, search_domains=search,
        resolver_options=options, proxies=environment_proxies(environ),
        hosts_path=hosts_path, hosts_entries=hosts, preference=preference,
        preference_source=pref_source, time_servers=time_servers, time_source=time_source,
        notes=tuple(notes),
    )


def _read(path: Path, notes: list[str]) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        notes.append(f"{path}: unreadable ({exc.strerror or exc})")
        return None


# --------------------------------------------------------------------------- routes
def _routes_v4(base: Path, notes: list[str]) -> list[Route]:
    text = _read(base / "proc/net/route", notes)
    routes: list[Route] = []
    for line in (text or "").splitlines()[1:]:
        cols = line.split()
        if len(cols) < 8 or cols[1] != "00000000" or cols[7] != "00000000":
            continue
        flags = int(cols[3], 16)
        if not flags & _RTF_UP or flags & _RTF_REJECT:
            continue
        gateway = socket.inet_ntoa(struct.pack("<L", int(cols[2], 16)))
        routes.append(Route("ipv4", None if gateway == "0.0.0.0" else gateway, cols[0],
                            int(cols[6])))
    return routes


def _routes_v6(base: Path, notes: list[str]) -> list[Route]:
    text = _read(base / "proc/net/ipv6_route", notes)
    routes: list[Route] = []
    for line in (text or "").splitlines():
        cols = line.split()
        if len(cols) < 10 or cols[0] != "0" * 32 or cols[1] != "00" or cols[9] == "lo":
            continue
        flags = int(cols[8], 16)
        if not flags & _RTF_UP or flags & _RTF_REJECT:
            continue
        nexthop = str(ipaddress.IPv6Address(bytes.fromhex(cols[4])))
        routes.append(Route("ipv6", None if nexthop == "::" else nexthop, cols[9],
                            int(cols[5], 16)))
    return routes


# --------------------------------------------------------------------------- interfaces
def _adapters(base: Path, addresses: Mapping[str, tuple[str, ...]], routes: list[Route],
              notes: list[str]) -> list[Adapter]:
    names = set(addresses)
    sys_net = base / "sys/class/net"
    try:
        names |= {p.name for p in sys_net.iterdir()}
    except OSError as exc:
        notes.append(f"{sys_net}: unreadable ({exc.strerror or exc})")
    adapters = []
    for name in sorted(names):
        flags = _read(sys_net / name / "flags", [])
        index = _read(sys_net / name / "ifindex", [])
        mine = [r for r in routes if r.interface == name]
        metrics = [r.metric for r in mine if r.metric is not None]
        adapters.append(Adapter(
            name=name, index=int(index) if index and index.strip().isdigit() else None,
            up=bool(int(flags, 16) & _IFF_UP) if flags and flags.strip() else None,
            addresses=tuple(addresses.get(name, ())),
            gateways=tuple(dict.fromkeys(r.gateway for r in mine if r.gateway)),
            metric=min(metrics) if metrics else None,
        ))
    return adapters


def netlink_addresses() -> dict[str, tuple[str, ...]]:
    """Interface name -> addresses as CIDR, from an rtnetlink RTM_GETADDR dump."""
    names = {index: name for index, name in socket.if_nameindex()}
    found: dict[str, list[str]] = {}
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as sock:  # NETLINK_ROUTE
        sock.settimeout(2.0)
        sock.bind((0, 0))
        # nlmsghdr(len, RTM_GETADDR=22, NLM_F_REQUEST|NLM_F_DUMP, seq, pid) + ifaddrmsg
        sock.send(struct.pack("=IHHII", 24, 22, 0x301, 1, 0) + struct.pack("=BBBBI", 0, 0, 0,
                                                                          0, 0))
        while True:
            data = sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, kind, _, _, _ = struct.unpack_from("=IHHII", data, offset)
                if kind == 3 or length < 16:  # NLMSG_DONE
                    return {k: tuple(v) for k, v in found.items()}
                if kind == 2:  # NLMSG_ERROR
                    code = struct.unpack_from("=i", data, offset + 16)[0]
                    raise OSError(-code, os.strerror(-code))
                if kind == 20:  # RTM_NEWADDR
                    _parse_addr(data[offset + 16: offset + length], names, found)
                offset += (length + 3) & ~3


def _parse_addr(msg: bytes, names: Mapping[int, str], found: dict[str, list[str]]) -> None:
    family, prefix, _flags, _scope, index = struct.unpack_from("=BBBBI", msg)
    attrs: dict[int, bytes] = {}
    pos = 8
    while pos + 4 <= len(msg):
        length, kind = struct.unpack_from("=HH", msg, pos)
        if length < 4:
            break
        attrs[kind] = msg[pos + 4: pos + length]
        pos += (length + 3) & ~3
    raw = attrs.get(2) or attrs.get(1)  # IFA_LOCAL, else IFA_ADDRESS
    if raw is None or family not in (socket.AF_INET, socket.AF_INET6):
        return
    address = socket.inet_ntop(family, raw)
    found.setdefault(names.get(index, f"if{index}"), []).append(f"{address}/{prefix}")


# --------------------------------------------------------------------------- resolver
def _resolver(base: Path, notes: list[str],
              ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]:
    path = base / "etc/resolv.conf"
    servers, search, options = _parse_resolv(_read(path, notes) or "")
    source = "/etc/resolv.conf"
    if servers and set(servers) <= _STUB_RESOLVERS:
        upstream = _read(base / _RESOLVED_UPSTREAM, notes)
        if upstream is not None:
            up_servers, up_search, _ = _parse_resolv(upstream)
            if up_servers:
                notes.append(f"/etc/resolv.conf names the systemd-resolved stub "
                             f"{', '.join(servers)}; its upstream servers are listed "
                             "(per-link DNS: resolvectl status)")
                return up_servers, up_search or search, options, f"/{_RESOLVED_UPSTREAM}"
    if not servers and (base / "etc/resolv.conf").exists():
        notes.append("/etc/resolv.conf lists no nameserver (glibc then asks 127.0.0.1)")
    return servers, search, options, source


def _parse_resolv(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    servers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(fields) < 2:
            continue
        key, values = fields[0], fields[1:]
        if key == "nameserver":
            servers.append(values[0])
        elif key in ("search", "domain"):
            search = values  # the last search/domain line wins, as in glibc
        elif key == "options":
            options.extend(values)
    return tuple(servers), tuple(search), tuple(options)


def _preference(base: Path, adapters: tuple[Adapter, ...], routes: list[Route],
                ) -> tuple[str, str]:
    text = _read(base / "etc/gai.conf", []) or ""
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if fields[:2] == ["precedence", "::ffff:0:0/96"] and len(fields) > 2 \
                and fields[2].isdigit() and int(fields[2]) >= 100:
            return "ipv4", "/etc/gai.conf: precedence ::ffff:0:0/96 >= 100"
    global_v6 = any(ipaddress.ip_interface(a).ip.is_global for ad in adapters
                    for a in ad.addresses if ":" in a)
    if global_v6:
        return "ipv6", "RFC 6724 default (glibc): a global IPv6 address is configured"
    return "ipv4", "no global IPv6 address: IPv4 is used"


# --------------------------------------------------------------------------- time servers
_TIMESYNCD = "etc/systemd/timesyncd.conf"
_NTP_CONFS = ("etc/chrony/chrony.conf", "etc/chrony.conf", "etc/ntpsec/ntp.conf",
              "etc/ntp.conf")


def _time_servers(base: Path, notes: list[str]) -> tuple[tuple[str, ...], str]:
    """The first configuration naming NTP servers: timesyncd ``NTP=`` (drop-ins applied in
    order, an empty ``NTP=`` resets), else chrony/ntpd ``server``/``pool`` lines."""
    servers: list[str] = []
    source = ""
    drop_ins = base / (_TIMESYNCD + ".d")
    paths = [base / _TIMESYNCD]
    if drop_ins.is_dir():
        paths += sorted(drop_ins.glob("*.conf"))
    for path in paths:
        for line in (_read(path, notes) or "").splitlines():
            key, sep, value = line.split("#", 1)[0].partition("=")
            if sep and key.strip() == "NTP":
                servers, source = value.split(), f"/{path.relative_to(base)} NTP="
    if servers:
        return tuple(dict.fromkeys(servers)), source
    for name in _NTP_CONFS:
        found = []
        for line in (_read(base / name, notes) or "").splitlines():
            fields = line.split("#", 1)[0].split()
            if len(fields) >= 2 and fields[0] in ("server", "pool") \
                    and not fields[1].startswith("127.127."):  # ntpd reference clocks
                found.append(fields[1])
        if found:
            return tuple(dict.fromkeys(found)), f"/{name} server/pool"
    return (), ""
