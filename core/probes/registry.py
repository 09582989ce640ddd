"""Which probe runs which target kind.

A kind's module is imported when the first target of that kind is built: the HTTP,
PostgreSQL and Supabase probes pull in httpx, cryptography or asyncpg, which a config
without such targets never needs.
"""

from __future__ import annotations

import importlib

from ..config import Target
from .base import Probe, ProbeContext

__all__ = ["make_probe"]

#: kind -> (module in this package, probe class)
_PROBES: dict[str, tuple[str, str]] = {
    "dns": ("dns", "DnsProbe"),
    "tcp": ("tcp", "TcpProbe"),
    "http": ("http", "HttpProbe"),
    "postgres": ("postgres", "PostgresProbe"),
    "supabase": ("supabase", "SupabaseProbe"),
    "icmp": ("icmp", "IcmpProbe"),
    "gateway": ("icmp", "IcmpProbe"),
}


def make_probe(target: Target, context: ProbeContext) -> Probe:
    """The probe for ``target``'s kind, sharing ``context``."""
    module, name = _PROBES[target.kind]
    probe: Probe = getattr(importlib.import_module(f"{__package__}.{module}"), name)(
        target, context)
    return probe
