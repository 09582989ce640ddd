"""Which probe runs which target kind."""

from __future__ import annotations

from ..config import Target
from .base import Probe, ProbeContext
from .dns import DnsProbe
from .http import HttpProbe
from .icmp import IcmpProbe
from .postgres import PostgresProbe
from .supabase import SupabaseProbe
from .tcp import TcpProbe

__all__ = ["make_probe"]

_PROBES: dict[str, type[DnsProbe | TcpProbe | HttpProbe | PostgresProbe | SupabaseProbe
                         | IcmpProbe]] = {
    "dns": DnsProbe,
    "tcp": TcpProbe,
    "http": HttpProbe,
    "postgres": PostgresProbe,
    "supabase": SupabaseProbe,
    "icmp": IcmpProbe,
    "gateway": IcmpProbe,
}


def make_probe(target: Target, context: ProbeContext) -> Probe:
    """The probe for ``target``'s kind, sharing ``context``."""
    return _PROBES[target.kind](target, context)
