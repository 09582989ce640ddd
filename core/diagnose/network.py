"""The layers below the target: is the default gateway there, are the DNS servers there,
and (optionally) where does the path to the target stop?

Opt-in (``diagnose(..., network=True, trace=True)``; ``netmon diagnose --network --trace``):
these send packets to the gateway and DNS servers of this machine.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ..environment import ReachCheck, check_reachability, read_environment
from ..environment.model import Environment
from .findings import DOWN, Verdict
from .path import PathTrace, trace_path

__all__ = ["NetworkCheck", "check_network", "refine"]


@dataclass(frozen=True, slots=True)
class NetworkCheck:
    """The gateway and DNS-server reachability, and the path trace when asked for."""

    default_route: dict[str, Any] | None
    checks: tuple[ReachCheck, ...] = ()
    path: PathTrace | None = None

    def failing(self, role: str) -> list[ReachCheck]:
        """The checks of ``role`` that got no answer."""
        return [c for c in self.checks if c.role == role and not c.reach.ok]

    def of(self, role: str) -> list[ReachCheck]:
        """The checks of ``role``."""
        return [c for c in self.checks if c.role == role]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"default_route": self.default_route,
                "reachability": [c.as_dict() for c in self.checks],
                "path": self.path.as_dict() if self.path else None}


async def check_network(addresses: list[str], *, timeout: float, trace: bool,
                        max_hops: int = 16) -> NetworkCheck:
    """Check the gateway and DNS servers; trace the path to the first of ``addresses``."""
    env: Environment = await asyncio.to_thread(read_environment)
    route = env.default_route
    wanted = Environment(platform=env.platform, read_at=env.read_at,
                         default_routes=tuple(r for r in env.default_routes if r == route),
                         dns_servers=env.dns_servers, dns_source=env.dns_source,
                         nrpt_rules=env.nrpt_rules)
    reach_task = check_reachability(wanted, timeout=timeout)
    if trace and addresses:
        checks, path = await asyncio.gather(
            reach_task, trace_path(addresses[0], max_hops=max_hops, timeout=timeout))
    else:
        checks, path = await reach_task, None
    return NetworkCheck(route.as_dict() if route else None, checks, path)


def refine(base: Verdict, network: NetworkCheck | None) -> Verdict:
    """The verdict, now knowing the gateway, DNS servers and path.

    A target that is down while the gateway does not answer is a local-network problem;
    DNS servers and the path add notes and causes.
    """
    if network is None or base.status != DOWN:
        return _with_notes(base, network, failing=False)
    gateways = network.of("gateway")
    if network.default_route is None:
        return Verdict("gateway", base.kind, DOWN,
                       "no default route on this machine: only local networks are reachable "
                       f"({base.summary})",
                       ("no network connection (cable, Wi-Fi)", "the VPN removed the route"),
                       ("Check the network link and the VPN connection", *base.next_steps),
                       base.notes)
    if gateways and all(not c.reach.ok for c in gateways):
        gw = gateways[0].reach
        return Verdict(
            "gateway", base.kind, DOWN,
            f"the default gateway {gw.address} does not answer ({gw.method}): the local "
            f"network is down ({base.summary})",
            ("cable unplugged, Wi-Fi disconnected or the router is down",
             "a wrong gateway address (static configuration, stale DHCP lease)"),
            ("Check the cable/Wi-Fi and restart the router", *base.next_steps),
            _notes(base, network))
    return _with_notes(base, network, failing=True)


def _with_notes(base: Verdict, network: NetworkCheck | None, *, failing: bool) -> Verdict:
    if network is None:
        return base
    causes = list(base.causes)
    dns_down = network.failing("dns_server")
    if failing and dns_down and base.layer == "dns":
        causes.insert(0, "the DNS server(s) " + ", ".join(c.reach.address for c in dns_down)
                      + " do not answer while the gateway does")
    return Verdict(base.layer, base.kind, base.status, base.summary, tuple(causes),
                   base.next_steps, _notes(base, network))


def _notes(base: Verdict, network: NetworkCheck) -> tuple[str, ...]:
    notes = list(base.notes)
    for c in network.checks:
        state = "answers" if c.reach.ok else "does not answer"
        notes.append(f"{c.role.replace('_', ' ')} {c.reach.address} {state} ({c.reach.method})")
    if network.path is not None:
        notes.append(f"path: {network.path.summary()}")
    return tuple(dict.fromkeys(notes))
