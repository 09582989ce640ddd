"""PostgreSQL probe: OS resolution, asyncpg connect and auth, ``SELECT 1``, server version.

The password comes from keyring (or an environment variable) by reference, never from
the DSN.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import asyncpg

from ..config import Target
from .base import PhaseTimer, ProbeResult, TargetProbe, failure
from .dns import ResolutionError, is_ip_literal, resolve_os

__all__ = ["PgParams", "PostgresProbe", "pg_params"]


@dataclass(frozen=True, slots=True)
class PgParams:
    """Where and as whom to connect (no password here)."""

    host: str
    port: int
    user: str
    database: str


def pg_params(target: Target) -> PgParams:
    """Connection parameters from the target's DSN, overridden by its host and port."""
    parts = urlsplit(target.dsn) if target.dsn else None
    host = target.host or (parts.hostname if parts else None) or "localhost"
    port = target.port or (parts.port if parts else None) or 5432
    user = unquote(parts.username) if parts and parts.username else "postgres"
    database = unquote(parts.path.lstrip("/")) if parts and parts.path.strip("/") else user
    return PgParams(host, port, user, database)


class PostgresProbe(TargetProbe):
    """Connect, authenticate and run ``SELECT 1``."""

    async def run(self) -> ProbeResult:
        target = self.target
        timeout = self.timeout
        checked_at = self.context.clock.now()
        timer = PhaseTimer()
        params = pg_params(target)
        where = {"host": params.host, "port": params.port, "database": params.database,
                 "user": params.user}
        try:
            async with asyncio.timeout(timeout):
                if not is_ip_literal(params.host) and not params.host.startswith("/"):
                    answer = await resolve_os(params.host, params.port, timeout=timeout)
                    if not answer.ok:
                        raise ResolutionError(answer)
                    timer.lap("dns")
                conn = await asyncpg.connect(
                    host=params.host, port=params.port, user=params.user,
                    database=params.database, password=target.password.get(),
                    ssl=target.sslmode, timeout=timeout,
                )
                timer.lap("connect")
                try:
                    value = await conn.fetchval("SELECT 1")
                    timer.lap("query")
                    version = ".".join(str(p) for p in conn.get_server_version()[:2])
                finally:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 1.0)
        except Exception as exc:
            return failure(target, exc, checked_at, timer, **where)
        return ProbeResult(
            target.name, target.kind, value == 1, timer.total_ms(), checked_at,
            phases=dict(timer.phases), details={**where, "server_version": version},
        )
