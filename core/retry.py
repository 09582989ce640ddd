"""The async retry loop: a backoff policy, a retry predicate, an overall deadline, an
optional circuit breaker, injected clock and RNG, and an event per attempt.

``STRATEGIES`` names the policies the rest of netmon uses: ``connect``, ``query``,
``auth`` and ``http``. ``resilient(breaker, "query")`` combines a breaker and a retry
strategy into one decorator a backend developer can put on a DB call or an endpoint.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import ParamSpec, TypeVar

from .backoff import Backoff, Jitter
from .breaker import CircuitBreaker
from .clock import Clock, SystemClock
from .config import RetrySettings
from .errors import NETWORK_KINDS, CircuitOpenError, ErrorKind, classify
from .events import Event

__all__ = [
    "RETRYABLE_KINDS",
    "STRATEGIES",
    "Retrier",
    "RetryAttempt",
    "RetryPolicy",
    "is_retryable",
    "policy_from_settings",
    "resilient",
    "strategy",
]

P = ParamSpec("P")
R = TypeVar("R")
_log = logging.getLogger("netmon.retry")

#: Retried by default: network kinds, never a refusal by our own breaker.
RETRYABLE_KINDS: frozenset[ErrorKind] = NETWORK_KINDS - {ErrorKind.CIRCUIT_OPEN}


def is_retryable(exc: BaseException) -> bool:
    """True when the default policy would retry ``exc``."""
    return classify(exc) in RETRYABLE_KINDS


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often, how far apart and for how long to retry."""

    name: str = "default"
    max_attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    attempt_timeout: float | None = None
    deadline: float | None = None
    retry_on: frozenset[ErrorKind] = RETRYABLE_KINDS

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


#: Named strategies. ``connect``: establishing connections (DNS flaps during VPN changes);
#: ``query``: reads on an established pool; ``auth``: token checks a user waits for;
#: ``http``: HTTP calls, which also retry 5xx answers.
STRATEGIES: dict[str, RetryPolicy] = {
    "connect": RetryPolicy(
        "connect", 5, Backoff(0.5, 2.0, 10.0, Jitter.FULL), attempt_timeout=10.0, deadline=60.0
    ),
    "query": RetryPolicy(
        "query", 3, Backoff(0.1, 2.0, 2.0, Jitter.EQUAL), attempt_timeout=30.0, deadline=45.0
    ),
    "auth": RetryPolicy(
        "auth", 3, Backoff(0.2, 2.0, 2.0, Jitter.FULL), attempt_timeout=5.0, deadline=10.0
    ),
    "http": RetryPolicy(
        "http", 5, Backoff(0.25, 2.0, 8.0, Jitter.DECORRELATED), attempt_timeout=15.0,
        deadline=60.0, retry_on=RETRYABLE_KINDS | {ErrorKind.HTTP_SERVER_ERROR},
    ),
}


def policy_from_settings(settings: RetrySettings, name: str = "connect") -> RetryPolicy:
    """The named strategy with attempts and backoff taken from the ``[retry]`` config."""
    return replace(
        strategy(name), max_attempts=settings.max_attempts,
        backoff=Backoff(settings.base_delay_s, 2.0, settings.max_delay_s,
                        Jitter(settings.jitter)),
    )


def strategy(name: str, **overrides: object) -> RetryPolicy:
    """A named strategy, optionally with fields replaced (``strategy("query", max_attempts=1)``)."""
    try:
        base = STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown retry strategy {name!r}; known: {sorted(STRATEGIES)}") from None
    return replace(base, **overrides)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class RetryAttempt:
    """One finished attempt, as emitted on ``Retrier.attempted``."""

    policy: str
    attempt: int
    max_attempts: int
    ok: bool
    error_kind: ErrorKind | None
    error: str | None
    delay: float | None  # seconds until the next attempt, None when none follows


