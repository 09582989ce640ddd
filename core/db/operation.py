"""One attempt of an operation on a pool, every wait bounded by the call's deadline.

The deadline is on the event loop's clock (the one asyncpg's timeouts use). Acquiring
waits at most ``min(acquire_timeout, time left)``, the statement gets the time left, and
the connection goes back to the pool within the time left too. A connection that timed
out, was cut or was cancelled under a statement is terminated, never waited on again:
asyncpg would otherwise send a cancel request and reset it over a link that may be dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from ..errors import classify

__all__ = ["run_on_pool", "time_left"]

_log = logging.getLogger("netmon.db")


def time_left(deadline: float) -> float:
    """Seconds until ``deadline`` (loop time); a bare ``TimeoutError`` when none are left."""
    left = deadline - asyncio.get_running_loop().time()
    if left <= 0:
        raise TimeoutError
    return left


async def run_on_pool(
    pool: Any, method: str, query: str, args: tuple[Any, ...], *, deadline: float,
    acquire_timeout: float, waits: deque[float],
) -> Any:
    """``conn.<method>(query, *args)`` on a connection from ``pool``; acquire waits (ms)
    are appended to ``waits``."""
    import asyncpg  # loaded by the pool's opening (open_pool): only a lookup here

    started = time.perf_counter()
    conn = await pool.acquire(timeout=min(acquire_timeout, time_left(deadline)))
    waits.append((time.perf_counter() - started) * 1000)
    try:
        result = await getattr(conn, method)(query, *args, timeout=time_left(deadline))
    except asyncpg.PostgresError:  # the server answered: the connection is in step
        await _give_back(pool, conn, deadline)
        raise
    except BaseException:  # timed out, cut or cancelled under the statement
        _terminate(conn)
        raise
    await _give_back(pool, conn, deadline)
    return result


async def _give_back(pool: Any, conn: Any, deadline: float) -> None:
    left = deadline - asyncio.get_running_loop().time()
    if left <= 0:
        _terminate(conn)
        return
    try:
        await pool.release(conn, timeout=left)
    except Exception as exc:  # asyncpg terminated it; the pool replaces it on demand
        _log.debug("NETWORK: database connection dropped on release (%s)", classify(exc))


def _terminate(conn: Any) -> None:
    import asyncpg

    with contextlib.suppress(asyncpg.InterfaceError):  # already released by a close
        conn.terminate()
