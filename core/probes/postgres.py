"""PostgreSQL probe: OS resolution, asyncpg connect and auth, ``SELECT 1``, server version.

The password comes from keyring (or an environment variable) by reference, never from
the DSN.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from ..config import Dsn, DsnError, Target, parse_dsn
from ..errors import ConfigError
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
    """Connection parameters from the target's DSN, overridden by its host and port.

    ``ConfigError`` (naming the target, never containing the DSN) when the DSN is unusable.
    """
    try:
        dsn = parse_dsn(target.dsn) if target.dsn else Dsn()
    except DsnError as exc:
        raise ConfigError(str(exc), field=f"target {target.name!r} dsn") from None
    host = (target.host or next((h for h in dsn.hosts if h), None)
            or dsn.params.get("hostaddr") or "localhost")
    port = target.port or (dsn.ports[0] if dsn.ports else None) or 5432
    user = dsn.user or "postgres"
    return PgParams(host, port, user, dsn.database or user)


class PostgresProbe(TargetProbe):
    """Connect, authenticate and run ``SELECT 1``."""

    async def run(self) -> ProbeResult:
        import asyncpg  # on the first probe, not when a config with a database is loaded

        target = self.target
        timeout = self.timeout
        checked_at = self.context.clock.now()
        timer = PhaseTimer()
        where: dict[str, object] = {}
        try:
            params = pg_params(target)
            where.update(host=params.host, port=params.port, database=params.database,
                         user=params.user)
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
