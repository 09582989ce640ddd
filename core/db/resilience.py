"""The database layer: lifecycle, operations, state and health (rules in the package docstring)."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import random
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from ..backoff import Backoff, Jitter
from ..breaker import BreakerState, BreakerTransition, CircuitBreaker
from ..clock import Clock, SystemClock
from ..config import Target
from ..errors import ErrorKind, classify
from ..events import Event
from ..probes.base import describe, iso_utc
from ..probes.dns import ResolutionError
from ..probes.postgres import pg_params
from ..retry import Retrier, RetryPolicy, strategy
from .model import DatabaseUnavailableError, DbMode, DbStatus, PoolSettings
from .operation import run_on_pool, time_left
from .pools import close_pool, open_pool, resolve, turned_away

__all__ = ["DatabaseResilience"]

_log = logging.getLogger("netmon.db")
_WAIT_RING = 256


class DatabaseResilience:
    """An asyncpg pool with bounded network-aware start, emergency mode, breaker, retries
    and health.

    Timeouts (seconds): ``connect_timeout`` bounds one start attempt (resolution, connect
    retries, emergency pool); ``acquire_timeout`` one wait for a pool connection;
    ``command_timeout`` is the budget of an operation called without ``timeout``.
    """

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
        acquire_timeout: float = 10.0,
        command_timeout: float = 30.0,
        emergency_timeout: float = 3.0,
        resolve_timeout: float = 5.0,
        close_timeout: float = 5.0,
        recovery_backoff: Backoff | None = None,
        connect_policy: RetryPolicy | None = None,
    ) -> None:
        if not 0 <= pool_min <= pool_max or pool_max < 1:
            raise ValueError("need 0 <= pool_min <= pool_max and pool_max >= 1")
        if min(connect_timeout, acquire_timeout, command_timeout, emergency_timeout) <= 0:
            raise ValueError("connect, acquire, command and emergency timeouts must be > 0")
        self.target = target
        self.params = pg_params(target)
        self.clock: Clock = clock or (breaker.clock if breaker else SystemClock())
        self.rng = rng or random.Random()
        self.breaker = breaker or CircuitBreaker("database", clock=self.clock)
        #: the budget of one start attempt: resolution, connect retries, emergency attempt
        self.connect_timeout = connect_timeout
        self.resolve_timeout = resolve_timeout
        self.close_timeout = close_timeout
        #: delays between background recovery attempts (on the injected clock)
        self.recovery_backoff = recovery_backoff or Backoff(1.0, 2.0, 30.0, Jitter.EQUAL)
        self._normal = PoolSettings(pool_min, pool_max, connect_timeout, acquire_timeout,
                                    command_timeout)
        self._emergency = PoolSettings(min(1, pool_max), min(2, pool_max), emergency_timeout,
                                       emergency_timeout, emergency_timeout)
        self._connect = Retrier(connect_policy or strategy("connect"), clock=self.clock,
                                rng=self.rng)
        self._query = Retrier(strategy("query"), clock=self.clock, rng=self.rng)
        self._once = Retrier(strategy("query", max_attempts=1), clock=self.clock, rng=self.rng)
        #: emitted with ``health()`` when mode or status changes
        self.health_changed: Event[dict[str, Any]] = Event("database.health_changed")
        self.breaker.state_changed.connect(self._on_breaker)

        self._mode = DbMode.NORMAL
        self._pool: Any = None
        self._pools: set[Any] = set()  # every pool created and not yet closed
        self._started = False
        self._closed = False
        self._starting: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()  # clear while a start attempt is in flight
        self._settled.set()
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
    def connecting(self) -> bool:
        """True while a start attempt (``begin``, ``start`` or ``reconnect``) is in flight."""
        return not self._settled.is_set()

    @property
    def status(self) -> DbStatus:
        """``up``, ``degraded``, ``down`` or ``unknown`` (rules in the package docstring)."""
        if self._closed:
            return DbStatus.DOWN
        if not self._started or self.connecting:
            return DbStatus.UNKNOWN
        if self._pool is None:
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
        """Snapshot: status, mode, connecting, pool figures, acquire p95, last error, breaker."""
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
            "connecting": self.connecting,
            "pool": {"size": size, "idle": idle, "in_use": size - idle, "max": most},
            "acquire_wait_p95_ms": self.acquire_wait_p95_ms(),
            "last_error_kind": kind,
            "last_error": self._last_error,
            "error_kind": kind if status in (DbStatus.DOWN, DbStatus.DEGRADED) else None,
            "breaker": str(self.breaker.state),
            "next_attempt_at": (iso_utc(self._next_attempt_at)
                                if self._next_attempt_at and self._mode is DbMode.EMERGENCY
                                and self._recovery is not None else None),
        }

    # --- lifecycle ---------------------------------------------------------------------
    def begin(self) -> None:
        """Start connecting in the background (bounded by ``connect_timeout``); never raises.

        Does nothing while started (or starting); after ``close()`` it starts again.
        """
        if self._started and not self._closed:
            return
        self._started, self._closed = True, False
        self._settled.clear()
        self._starting = asyncio.get_running_loop().create_task(
            self._start_in_background(), name=f"netmon-db-start-{self.target.name}")
        self._refresh()

    async def ready(self) -> dict[str, Any]:
        """Wait until no start attempt is in flight; returns ``health()``."""
        await self._settled.wait()
        return self.health()

    async def start(self) -> dict[str, Any]:
        """``begin()`` and wait for the attempt (``ready()``); never raises.

        Returns ``health()``: normal, or emergency mode with the classified error.
        """
        self.begin()
        return await self.ready()

    async def reconnect(self) -> dict[str, Any]:
        """Recovery action: close the pool and connect again (bounded by ``connect_timeout``).

        Returns ``ok`` (whether the normal pool is in use afterwards: the emergency pool is
        not what a reconnect is for), ``before`` and ``after`` (the health), and when not ok
        the failed attempt's ``error_kind`` and ``error`` (one redacted line).
        """
        before = self.health()
        await self._cancel_start()
        async with self._lifecycle:
            await self._stop_locked()
            error = await self._start_locked()
            after = self.health()
            ok = self._pool is not None and self._mode is DbMode.NORMAL
        result: dict[str, Any] = {"ok": ok}
        if not ok:
            emergency = self._pool is not None
            kind, text = (self._explain(error) if error is not None
                          else (ErrorKind.UNKNOWN, "the normal pool did not open"
                                if emergency else "no pool after reconnecting"))
            if emergency:
                text = f"only the emergency pool opened: {text}"
            result.update(error_kind=str(kind), error=text)
        return {**result, "before": before, "after": after}

    async def close(self) -> None:
        """Stop connecting and recovering, close the pools, each bounded by ``close_timeout``."""
        await self._cancel_start()
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
        """Rows of ``query`` (retried under the ``query`` strategy), within ``timeout``."""
        result: list[Any] = await self._run("fetch", query, args, timeout, True)
        return result

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Any:
        """The first row of ``query`` or None (retried), within ``timeout``."""
        return await self._run("fetchrow", query, args, timeout, True)

    async def fetchval(self, query: str, *args: Any, timeout: float | None = None) -> Any:
        """The first value of the first row (retried), within ``timeout``."""
        return await self._run("fetchval", query, args, timeout, True)

    async def execute(
        self, query: str, *args: Any, timeout: float | None = None, idempotent: bool = False
    ) -> str:
        """Run a statement within ``timeout``; retried only when it is ``idempotent``."""
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
        budget = timeout if timeout is not None else self._settings().command_timeout
        return await self.breaker.call(self._guarded, method, query, args, budget, retry)

    async def _guarded(
        self, method: str, query: str, args: tuple[Any, ...], budget: float, retry: bool
    ) -> Any:
        """The operation, all of it (waiting for a start, attempts, retries) in ``budget`` s."""
        deadline = asyncio.get_running_loop().time() + budget
        try:
            if self.connecting:
                async with asyncio.timeout_at(deadline):
                    await self._settled.wait()
            if self._pool is None:  # emergency without a pool: fail fast, no retry
                raise self._unavailable()
            retrier = self._query if retry else self._once
            return await retrier.call_within(
                time_left(deadline), functools.partial(self._attempt, method, query, args))
        except TimeoutError as exc:
            error = _with_message(exc, f"no answer from the database within {budget:g}s")
            self._note_error(error)
            if error is exc:
                raise
            raise error from exc

    async def _attempt(
        self, method: str, query: str, args: tuple[Any, ...], deadline: float
    ) -> Any:
        pool = self._pool
        if pool is None:
            raise self._unavailable()
        try:
            return await run_on_pool(pool, method, query, args, deadline=deadline,
                                     acquire_timeout=self._settings().acquire_timeout,
                                     waits=self._waits)
        except Exception as exc:
            self._note_error(exc)
            raise

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
    def _settings(self) -> PoolSettings:
        return self._emergency if self._mode is DbMode.EMERGENCY else self._normal

    async def _start_in_background(self) -> None:
        try:
            async with self._lifecycle:
                await self._start_locked()
        finally:
            self._settled.set()  # also when cancelled before it got the lock

    async def _cancel_start(self) -> None:
        task, self._starting = self._starting, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _start_locked(self) -> Exception | None:
        """One bounded start attempt; installs its outcome. Returns the error, if any."""
        self._started, self._closed = True, False
        self._settled.clear()
        self._refresh()
        loop = asyncio.get_running_loop()
        try:
            deadline = loop.time() + self.connect_timeout
            pool, error = await self._try(self._normal, deadline, retrying=True)
            mode = DbMode.NORMAL if pool is not None else DbMode.EMERGENCY
            if (error is not None and not _is_dns(classify(error))
                    and loop.time() < deadline):
                pool, _ = await self._try_emergency(error, deadline)
        finally:
            self._settled.set()
        self._install(pool, mode)
        if mode is DbMode.EMERGENCY:
            self._recovery = loop.create_task(self._recover(self._plan(1, None)),
                                              name=f"netmon-db-recovery-{self.target.name}")
        return error

    async def _stop_locked(self) -> None:
        task, self._recovery = self._recovery, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._pool = None
        for pool in list(self._pools):
            await self._close_pool(pool)
        self._mode = DbMode.NORMAL

    async def _try(
        self, settings: PoolSettings, deadline: float, *, retrying: bool
    ) -> tuple[Any, Exception | None]:
        """Resolve, then create a pool, all before ``deadline`` (loop time).

        ``(pool, None)``, or ``(None, error)`` with the error noted.
        """
        budget = deadline - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout_at(deadline):
                await resolve(self.params, min(self.resolve_timeout, time_left(deadline)))
            opening = functools.partial(self._create_pool, settings)
            if retrying:
                return await self._connect.call_within(time_left(deadline), opening), None
            async with asyncio.timeout_at(deadline):
                return await opening(deadline), None
        except Exception as exc:
            where = f"{self.params.host}:{self.params.port}"
            error = _with_message(exc, f"no connection to {where} within {budget:.3g}s")
            self._note_error(error)
            return None, error

    async def _try_emergency(
        self, error: Exception, deadline: float
    ) -> tuple[Any, Exception | None]:
        """The emergency pool, after the normal pool failed with ``error``, before ``deadline``.

        When the server turned connections away (too many connections, cannot connect now)
        it is retried under the connect strategy in the time left: the server may still
        count the connections the failed normal pool has just closed (a backend ends a
        moment after its client closes), so a first attempt can lose that race. Otherwise
        one attempt of at most ``emergency_timeout`` seconds.
        """
        if turned_away(error):
            return await self._try(self._emergency, deadline, retrying=True)
        soon = asyncio.get_running_loop().time() + self._emergency.connect_timeout
        return await self._try(self._emergency, min(deadline, soon), retrying=False)

    async def _create_pool(self, settings: PoolSettings, deadline: float) -> Any:
        """One pool-creation attempt; the caller runs it under ``deadline``."""
        password = self.target.password.get()
        self._secret = password
        pool = await open_pool(self.params, sslmode=self.target.sslmode, password=password,
                               settings=settings)
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
        loop = asyncio.get_running_loop()
        attempt = 1
        while True:
            await self._wait(delay)
            pool, error = await self._try(self._normal, loop.time() + self.connect_timeout,
                                          retrying=False)
            if pool is not None:
                old = self._pool
                self._install(pool, DbMode.NORMAL)
                if old is not None:
                    await self._close_pool(old)
                return
            if self._pool is None and error is not None and not _is_dns(classify(error)):
                small, _ = await self._try_emergency(error, loop.time() + self.connect_timeout)
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
            await close_pool(pool, self.close_timeout)
        finally:
            self._pools.discard(pool)

    def _explain(self, exc: BaseException) -> tuple[ErrorKind, str]:
        """The kind and a one-line, redacted description of ``exc``."""
        text = describe(exc)
        if isinstance(exc, ResolutionError):
            text = f"cannot resolve {self.params.host}: {text}"
        if self._secret and len(self._secret) >= 3:
            text = text.replace(self._secret, "***")
        return classify(exc), " ".join(text.split())

    def _note_error(self, exc: BaseException) -> None:
        kind, text = self._explain(exc)
        if kind is ErrorKind.UNKNOWN:  # an SQL error says nothing about the database's health
            return
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


def _with_message(exc: Exception, message: str) -> Exception:
    """``exc``, or for a bare ``TimeoutError`` (asyncio's has no text) one that says what."""
    if isinstance(exc, TimeoutError) and not str(exc):
        return TimeoutError(message)
    return exc
