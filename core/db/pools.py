"""Opening and closing asyncpg pools, and resolving the host first (network-aware start).

asyncpg is imported by the first pool opened, not with the database layer: the console
builds its core before its first paint."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from ..probes.dns import ResolutionError, is_ip_literal, resolve_os
from ..probes.postgres import PgParams
from .model import PoolSettings

__all__ = ["close_pool", "open_pool", "resolve", "turned_away"]

_log = logging.getLogger("netmon.db")
#: SQLSTATEs of a server that turns a connection away for now: too many connections (for
#: the server or the role), cannot connect now (starting up, shutting down, recovering)
_TURNED_AWAY = frozenset({"53300", "57P03"})


async def resolve(params: PgParams, timeout: float) -> None:
    """Resolve the host through the OS resolver; raise ``ResolutionError`` when it fails.

    IP literals and Unix-socket paths need no resolution.
    """
    host = params.host
    if is_ip_literal(host) or host.startswith("/"):
        return
    answer = await resolve_os(host, params.port, timeout=timeout)
    if not answer.ok:
        raise ResolutionError(answer)


def turned_away(exc: BaseException) -> bool:
    """True when the server refused a connection for now (asyncpg's
    ``TooManyConnectionsError`` or ``CannotConnectNowError``), not for good."""
    return getattr(exc, "sqlstate", None) in _TURNED_AWAY


async def open_pool(
    params: PgParams, *, sslmode: str, password: str | None, settings: PoolSettings
) -> Any:
    """A new pool with ``settings.min_size`` connections open (no floor kept afterwards).

    asyncpg >= 0.32 would otherwise reconnect a floor in the background, outside the breaker.
    Cancelling it (a deadline) closes what it had opened.
    """
    import asyncpg

    # asyncpg >= 0.32 splits the initial size (init_size) from a maintained floor (min_size).
    has_init_size = "init_size" in inspect.signature(asyncpg.create_pool).parameters
    sizes = ({"init_size": settings.min_size, "min_size": 0} if has_init_size
             else {"min_size": settings.min_size})
    return await asyncpg.create_pool(
        host=params.host, port=params.port, user=params.user, database=params.database,
        password=password, ssl=sslmode, max_size=settings.max_size,
        timeout=settings.connect_timeout, command_timeout=settings.command_timeout, **sizes,
    )


async def close_pool(pool: Any, timeout: float) -> None:
    """Close ``pool`` gracefully within ``timeout`` seconds, else terminate it."""
    try:
        async with asyncio.timeout(timeout):
            await pool.close()
    except TimeoutError:
        _log.warning("RESILIENT: database pool did not close in %gs; terminating", timeout)
        pool.terminate()
    except Exception:
        pool.terminate()
