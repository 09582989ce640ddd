"""This machine's network environment: adapters, routes, resolver, NRPT, proxies, hosts file,
time servers.

One reader per OS (``linux``, ``windows`` through ``WindowsApi``) fills one dataclass,
``Environment``; ``judge.conditions`` turns what explains failures into conditions with
suggestions. The one call for the CLI, the bundle and the console::

    report = await collect_environment(probe=False)   # probe=True pings gateway + DNS
                                                       # and asks the time source (SNTP)
    report.as_dict()                                   # the `netmon env --json` document

Reading touches files, sysfs, netlink, the registry and the WinHTTP API: nothing goes on
the network unless ``probe`` is true (or a ``time_server`` is named).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clock import Clock, SystemClock
from ..probes.base import iso_utc
from ..probes.icmp import reach
from .common import hosts_file_path
from .judge import Condition, ReachCheck, conditions
from .model import Adapter, Environment, HostsEntry, NrptRule, ProxySetting, Route
from .sntp import ClockCheck, query_sntp
from .windows import WindowsApi, read_windows

__all__ = [
    "SCHEMA",
    "Adapter",
    "ClockCheck",
    "Condition",
    "Environment",
    "EnvironmentReport",
    "HostsEntry",
    "NrptRule",
    "ProxySetting",
    "ReachCheck",
    "Route",
    "WindowsApi",
    "check_clock",
    "check_reachability",
    "collect_environment",
    "conditions",
    "read_environment",
]

#: The ``schema`` field of ``netmon env --json``; bumped when a field changes meaning.
SCHEMA = "netmon.env/1"


@dataclass(frozen=True)
class EnvironmentReport:
    """The environment, the reachability checks (when probed), the clock check (when
    probed or a time server was named) and the conditions."""

    environment: Environment
    checks: tuple[ReachCheck, ...] = ()
    probed: bool = False
    conditions: tuple[Condition, ...] = ()
    clock: ClockCheck | None = None

    @property
    def exit_code(self) -> int:
        """0 no warning, 1 a warning, 2 a critical condition."""
        severities = {c.severity for c in self.conditions}
        return 2 if "critical" in severities else 1 if "warning" in severities else 0

    def as_dict(self) -> dict[str, Any]:
        """The ``netmon env --json`` document (see the README for the schema)."""
        return {"schema": SCHEMA, "generated_at": iso_utc(self.environment.read_at),
                "environment": self.environment.as_dict(), "probed": self.probed,
                "reachability": [c.as_dict() for c in self.checks],
                "clock": self.clock.as_dict() if self.clock else None,
                "conditions": [c.as_dict() for c in self.conditions]}


def read_environment(*, clock: Clock | None = None, platform: str | None = None,
                     windows_api: WindowsApi | None = None,
                     environ: Mapping[str, str] | None = None,
                     hosts_path: str | None = None) -> Environment:
    """Read the environment (blocking: call it in a worker thread from async code).

    ``windows_api`` feeds the Windows reader (recorded answers in tests); on Windows the
    real ``win32.Win32Api`` is used. ``hosts_path`` replaces the Windows hosts file path.
    """
    now = (clock or SystemClock()).now()
    plat = platform or sys.platform
    if windows_api is None and plat == "win32":  # pragma: no cover - Windows only
        from . import win32

        windows_api = win32.Win32Api()  # type: ignore[attr-defined,unused-ignore]
    if windows_api is not None:
        hosts = hosts_path or hosts_file_path(platform="win32", environ=environ)
        return read_windows(windows_api, now, hosts_path=hosts, environ=environ)
    if plat.startswith("linux"):
        from .linux import read_linux

        return read_linux(now, environ=environ)
    return Environment(platform=plat, read_at=now,
                       notes=(f"the environment reader is not implemented on {plat}",))


async def check_reachability(env: Environment, *, timeout: float = 2.0,
                             ) -> tuple[ReachCheck, ...]:
    """Ping the default gateways, the DNS servers and the NRPT servers, concurrently.

    ICMP where allowed without privileges, else TCP port 53 for gateways and a UDP DNS
    query for DNS servers; each check says which method answered.
    """
    wanted: list[tuple[str, str, str]] = []
    for route in env.default_routes:
        if route.gateway:
            wanted.append(("gateway", route.interface, route.gateway))
    for server in env.dns_servers:
        wanted.append(("dns_server", env.dns_source or "resolver", server))
    for rule in env.nrpt_rules:
        for server in rule.servers:
            wanted.append(("nrpt_server", ", ".join(rule.namespaces), server))
    unique = list(dict.fromkeys(wanted))
    found = await asyncio.gather(*(
        reach(_bare(address), timeout=timeout,
              fallback=("tcp", 53) if role == "gateway" else ("udp", 53))
        for role, _, address in unique))
    return tuple(ReachCheck(role, about, r) for (role, about, _), r in zip(unique, found,
                                                                          strict=True))


def _bare(address: str) -> str:
    """``fe80::1%eth0`` keeps its zone; ``[::1]`` loses its brackets."""
    return address.strip("[]")


async def check_clock(env: Environment, *, time_server: str | None = None,
                      timeout: float = 2.0) -> ClockCheck:
    """Ask ``time_server`` (``host[:port]``), else the first NTP server the OS is configured
    with, for the time; never a server nobody configured."""
    if time_server:
        return await query_sntp(time_server, timeout=timeout, source="--time-server")
    if env.time_servers:
        return await query_sntp(env.time_servers[0], timeout=timeout, source=env.time_source)
    return ClockCheck(None, method="none", error="no time source configured")


async def collect_environment(*, probe: bool = False, timeout: float = 2.0,
                              clock: Clock | None = None, time_server: str | None = None,
                              ) -> EnvironmentReport:
    """Read the environment off the loop and judge it; ``probe`` also checks reachability
    and the clock; naming a ``time_server`` checks the clock against it (only that).

    The one call the CLI (``netmon env``), the support bundle and the console make.
    """
    env = await asyncio.to_thread(read_environment, clock=clock)
    reach = asyncio.ensure_future(check_reachability(env, timeout=timeout)) if probe else None
    skew = (await check_clock(env, time_server=time_server, timeout=timeout)
            if probe or time_server else None)
    checks = await reach if reach is not None else ()
    return EnvironmentReport(env, checks, probe, conditions(env, checks, skew), skew)