class Retrier:
    """Runs a coroutine function under a ``RetryPolicy``, optionally through a breaker."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        breaker: CircuitBreaker | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.breaker = breaker
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.attempted: Event[RetryAttempt] = Event(f"retry.{self.policy.name}.attempted")

    async def call(
        self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Await ``fn`` until it succeeds, the predicate says stop, or attempts/time run out.

        The last error is re-raised (with a note of the attempts made); a breaker's
        refusal stops the loop at once.
        """
        policy = self.policy
        started = self.clock.monotonic() if policy.deadline is not None else 0.0
        previous_delay: float | None = None
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await self._attempt(fn, *args, **kwargs)
            except CircuitOpenError:
                raise
            except Exception as exc:
                remaining = (policy.deadline - (self.clock.monotonic() - started)
                             if policy.deadline is not None else None)
                delay = self._failed(exc, attempt, previous_delay, remaining)
                if delay is None:
                    raise
                previous_delay = delay
                await self.clock.sleep(delay)
                continue
            self._succeeded(attempt)
            return result

    async def call_within(self, budget: float, fn: Callable[[float], Awaitable[R]], /) -> R:
        """Await ``fn(deadline)`` under the policy, every attempt and wait inside ``budget`` s.

        ``deadline`` is on the event loop's clock (``loop.time()``), the clock I/O timeouts
        run on: ``fn`` bounds its own waits by it, and each attempt also runs under
        ``asyncio.timeout_at(deadline)`` (inside the breaker, which so sees a hang as a
        ``TimeoutError``). A retry is started only when, after its backoff wait, at least as
        much time is left as the failed attempt took. ``budget`` replaces the policy's
        ``attempt_timeout`` and ``deadline``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        previous_delay: float | None = None
        attempt = 0
        while True:
            attempt += 1
            began = loop.time()
            try:
                if self.breaker is None:
                    result = await _before(deadline, fn)
                else:
                    result = await self.breaker.call(_before, deadline, fn)
            except CircuitOpenError:
                raise
            except Exception as exc:
                now = loop.time()
                delay = self._failed(exc, attempt, previous_delay, deadline - now,
                                     needed=now - began)
                if delay is None:
                    raise
                previous_delay = delay
                await self.clock.sleep(delay)
                continue
            self._succeeded(attempt)
            return result

    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        """Decorate an async function so each call runs under this retrier."""

        @functools.wraps(fn)
        async def retried(*args: P.args, **kwargs: P.kwargs) -> R:
            return await self.call(fn, *args, **kwargs)

        return retried

    def _attempt(
        self, fn: Callable[P, Awaitable[R]], *args: P.args, **kwargs: P.kwargs
    ) -> Awaitable[R]:
        """The awaitable for one attempt: no extra coroutine layer when nothing wraps it.

        The attempt timeout sits *inside* the breaker, so a hang reaches the breaker as a
        ``TimeoutError`` (a failure), not as a cancellation (no verdict).
        """
        timeout = self.policy.attempt_timeout
        if self.breaker is None and timeout is None:
            return fn(*args, **kwargs)
        call: Callable[[], Awaitable[R]] = functools.partial(fn, *args, **kwargs)
        if timeout is not None:
            call = functools.partial(_bounded, call, timeout)
        if self.breaker is None:
            return call()
        return self.breaker.call(call)

    def _next_delay(
        self, kind: ErrorKind, attempt: int, previous: float | None, remaining: float | None,
        needed: float = 0.0,
    ) -> float | None:
        """The wait before the next attempt, or None when none should follow.

        None also when, after the wait, less than ``needed`` of ``remaining`` would be left.
        """
        policy = self.policy
        if attempt >= policy.max_attempts or kind not in policy.retry_on:
            return None
        delay = policy.backoff.delay(attempt, self.rng, previous)
        if remaining is not None and delay + needed >= remaining:
            return None
        return delay

    def _failed(
        self, exc: BaseException, attempt: int, previous: float | None,
        remaining: float | None, needed: float = 0.0,
    ) -> float | None:
        """Report a failed attempt: the wait before the next one, or None to give up.

        On None the caller re-raises ``exc`` (noted with the attempts made).
        """
        kind = classify(exc)
        delay = self._next_delay(kind, attempt, previous, remaining, needed)
        self._report(attempt, exc, kind, delay)
        if delay is None and attempt > 1:
            exc.add_note(f"netmon: gave up after {attempt} attempts ({self.policy.name})")
        return delay

    def _succeeded(self, attempt: int) -> None:
        if self.attempted:
            policy = self.policy
            self.attempted.emit(
                RetryAttempt(policy.name, attempt, policy.max_attempts, True, None, None, None)
            )

    def _report(
        self, attempt: int, exc: BaseException, kind: ErrorKind, delay: float | None
    ) -> None:
        policy = self.policy
        if delay is not None and _log.isEnabledFor(logging.INFO):
            _log.info(
                "RESILIENT: %s attempt %d/%d failed (%s); retrying in %.2fs",
                policy.name, attempt, policy.max_attempts, kind, delay,
            )
        if self.attempted:
            self.attempted.emit(
                RetryAttempt(policy.name, attempt, policy.max_attempts, False, kind,
                             f"{type(exc).__name__}: {exc}", delay)
            )


async def _bounded(call: Callable[[], Awaitable[R]], timeout: float) -> R:
    async with asyncio.timeout(timeout):
        return await call()


async def _before(deadline: float, fn: Callable[[float], Awaitable[R]]) -> R:
    async with asyncio.timeout_at(deadline):
        return await fn(deadline)


def resilient(
    breaker: CircuitBreaker | None,
    policy: RetryPolicy | str = "query",
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> Retrier:
    """A retrier through ``breaker`` with a named or given policy, usable as a decorator.

    >>> db = CircuitBreaker("db")
    >>> @resilient(db, "query")
    ... async def load_user(uid: int) -> dict: ...
    """
    chosen = strategy(policy) if isinstance(policy, str) else policy
    return Retrier(chosen, breaker=breaker, clock=clock or (breaker.clock if breaker else None),
                   rng=rng)
