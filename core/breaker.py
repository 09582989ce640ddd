"""Circuit breaker: closed -> open after N consecutive failures -> half-open after a timeout.

Half-open admits exactly ``half_open_max_calls`` trial calls at once, whatever the number of
callers, without holding a lock across the guarded call (asyncio runs admission and
settlement atomically between awaits). A trial that never finishes is written off after
``max_half_open_wait`` seconds without progress, so it cannot leave the breaker stuck;
results of calls admitted under an earlier state are ignored (each state change starts
a new generation).

``async with breaker`` costs little more than the ``async with`` protocol itself (see
tests/benchmarks/bench_breaker.py): ``__aenter__``/``__aexit__`` are plain methods returning
already-finished awaitables (no coroutine per use), and the generation an entry was
admitted in is known without a per-entry record in the common case. Entries
without a record ("loose" entries) are only admitted while every loose entry in flight
belongs to the current generation, so all loose entries in flight share one generation.
Otherwise (a state change happened while loose entries were in flight, or the entry is
nested in a recorded entry of the same task) the entry's generation is kept in a context
variable (a ``_Permit``) until its exit. While the breaker is closed with no failure
streak and every entry in flight is loose (``_fast``), an entry and its successful exit only
count themselves, so ``async with`` stays close to the protocol's own cost.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import types
from collections.abc import Awaitable, Callable, Generator
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar, cast

from .clock import Cancellable, Clock, SystemClock
from .errors import NETWORK_KINDS, CircuitOpenError, ErrorKind, classify
from .events import Event

__all__ = [
    "BreakerState",
    "BreakerStats",
    "BreakerTransition",
    "CircuitBreaker",
    "counts_as_network_failure",
]

P = ParamSpec("P")
R = TypeVar("R")
_log = logging.getLogger("netmon.breaker")


class BreakerState(StrEnum):
    """Breaker states; ``forced_open`` is an open breaker held by hand until ``reset()``."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"


_CLOSED = BreakerState.CLOSED
_OPEN = BreakerState.OPEN
_HALF_OPEN = BreakerState.HALF_OPEN
_FORCED_OPEN = BreakerState.FORCED_OPEN


