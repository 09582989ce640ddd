"""TCP probe: resolve through the OS, then connect to each address until one answers."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import time

from ..errors import classify
from .base import PhaseTimer, ProbeResult, TargetProbe, describe, failure
from .dns import is_ip_literal, resolve_os

__all__ = ["TcpProbe", "connect_once"]


#: After connecting, watch this long at least (or two connect times, if longer) for the
#: listener resetting or closing the connection it just accepted.
ACCEPT_WATCH_S = 0.05


async def connect_once(address: str, port: int, timeout: float) -> float:
    """Open and cleanly close one TCP connection; returns the connect time in ms
    (raises on failure).

    A listener that accepts and at once resets or closes (a load balancer with no healthy
    backend, a proxy whose upstream is gone) fails with ``ConnectionResetError``: the
    connection is watched for ``ACCEPT_WATCH_S`` or two connect times (about one round
    trip after the server's accept), within the timeout. A server that waits for the
    client (HTTP, PostgreSQL) or greets first (SMTP, SSH) is up.
    """
    started = time.perf_counter()
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(address, port)
    elapsed = time.perf_counter() - started
    try:
        await _not_dropped(reader, min(max(ACCEPT_WATCH_S, 2 * elapsed), timeout - elapsed))
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                await writer.wait_closed()
    return elapsed * 1000


async def _not_dropped(reader: asyncio.StreamReader, seconds: float) -> None:
    """Raise ``ConnectionResetError`` if the peer resets or closes within ``seconds``."""
    if seconds <= 0:
        return
    try:
        async with asyncio.timeout(seconds):
            data = await reader.read(1)
    except TimeoutError:
        return  # still open, waiting for us: the normal case
    except ConnectionResetError:
        raise ConnectionResetError(
            errno.ECONNRESET, "connection reset by the server right after accepting it"
        ) from None
    if not data:
        raise ConnectionResetError(
            errno.ECONNRESET, "the server closed the connection right after accepting it")


class TcpProbe(TargetProbe):
    """Connect to host:port; reports the address used and per-address errors."""

    async def run(self) -> ProbeResult:
        target = self.target
        timeout = self.timeout
        checked_at = self.context.clock.now()
        timer = PhaseTimer()
        host = target.host.strip("[]")
        if is_ip_literal(host):
            addresses: tuple[str, ...] = (host,)
        else:
            answer = await resolve_os(host, target.port, timeout=timeout)
            timer.lap("dns")
            if not answer.ok:
                return ProbeResult(
                    target.name, target.kind, False, timer.total_ms(), checked_at,
                    phases=dict(timer.phases), error_kind=answer.error_kind, error=answer.error,
                    details={"host": host, "port": target.port, "stage": "dns"},
                )
            addresses = answer.addresses
        attempts: list[dict[str, str | None]] = []
        first_error: BaseException | None = None
        deadline = asyncio.get_running_loop().time() + timeout
        for address in addresses:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                await connect_once(address, target.port, remaining)
            except Exception as exc:
                first_error = first_error or exc
                attempts.append({"address": address, "error_kind": classify(exc).value,
                                 "error": describe(exc)})
                continue
            timer.lap("connect")
            return ProbeResult(
                target.name, target.kind, True, timer.total_ms(), checked_at,
                phases=dict(timer.phases),
                details={"host": host, "port": target.port, "address": address,
                         "failed_addresses": attempts},
            )
        timer.lap("connect")
        error = first_error or TimeoutError(f"no address of {host} answered in {timeout:g}s")
        return failure(target, error, checked_at, timer, host=host, port=target.port,
                       stage="connect", failed_addresses=attempts)
