"""Where a target points: the host and port a person should look at, and a short label.

Used to name the place in suggestions ("db.corp:5432 refuses connections") and to tell
hosts apart when judging whether the local network is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .config import Target

__all__ = ["Endpoint", "endpoint"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A target's host (or name, for DNS) and port, when it has one."""

    host: str
    port: int | None = None

    def __str__(self) -> str:
        if self.port is None:
            return self.host
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def endpoint(target: Target) -> Endpoint:
    """The host and port ``target`` connects to (the name it resolves, for DNS)."""
    if target.kind in ("http", "supabase") and target.url:
        try:
            parts = urlsplit(target.url)
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        except ValueError:  # validated config never gets here; say something anyway
            return Endpoint(target.name)
        return Endpoint(parts.hostname or target.name, port)
    if target.kind == "postgres":
        from .probes.postgres import pg_params  # the probe's module imports asyncpg

        try:
            params = pg_params(target)
        except ValueError:
            return Endpoint(target.host or target.name, target.port or None)
        return Endpoint(params.host, params.port)
    if target.kind == "tcp":
        return Endpoint(target.host or target.name, target.port or None)
    return Endpoint(target.host or target.name)