@dataclass(frozen=True, slots=True)
class BreakerTransition:
    """One state change, as emitted on ``CircuitBreaker.state_changed``."""

    breaker: str
    old: BreakerState
    new: BreakerState
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class BreakerStats:
    """A snapshot of a breaker (the ``breakers`` entries of the status snapshot)."""

    name: str
    state: BreakerState
    consecutive_failures: int
    failure_threshold: int
    reset_timeout_s: float
    opened_at: datetime | None
    retry_at: datetime | None
    calls: int
    failures: int
    rejected: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form with ISO timestamps."""
        opened_at, retry_at = self.opened_at, self.retry_at
        return {  # the fields in order, as dataclasses.asdict (a deep copy: ~10x slower)
            "name": self.name,
            "state": str(self.state),
            "consecutive_failures": self.consecutive_failures,
            "failure_threshold": self.failure_threshold,
            "reset_timeout_s": self.reset_timeout_s,
            "opened_at": opened_at.isoformat().replace("+00:00", "Z") if opened_at else None,
            "retry_at": retry_at.isoformat().replace("+00:00", "Z") if retry_at else None,
            "calls": self.calls,
            "failures": self.failures,
            "rejected": self.rejected,
        }


_NOT_NETWORK_FAILURE = frozenset({ErrorKind.CIRCUIT_OPEN})
_REJECTED = -1  # what _admit() returns instead of a generation (generations start at 0)
_INF = float("inf")


class _Permit:
    """The generation of one recorded ``async with`` entry, kept in a context variable.

    ``live`` is cleared at its exit: a child task inherits its parent's context, so it may
    still see the permit after the parent's block has ended.
    """

    __slots__ = ("gen", "live", "token")

    def __init__(self, gen: int) -> None:
        self.gen = gen
        self.live = True
        self.token: Token[_Permit | None] | None = None


def _never_suspends() -> Generator[None, None, None]:
    return
    yield  # makes it a generator


def _finished_awaitable() -> Awaitable[None]:
    """A reusable awaitable that returns None at once, with no coroutine or allocation.

    It is an exhausted generator-based coroutine: ``await`` sends to it, and sending to a
    finished generator raises StopIteration (a finished ``async def`` coroutine would raise
    RuntimeError instead).
    """
    gen = cast(Generator[None, None, None], types.coroutine(_never_suspends)())
    for _ in gen:  # run it to its end once
        pass
    return cast(Awaitable[None], gen)


_FINISHED = _finished_awaitable()


def _finished_future(value: R) -> asyncio.Future[R]:
    """A finished future: awaiting it returns ``value`` at once, without a coroutine."""
    future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


def counts_as_network_failure(exc: BaseException) -> bool:
    """Default failure rule: only network kinds trip a breaker (not ValueError, not 4xx)."""
    kind = classify(exc)
    return kind in NETWORK_KINDS and kind not in _NOT_NETWORK_FAILURE


class CircuitBreaker:
    """Guards calls to one dependency; use ``async with``, ``await call(...)`` or decorate."""

    # slots: the hot paths read and write a dozen attributes per call, and an instance dict
    # with this many keys is no longer a shared-key dict (slower attribute access)
    __slots__ = (
        "__weakref__", "_calls", "_consecutive_failures", "_entered", "_failures", "_fast",
        "_gen", "_half_open_successes", "_half_open_timer", "_last_trial_progress",
        "_loose_gen", "_loose_in", "_loose_out", "_monotonic", "_open_until", "_opened_at",
        "_permits", "_recorded", "_rejected", "_resets", "_retry_at", "_state",
        "_trials_in_flight", "clock", "failure_threshold", "half_open_max_calls", "is_failure",
        "max_half_open_wait", "name", "rejected", "reset_timeout", "state_changed",
        "success_threshold",
    )

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 3,
        reset_timeout: float = 30.0,
        half_open_max_calls: int = 1,
        success_threshold: int = 1,
        max_half_open_wait: float | None = None,
        is_failure: Callable[[BaseException], bool] = counts_as_network_failure,
        clock: Clock | None = None,
    ) -> None:
        if failure_threshold < 1 or half_open_max_calls < 1 or success_threshold < 1:
            raise ValueError("thresholds and half_open_max_calls must be at least 1")
        if reset_timeout < 0:
            raise ValueError("reset_timeout must not be negative")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.half_open_max_calls = half_open_max_calls
        self.success_threshold = success_threshold
        self.max_half_open_wait = (
            max_half_open_wait if max_half_open_wait is not None else max(reset_timeout, 1.0)
        )
        self.is_failure = is_failure
        self.clock: Clock = clock or SystemClock()
        self._monotonic = self.clock.monotonic
        self.state_changed: Event[BreakerTransition] = Event(f"{name}.state_changed")
        self.rejected: Event[CircuitOpenError] = Event(f"{name}.rejected")

        self._state = _CLOSED
        self._gen = 0
        self._consecutive_failures = 0
        self._half_open_successes = 0
        self._trials_in_flight = 0
        self._last_trial_progress = 0.0
        self._open_until = 0.0
        self._half_open_timer: Cancellable | None = None
        self._opened_at: datetime | None = None
        self._retry_at: datetime | None = None
        self._calls = 0
        self._failures = 0
        self._rejected = 0
        self._resets = 0  # times a failure streak was cleared (see ``changes``)
        # `async with` bookkeeping (see the module docstring)
        self._permits: ContextVar[_Permit | None] = ContextVar(f"breaker:{name}")
        self._recorded = 0  # entries in flight with a live _Permit
        self._loose_in = 0  # entries without one, ever (counted as calls; not in _calls) ...
        self._loose_out = 0  # ... and their exits: the difference is in flight ...
        self._loose_gen = 0  # ... all admitted in this generation (the current one if none)
        self._entered: asyncio.Future[CircuitBreaker] | None = None  # what __aenter__ returns
        # closed, no failure streak, no stale loose entry, no permit, _entered made: the
        # cheap path of async with is exact (only counts a loose entry and its exit)
        self._fast = False

    # --- public API --------------------------------------------------------------------
    @property
    def state(self) -> BreakerState:
        """The current state (an expired open state reads as half-open)."""
        if self._state is _OPEN and self._monotonic() >= self._open_until:
            self._enter_half_open("reset timeout elapsed")
        return self._state

    @property
    def changes(self) -> int:
        """A number that grows whenever anything ``stats()`` reports changes.

        It is the sum of counters that only grow (calls, failures, rejections, state
        changes, cleared failure streaks), so reading it costs the hot paths nothing:
        while it holds still, the last ``stats()`` is still true. (The thresholds are
        plain attributes; a caller that caches must compare them too.)
        """
        _ = self.state  # an expired open state turns half-open on reading
        return (self._calls + self._loose_in + self._failures + self._rejected + self._gen
                + self._resets)

    def stats(self) -> BreakerStats:
        """Counters and timestamps for the status snapshot."""
        state = self.state
        return BreakerStats(
            name=self.name,
            state=state,
            consecutive_failures=self._consecutive_failures,
            failure_threshold=self.failure_threshold,
            reset_timeout_s=self.reset_timeout,
            opened_at=self._opened_at,
            retry_at=self._retry_at if state in (_OPEN, _FORCED_OPEN) else None,
            calls=self._calls + self._loose_in,
            failures=self._failures,
            rejected=self._rejected,
        )

    async def call(self, fn: Callable[..., Awaitable[R]], /, *args: Any) -> R:
        """Await ``fn(*args)`` if the breaker admits it, recording the outcome.

        Positional arguments only (the hot path builds no kwargs dict); use
        ``functools.partial`` or the decorator for keyword arguments.
        """
        if self._state is _CLOSED:  # fast path: no clock read, no allocation
            self._calls += 1
            gen = self._gen
        else:
            state = self._state  # rejections are hot too: no call before deciding one
            if state is _OPEN:
                wait = self._open_until - self._monotonic()
                if wait > 0.0:
                    raise self._reject(wait)
            elif state is _FORCED_OPEN:
                raise self._reject(_INF)
            gen = self._admit()
            if gen == _REJECTED:
                raise self._reject(self._retry_after())
            self._calls += 1
        try:
            result = await fn(*args)
        except BaseException as exc:
            self._settle_error(gen, exc)
            raise
        if self._state is _CLOSED:  # a success while closed always clears the count
            if self._consecutive_failures:
                self._clear_streak()
        else:
            self._settle_success(gen)
        return result

    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        """Decorate an async function so every call goes through this breaker."""

        @functools.wraps(fn)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            if kwargs:
                return await self.call(functools.partial(fn, *args, **kwargs))
            return await self.call(fn, *args)

        return guarded

    def __aenter__(self) -> Awaitable[CircuitBreaker]:
        if self._fast:
            self._loose_in += 1
            return self._entered  # type: ignore[return-value]  # set while _fast
        state = self._state  # as in call()
        if state is _OPEN:
            wait = self._open_until - self._monotonic()
            if wait > 0.0:
                raise self._reject(wait)
        elif state is _FORCED_OPEN:
            raise self._reject(_INF)
        gen = self._admit()
        if gen == _REJECTED:
            raise self._reject(self._retry_after())
        if self._loose_gen == gen and not (self._recorded and self._live_permit()):
            self._loose_in += 1
        else:
            self._calls += 1
            permit = _Permit(gen)
            permit.token = self._permits.set(permit)
            self._recorded += 1
            self._fast = False
        return self._entered or self._first_entry()

    def __aexit__(
        self, exc_type: object, exc: BaseException | None, tb: object
    ) -> Awaitable[None]:
        if exc is None and self._fast:  # a success of a loose entry, closed, no streak
            self._loose_out += 1
            return _FINISHED
        permit = self._live_permit() if self._recorded else None
        if permit is None:
            self._loose_out += 1
            gen = self._loose_gen
            if self._loose_out == self._loose_in and gen != self._gen:  # the last stale one
                self._loose_gen = self._gen
                self._refresh_fast()
        else:
            permit.live = False
            self._recorded -= 1
            if permit.token is not None:
                self._permits.reset(permit.token)
            self._refresh_fast()
            gen = permit.gen
        if exc is None:
            self._settle_success(gen)
        else:
            self._settle_error(gen, exc)
        return _FINISHED

    def reset(self) -> BreakerState:
        """Close the breaker by hand; returns the state it had."""
        old = self.state
        self._consecutive_failures = 0
        self._transition(_CLOSED, "reset by hand")
        return old

    def force_open(self) -> BreakerState:
        """Open the breaker by hand until ``reset()``; returns the state it had."""
        old = self.state
        self._opened_at = self.clock.now()
        self._retry_at = None
        self._transition(_FORCED_OPEN, "forced open by hand")
        return old

    def probe_succeeded(self) -> None:
        """A health probe of this dependency succeeded.

        Closed: the failure streak ends. Open: half-open at once (the dependency answers, so
        trial calls need not wait for the timeout). Half-open: counts toward
        ``success_threshold`` like a successful trial call. Forced open: nothing.
        """
        state = self.state
        if state is _CLOSED:
            self._clear_streak()
        elif state is _OPEN:
            self._enter_half_open("health probe succeeded")
        elif state is _HALF_OPEN:
            self._half_open_success("health probe succeeded")

    def probe_failed(self, kind: ErrorKind) -> None:
        """A health probe of this dependency failed with ``kind``.

        Network kinds count like a failed call: ``failure_threshold`` in a row open a closed
        breaker, one reopens a half-open one. Probes are never rejected (they are how
        recovery is noticed), so an open breaker only keeps its timer.
        """
        if kind not in NETWORK_KINDS or kind in _NOT_NETWORK_FAILURE:
            return
        state = self.state
        if state not in (_CLOSED, _HALF_OPEN):
            return
        self._failures += 1
        self._consecutive_failures += 1
        self._fast = False
        if state is _HALF_OPEN:
            self._open(f"health probe failed ({kind})")
        elif self._consecutive_failures >= self.failure_threshold:
            self._open(f"{self._consecutive_failures} consecutive failures "
                       f"(last: {kind}, seen by the health probe)")

    # --- state machine -----------------------------------------------------------------
    def _admit(self) -> int:
        """Admit a call outside the closed fast path: its generation, or ``_REJECTED``.

        The caller counts the call (in ``_calls`` or ``_loose_in``)."""
        state = self._state
        if state is _OPEN:
            if self._monotonic() < self._open_until:
                return _REJECTED
            self._enter_half_open("reset timeout elapsed")
            state = self._state
        if state is _HALF_OPEN:
            now = self._monotonic()
            if self._trials_in_flight and now - self._last_trial_progress > self.max_half_open_wait:
                self._open(f"trial call did not finish within {self.max_half_open_wait:g}s")
            elif self._trials_in_flight < self.half_open_max_calls:
                self._trials_in_flight += 1
                self._last_trial_progress = now
                return self._gen
        elif state is _CLOSED:  # a state-changed receiver may have closed it
            return self._gen
        return _REJECTED

    def _first_entry(self) -> asyncio.Future[CircuitBreaker]:
        self._entered = entered = _finished_future(self)
        self._refresh_fast()
        return entered

    def _refresh_fast(self) -> None:
        self._fast = (
            self._state is _CLOSED and not self._consecutive_failures
            and self._loose_gen == self._gen and not self._recorded
            and self._entered is not None
        )

    def _live_permit(self) -> _Permit | None:
        """This task's innermost ``async with`` permit, if its block has not ended."""
        permit = self._permits.get(None)
        return permit if permit is not None and permit.live else None

    def _retry_after(self) -> float:
        if self._state is _FORCED_OPEN:
            return _INF
        return max(0.0, self._open_until - self._monotonic())

    def _reject(self, retry_after: float) -> CircuitOpenError:
        self._rejected += 1
        error = CircuitOpenError(self.name, self._retry_at, retry_after)
        if self.rejected._receivers:  # Event.__bool__ would cost a Python call per rejection
            self.rejected.emit(error)
        return error

    def _settle_success(self, gen: int) -> None:
        if gen != self._gen:
            return
        if self._state is _CLOSED:
            self._clear_streak()
        elif self._state is _HALF_OPEN:
            self._trials_in_flight -= 1
            self._last_trial_progress = self._monotonic()
            self._half_open_success("trial call succeeded")

    def _clear_streak(self) -> None:
        if self._consecutive_failures:
            self._consecutive_failures = 0
            self._resets += 1
            self._refresh_fast()

    def _half_open_success(self, reason: str) -> None:
        self._half_open_successes += 1
        if self._half_open_successes >= self.success_threshold:
            self._consecutive_failures = 0
            self._transition(_CLOSED, reason)

    def _settle_error(self, gen: int, exc: BaseException) -> None:
        if not isinstance(exc, Exception):  # cancelled, Ctrl+C, exit: nothing answered
            if gen == self._gen and self._state is _HALF_OPEN:
                self._trials_in_flight -= 1  # no verdict: free the slot
            return
        if not self.is_failure(exc):
            self._settle_success(gen)
            return
        self._failures += 1
        if gen != self._gen:
            return
        self._consecutive_failures += 1
        self._fast = False
        if self._state is _HALF_OPEN:
            self._open(f"trial call failed ({classify(exc)})")
        elif self._state is _CLOSED and self._consecutive_failures >= self.failure_threshold:
            self._open(
                f"{self._consecutive_failures} consecutive failures (last: {classify(exc)})"
            )

    def _open(self, reason: str) -> None:
        self._open_until = self._monotonic() + self.reset_timeout
        self._opened_at = self.clock.now()
        self._retry_at = self._opened_at + timedelta(seconds=self.reset_timeout)
        self._transition(_OPEN, reason)
        try:  # announce half-open when it is due, not only when someone reads the state
            self._half_open_timer = self.clock.call_later(self.reset_timeout, self._half_open_due)
        except RuntimeError:  # no running loop (opened from plain code): read-time only
            self._half_open_timer = None

    def _half_open_due(self) -> None:
        self._half_open_timer = None
        _ = self.state  # reading an expired open state moves it to half-open (and emits)

    def _enter_half_open(self, reason: str) -> None:
        self._last_trial_progress = self._monotonic()
        self._trials_in_flight = 0
        self._half_open_successes = 0
        self._transition(_HALF_OPEN, reason)

    def _transition(self, new: BreakerState, reason: str) -> None:
        old = self._state
        self._state = new
        self._gen += 1
        if self._loose_in == self._loose_out:
            self._loose_gen = self._gen
        self._refresh_fast()
        if self._half_open_timer is not None and new is not _OPEN:
            self._half_open_timer.cancel()
            self._half_open_timer = None
        if new is _CLOSED:
            self._opened_at = None
            self._retry_at = None
        if old is new:
            return
        level = logging.WARNING if new in (_OPEN, _FORCED_OPEN) else logging.INFO
        _log.log(level, "CIRCUIT BREAKER: '%s' %s -> %s: %s", self.name, old, new, reason)
        self.state_changed.emit(BreakerTransition(self.name, old, new, reason, self.clock.now()))
