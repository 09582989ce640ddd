"""DatabaseResilience: an asyncpg pool behind a breaker and retries, with an emergency mode.

Start-up is network-aware: the host goes through the OS resolver first (a failure is
classified, e.g. ``dns_not_found``), then the pool is created under the ``connect`` retry
strategy. ``start()`` never raises. When resolution or every connect attempt fails, the
layer enters **emergency** mode:

* it tries once more with the emergency pool (min 1, max 2 connections, ``emergency_timeout``
  for connect, acquire and commands); if that works, operations run on it (status
  ``degraded``);
* otherwise there is no pool (status ``down``) and operations **fail fast**: they go through
  the breaker and raise ``DatabaseUnavailableError`` whose kind is the last start error
  (``dns_not_found``, ``connection_refused``...), with no connection attempt and no retry.
  Three of those open the breaker, after which calls get ``CircuitOpenError``;
* an owned background task ("netmon-db-recovery-<target>") retries with backoff on the
  injected clock; when a normal pool can be created it is swapped in, mode returns to
  **normal** by itself and an open breaker is moved to half-open (``probe_succeeded``).

Operations (``fetch``, ``fetchrow``, ``fetchval``, ``execute``) pass the breaker once per
operation: one verdict per call, so "three failed operations" open it, and a rejection
touches no connection. Inside, reads are retried under the ``query`` strategy; ``execute``
only with ``idempotent=True``. Broken connections are dropped by asyncpg on acquire or
release and replaced on demand. The pool keeps no connection floor of its own (asyncpg
>= 0.32 would reconnect in the background, outside the breaker): ``pool_min`` connections
are opened at start.

Status: ``down`` when not started, closed, without a pool, or while the breaker is open;
``degraded`` in emergency mode with a pool or while the breaker is half-open; else ``up``.
The password is read from ``target.password`` at each pool creation and never appears in
logs, errors or ``health()``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import random
import time
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import asyncpg

from .backoff import Backoff, Jitter
from .breaker import BreakerState, BreakerTransition, CircuitBreaker
from .clock import Clock, SystemClock
from .config import Target
from .errors import ErrorKind, NetmonError, classify
from .events import Event
from .probes.base import describe, iso_utc
from .probes.dns import ResolutionError, is_ip_literal, resolve_os
from .probes.postgres import pg_params
from .retry import Retrier, RetryPolicy, strategy

__all__ = ["DatabaseResilience", "DatabaseUnavailableError", "DbMode", "DbStatus"]

_log = logging.getLogger("netmon.db")

#: asyncpg >= 0.32 splits the initial size (init_size) from a maintained floor (min_size).
_HAS_INIT_SIZE = "init_size" in inspect.signature(asyncpg.create_pool).parameters
_WAIT_RING = 256


class DbMode(StrEnum):
    """How the layer runs: full pool, or the reduced emergency setup."""

    NORMAL = "normal"
    EMERGENCY = "emergency"


class DbStatus(StrEnum):
    """The database status reported in ``health()``."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


class DatabaseUnavailableError(NetmonError):
    """No pool to run an operation on (emergency mode with nothing reachable, or closed)."""

    def __init__(self, message: str, *, kind: ErrorKind, target: str | None = None) -> None:
        super().__init__(message, target=target)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class _PoolSettings:
    min_size: int
    max_size: int
    timeout: float          # connect and acquire
    command_timeout: float


