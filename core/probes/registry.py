"""Which probe runs which target kind.

A kind's module is imported when the first target of that kind is built: the HTTP,
PostgreSQL and Supabase probes pull in httpx, cryptography or asyncpg, which a config
without such targets never needs. The imports are plain ``from`` statements (not names in
strings) so that a bundler's analysis still finds every probe.
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import Target
from .base import Probe, ProbeContext

__all__ = ["make_probe"]


def _probe_class(kind: str) -> Callable[[Target, ProbeContext], Probe]:
    match kind:
        case "dns":
            from .dns import DnsProbe
            return DnsProbe
        case "tcp":
            from .tcp import TcpProbe
            return TcpProbe
        case "http":
            from .http import HttpProbe
            return HttpProbe
        case "postgres":
            from .postgres import PostgresProbe
            return PostgresProbe
        case "supabase":
            from .supabase import SupabaseProbe
            return SupabaseProbe
        case "icmp" | "gateway":
            from .icmp import IcmpProbe
            return IcmpProbe
    raise KeyError(kind)


def make_probe(target: Target, context: ProbeContext) -> Probe:
    """The probe for ``target``'s kind, sharing ``context``."""
    return _probe_class(target.kind)(target, context)
