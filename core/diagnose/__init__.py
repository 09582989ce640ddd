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

The package: ``findings`` (the dataclasses), ``layers`` (the probing steps), ``verdict``
(the judgement), ``rendering`` (the terminal report).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Coroutine, Iterable
from typing import Any

from ..clock import Clock, SystemClock
from ..probes.base import system_nameservers
from ..probes.dns import ResolverAnswer, is_ip_literal, parse_nameserver
from .findings import Diagnosis, HostsFileCheck, ProxyInfo, TcpAttempt, Verdict, exit_code
from .layers import (
    _addresses_to_try,
    _bounded,
    _check_nameserver,
    _direct,
    _ms,
    _os,
    _parse,
    check_hosts_file,
    hosts_entries,
    hosts_file_path,
    parse_target,
    proxy_info,
    tcp_connect,
)
from .network import NetworkCheck, check_network, refine
from .path import Hop, PathTrace, trace_path
from .verdict import verdict

__all__ = [
    "Diagnosis",
    "Hop",
    "HostsFileCheck",
    "NetworkCheck",
    "PathTrace",
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
    "trace_path",
    "verdict",
]

_MAX_TCP_ADDRESSES = 8


async def diagnose(
    target: str, *, nameservers: Iterable[str] = (), include_system: bool = True,
    timeout: float = 3.0, hosts_path: str | os.PathLike[str] | None = None,
    platform: str | None = None, clock: Clock | None = None, network: bool = False,
    trace: bool = False,
) -> Diagnosis:
    """Diagnose ``target`` (``host[:port]`` or a URL) layer by layer.

    ``nameservers`` are ``IP[:PORT]`` to ask directly, plus the system's own when
    ``include_system``. ``network`` also checks that the default gateway and the DNS
    servers answer; ``trace`` also traces the path to the target (both send packets to
    this machine's gateway and DNS servers, so both are off unless asked for).
    Raises ValueError only for bad input (target or nameserver).
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
    connects = [tcp_connect(a, port, timeout=timeout) for a in addresses[:_MAX_TCP_ADDRESSES]
                ] if port is not None else []
    below = (check_network(addresses, timeout=timeout, trace=trace)
             if network or trace else _nothing())
    net, tcp = await asyncio.gather(below, _all(connects))
    judged = refine(verdict(lookup, port, os_answer=os_answer, direct=direct, tcp=tcp,
                            hosts=hosts, proxy=proxy, platform=platform, literal=literal), net)
    return Diagnosis(
        target=target, host=lookup, port=port, os_answer=os_answer, verdict=judged,
        hosts=hosts, direct=direct, tcp=tcp, tcp_source=source if tcp else None, proxy=proxy,
        timeout_s=timeout, elapsed_ms=_ms(started), checked_at=checked_at, network=net,
    )


async def _nothing() -> None:
    return None


async def _all(attempts: list[Coroutine[Any, Any, TcpAttempt]]) -> tuple[TcpAttempt, ...]:
    return tuple(await asyncio.gather(*attempts))