class DatabaseResilience:
    """An asyncpg pool with network-aware start, emergency mode, breaker, retries and health."""

    def __init__(
        self,
        target: Target,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        breaker: CircuitBreaker | None = None,
        pool_min: int = 1,
        pool_max: int = 10,
        connect_timeout: float = 10.0,
        command_timeout: float = 30.0,
        emergency_timeout: float = 3.0,
        resolve_timeout: float = 5.0,
        close_timeout: float = 5.0,
        recovery_backoff: Backoff | None = None,
        connect_policy: RetryPolicy | None = None,
    ) -> None:
        if not 0 <= pool_min <= pool_max or pool_max < 1:
            raise ValueError("need 0 <= pool_min <= pool_max and pool_max >= 1")
        self.target = target
        self.params = pg_params(target)
        self.clock: Clock = clock or (breaker.clock if breaker else SystemClock())
        self.rng = rng or random.Random()
        self.breaker = breaker or CircuitBreaker("database", clock=self.clock)
        self.resolve_timeout = resolve_timeout
        self.close_timeout = close_timeout
        #: delays between background recovery attempts (on the injected clock)
        self.recovery_backoff = recovery_backoff or Backoff(1.0, 2.0, 30.0, Jitter.EQUAL)
        self._normal = _PoolSettings(pool_min, pool_max, connect_timeout, command_timeout)
        self._emergency = _PoolSettings(
            min(1, pool_max), min(2, pool_max), emergency_timeout, emergency_timeout
        )
        self._connect = Retrier(
            replace(connect_policy or strategy("connect"),
                    attempt_timeout=2 * connect_timeout + 1.0),
            clock=self.clock, rng=self.rng,
        )
        self._retriers = {
            DbMode.NORMAL: Retrier(
                strategy("query", attempt_timeout=connect_timeout + command_timeout + 1.0),
                clock=self.clock, rng=self.rng,
            ),
            DbMode.EMERGENCY: Retrier(
                strategy("query", attempt_timeout=2 * emergency_timeout + 1.0),
                clock=self.clock, rng=self.rng,
            ),
        }
        #: emitted with ``health()`` when mode or status changes
        self.health_changed: Event[dict[str, Any]] = Event("database.health_changed")
        self.breaker.state_changed.connect(self._on_breaker)

        self._mode = DbMode.NORMAL
        self._pool: Any = None
        self._pools: set[Any] = set()  # every pool created and not yet closed
        self._started = False
        self._closed = False
        self._recovery: asyncio.Task[None] | None = None
        self._next_attempt_at: datetime | None = None
        self._lifecycle = asyncio.Lock()
        self._waits: deque[float] = deque(maxlen=_WAIT_RING)
        self._last_kind: ErrorKind | None = None
        self._last_error: str | None = None
        self._secret: str | None = None
        self._reported: tuple[DbMode, DbStatus] | None = None

    # --- state -------------------------------------------------------------------------
    @property
    def mode(self) -> DbMode:
        """``normal`` or ``emergency``."""
        return self._mode

    @property
    def status(self) -> DbStatus:
        """``up``, ``degraded`` or ``down`` (rules in the module docstring)."""
        if not self._started or self._closed or self._pool is None:
            return DbStatus.DOWN
        state = self.breaker.state
        if state in (BreakerState.OPEN, BreakerState.FORCED_OPEN):
            return DbStatus.DOWN
        if self._mode is DbMode.EMERGENCY or state is BreakerState.HALF_OPEN:
            return DbStatus.DEGRADED
        return DbStatus.UP

    @property
    def pool(self) -> Any:
        """The asyncpg pool in use, or None."""
        return self._pool

    @property
    def recovery_task(self) -> asyncio.Task[None] | None:
        """The background recovery task while in emergency mode."""
        return self._recovery

    def acquire_wait_p95_ms(self) -> float | None:
        """95th percentile of the recent pool acquire waits (nearest rank), or None."""
        if not self._waits:
            return None
        ordered = sorted(self._waits)
        return round(ordered[math.ceil(0.95 * len(ordered)) - 1], 3)

    def health(self) -> dict[str, Any]:
        """Snapshot: status, mode, pool figures, acquire p95, last error, breaker state."""
        status = self.status
        pool = self._pool
        if pool is not None:
            size, idle, most = pool.get_size(), pool.get_idle_size(), pool.get_max_size()
        else:
            size, idle, most = 0, 0, self._settings().max_size
        kind = str(self._last_kind) if self._last_kind else None
        return {
            "status": str(status),
            "mode": str(self._mode),
            "pool": {"size": size, "idle": idle, "in_use": size - idle, "max": most},
            "acquire_wait_p95_ms": self.acquire_wait_p95_ms(),
            "last_error_kind": kind,
            "last_error": self._last_error,
            "error_kind": kind if status is not DbStatus.UP else None,
            "breaker": str(self.breaker.state),
            "next_attempt_at": (iso_utc(self._next_attempt_at)
                                if self._next_attempt_at and self._mode is DbMode.EMERGENCY
                                and self._recovery is not None else None),
        }

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> dict[str, Any]:
        """Resolve, connect (``connect`` strategy) or enter emergency mode; never raises.

        Returns ``health()``. Calling it again while started does nothing.
        """
        async with self._lifecycle:
            if not self._started or self._closed:
                await self._start_locked()
        return self.health()

    async def reconnect(self) -> dict[str, Any]:
        """Recovery action: close the pool and start again; returns health before and after."""
        async with self._lifecycle:
            before = self.health()
            await self._stop_locked()
            await self._start_locked()
            after = self.health()
        return {"before": before, "after": after}

    async def close(self) -> None:
        """Stop background recovery and close the pools, each bounded by ``close_timeout``."""
        async with self._lifecycle:
            self._closed = True
            await self._stop_locked()
            self._refresh()

    async def __aenter__(self) -> DatabaseResilience:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- operations --------------------------------------------------------------------
    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Any]:
        """Rows of ``query`` (retried under the ``query`` strategy)."""
        result: list[Any] = await self._run("fetch", query, args, timeout, True)
        return result

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Any:
        """The first row of ``query`` or None (retried)."""
        return await self._run("fetchrow", query, args, timeout, True)

    async def fetchval(self, query: str, *args: Any, timeout: float | None = None) -> Any:
        """The first value of the first row (retried)."""
        return await self._run("fetchval", query, args, timeout, True)

    async def execute(
        self, query: str, *args: Any, timeout: float | None = None, idempotent: bool = False
    ) -> str:
        """Run a statement; retried only when the caller says it is ``idempotent``."""
        status: str = await self._run("execute", query, args, timeout, idempotent)
        return status

    async def _run(
        self, method: str, query: str, args: tuple[Any, ...], timeout: float | None, retry: bool
    ) -> Any:
        if self._closed or not self._started:
            raise DatabaseUnavailableError(
                "database layer is " + ("closed" if self._closed else "not started"),
                kind=ErrorKind.UNKNOWN, target=self.target.name,
            )
        return await self.breaker.call(self._guarded, method, query, args, timeout, retry)

    async def _guarded(
        self, method: str, query: str, args: tuple[Any, ...], timeout: float | None, retry: bool
    ) -> Any:
        if self._pool is None:  # emergency without a pool: fail fast, no retry
            raise self._unavailable()
        if retry:
            return await self._retriers[self._mode].call(self._attempt, method, query, args,
                                                         timeout)
        return await self._attempt(method, query, args, timeout)

    async def _attempt(
        self, method: str, query: str, args: tuple[Any, ...], timeout: float | None
    ) -> Any:
        pool = self._pool
        if pool is None:
            raise self._unavailable()
        started = time.perf_counter()
        try:
            conn = await pool.acquire(timeout=self._settings().timeout)
        except Exception as exc:
            self._note_error(exc)
            raise
        self._waits.append((time.perf_counter() - started) * 1000)
        try:
            return await getattr(conn, method)(query, *args, timeout=timeout)
        except Exception as exc:
            self._note_error(exc)
            raise
        finally:
            try:
                await pool.release(conn)
            except Exception as exc:  # asyncpg terminated it; the pool replaces it on demand
                _log.debug("NETWORK: database connection dropped on release (%s)", classify(exc))

    def _unavailable(self) -> DatabaseUnavailableError:
        if self._closed:
            return DatabaseUnavailableError("database layer is closed", kind=ErrorKind.UNKNOWN,
                                            target=self.target.name)
        if self._mode is DbMode.NORMAL:  # between the pools of reconnect()
            return DatabaseUnavailableError("database pool is being replaced (reconnect)",
                                            kind=ErrorKind.CONNECTION_RESET,
                                            target=self.target.name)
        kind = self._last_kind or ErrorKind.CONNECTION_REFUSED
        detail = self._last_error or "not reachable"
        return DatabaseUnavailableError(
            f"database unavailable (emergency mode, retrying in background): {detail}",
            kind=kind, target=self.target.name,
        )

    # --- internals ---------------------------------------------------------------------
    def _settings(self) -> _PoolSettings:
        return self._emergency if self._mode is DbMode.EMERGENCY else self._normal

    async def _start_locked(self) -> None:
        self._started, self._closed = True, False
        pool = await self._try(self._normal, retrying=True)
        if pool is not None:
            self._install(pool, DbMode.NORMAL)
            return
        if not _is_dns(self._last_kind):
            pool = await self._try(self._emergency, retrying=False)
        self._install(pool, DbMode.EMERGENCY)
        self._recovery = asyncio.get_running_loop().create_task(
            self._recover(self._plan(1, None)), name=f"netmon-db-recovery-{self.target.name}"
        )

    async def _stop_locked(self) -> None:
        task, self._recovery = self._recovery, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._pool = None
        for pool in list(self._pools):
            await self._close_pool(pool)
        self._mode = DbMode.NORMAL

    async def _try(self, settings: _PoolSettings, *, retrying: bool) -> Any:
        """Resolve, then create a pool; None (error noted) on failure."""
        try:
            await self._resolve()
            if retrying:
                return await self._connect.call(self._create_pool, settings)
            return await self._create_pool(settings)
        except Exception as exc:
            self._note_error(exc)
            return None

    async def _resolve(self) -> None:
        host = self.params.host
        if is_ip_literal(host) or host.startswith("/"):
            return
        answer = await resolve_os(host, self.params.port, timeout=self.resolve_timeout)
        if not answer.ok:
            raise ResolutionError(answer)

    async def _create_pool(self, settings: _PoolSettings) -> Any:
        p = self.params
        password = self.target.password.get()
        self._secret = password
        sizes = ({"init_size": settings.min_size, "min_size": 0} if _HAS_INIT_SIZE
                 else {"min_size": settings.min_size})
        pool = await asyncpg.create_pool(
            host=p.host, port=p.port, user=p.user, database=p.database, password=password,
            ssl=self.target.sslmode, max_size=settings.max_size, timeout=settings.timeout,
            command_timeout=settings.command_timeout, **sizes,
        )
        self._pools.add(pool)
        return pool

    def _install(self, pool: Any, mode: DbMode) -> None:
        old_mode, self._mode, self._pool = self._mode, mode, pool
        where = f"{self.params.host}:{self.params.port}"
        if mode is DbMode.EMERGENCY:
            _log.warning(
                "NETWORK: database %s unavailable at start (%s); EMERGENCY mode (%s), "
                "retrying in background", where, self._last_kind,
                "small pool" if pool is not None else "no pool, operations fail fast",
            )
        elif old_mode is DbMode.EMERGENCY:
            _log.warning("RESILIENT: database %s reachable again; back to NORMAL mode", where)
        if pool is not None:
            self.breaker.probe_succeeded()
        self._refresh()

    def _plan(self, attempt: int, previous: float | None) -> float:
        """The delay before background attempt ``attempt``; sets ``next_attempt_at``."""
        delay = self.recovery_backoff.delay(min(attempt, 32), self.rng, previous)
        self._next_attempt_at = self.clock.now() + timedelta(seconds=delay)
        return delay

    async def _recover(self, delay: float) -> None:
        """Background: retry with backoff on the injected clock until a normal pool exists."""
        attempt = 1
        while True:
            await self._wait(delay)
            pool = await self._try(self._normal, retrying=False)
            if pool is not None:
                old = self._pool
                self._install(pool, DbMode.NORMAL)
                if old is not None:
                    await self._close_pool(old)
                return
            if self._pool is None and not _is_dns(self._last_kind):
                small = await self._try(self._emergency, retrying=False)
                if small is not None:
                    self._pool = small
                    self.breaker.probe_succeeded()
            _log.info("RESILIENT: database still unavailable (%s); attempt %d",
                      self._last_kind, attempt)
            attempt += 1
            delay = self._plan(attempt, delay)
            self._refresh()

    async def _wait(self, seconds: float) -> None:
        """Sleep on the injected clock through ``call_later`` (a FakeClock fires on advance)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        handle = self.clock.call_later(seconds, wake)
        try:
            await future
        finally:
            handle.cancel()

    async def _close_pool(self, pool: Any) -> None:
        try:
            async with asyncio.timeout(self.close_timeout):
                await pool.close()
        except TimeoutError:
            _log.warning("RESILIENT: database pool did not close in %gs; terminating",
                         self.close_timeout)
            pool.terminate()
        except Exception:
            pool.terminate()
        finally:
            self._pools.discard(pool)

    def _note_error(self, exc: BaseException) -> None:
        kind = classify(exc)
        if kind is ErrorKind.UNKNOWN:  # an SQL error says nothing about the database's health
            return
        text = describe(exc)
        if isinstance(exc, ResolutionError):
            text = f"cannot resolve {self.params.host}: {text}"
        if self._secret and len(self._secret) >= 3:
            text = text.replace(self._secret, "***")
        self._last_kind, self._last_error = kind, text

    def _on_breaker(self, _change: BreakerTransition) -> None:
        self._refresh()

    def _refresh(self) -> None:
        key = (self._mode, self.status)
        if key != self._reported:
            self._reported = key
            self.health_changed.emit(self.health())


def _is_dns(kind: ErrorKind | None) -> bool:
    return kind is not None and kind.value.startswith("dns_")
