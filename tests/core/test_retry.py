"""Backoff policies give exact delays with a seeded RNG; the retry loop's sleeps are asserted."""

from __future__ import annotations

import asyncio
import random

import pytest

from core.backoff import Backoff, Jitter
from core.breaker import CircuitBreaker
from core.errors import CircuitOpenError, ErrorKind, classify
from core.retry import STRATEGIES, Retrier, RetryAttempt, RetryPolicy, resilient, strategy
from core.testing import FakeClock, seeded_rng


def test_exponential_without_jitter_is_capped() -> None:
    b = Backoff(base=0.5, factor=2, cap=5, jitter=Jitter.NONE)
    assert [b.delay(n, random.Random(0)) for n in range(1, 7)] == [0.5, 1, 2, 4, 5, 5]
    assert b.exponential(10_000) == 5  # no OverflowError


@pytest.mark.parametrize("jitter", list(Jitter))
def test_jitter_is_exact_for_a_seed(jitter: Jitter) -> None:
    b = Backoff(base=1, factor=2, cap=30, jitter=jitter)
    expected_rng = random.Random(42)
    rng = random.Random(42)
    previous = None
    for n in range(1, 8):
        got = b.delay(n, rng, previous)
        exp = min(30.0, 2.0 ** (n - 1))
        match jitter:
            case Jitter.NONE:
                want = exp
            case Jitter.FULL:
                want = expected_rng.uniform(0, exp)
            case Jitter.EQUAL:
                want = exp / 2 + expected_rng.uniform(0, exp / 2)
            case Jitter.DECORRELATED:
                last = 1.0 if previous is None else previous
                want = min(30.0, expected_rng.uniform(1.0, max(1.0, last * 3)))
        assert got == want
        previous = got


def test_full_jitter_known_values() -> None:
    b = Backoff(base=1, factor=2, cap=30, jitter=Jitter.FULL)
    rng = seeded_rng(7)
    delays = [round(b.delay(n, rng), 6) for n in range(1, 5)]
    # fixed by the seed; recomputed independently with a fresh Random(7)
    check = random.Random(7)
    assert delays == [round(check.uniform(0, 2.0 ** (n - 1)), 6) for n in range(1, 5)]
    assert all(0 <= d <= 2.0 ** (n - 1) for n, d in enumerate(delays, 1))


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="factor"):
        Backoff(factor=0.5)
    with pytest.raises(ValueError, match="start at 1"):
        Backoff().delay(0, random.Random())


def flaky(failures: int, exc: BaseException | None = None):  # type: ignore[no-untyped-def]
    state = {"calls": 0}

    async def fn() -> str:
        state["calls"] += 1
        if state["calls"] <= failures:
            raise exc or ConnectionRefusedError(111, "Connection refused")
        return "done"

    return fn, state


async def test_retries_network_errors_with_recorded_sleeps() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=5, backoff=Backoff(0.5, 2, 30, Jitter.NONE))
    retrier = Retrier(policy, clock=clock, rng=seeded_rng())
    fn, state = flaky(3)
    assert await retrier.call(fn) == "done"
    assert state["calls"] == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]


async def test_jittered_sleeps_match_the_policy_for_the_seed() -> None:
    clock = FakeClock()
    backoff = Backoff(0.5, 2, 30, Jitter.EQUAL)
    retrier = Retrier(RetryPolicy(backoff=backoff), clock=clock, rng=seeded_rng(3))
    fn, _ = flaky(4)
    await retrier.call(fn)
    rng = seeded_rng(3)
    assert clock.sleeps == [backoff.delay(n, rng) for n in range(1, 5)]


async def test_gives_up_after_max_attempts_and_reraises_the_last_error() -> None:
    clock = FakeClock()
    retrier = Retrier(RetryPolicy(max_attempts=5, backoff=Backoff(1, 2, 30, Jitter.NONE)),
                      clock=clock)
    fn, state = flaky(99)
    with pytest.raises(ConnectionRefusedError) as info:
        await retrier.call(fn)
    assert state["calls"] == 5
    assert clock.sleeps == [1, 2, 4, 8]
    assert any("gave up after 5 attempts" in note for note in info.value.__notes__)


async def test_does_not_retry_application_errors() -> None:
    clock = FakeClock()
    retrier = Retrier(clock=clock)
    fn, state = flaky(1, ValueError("bad input"))
    with pytest.raises(ValueError, match="bad input"):
        await retrier.call(fn)
    assert state["calls"] == 1
    assert clock.sleeps == []


async def test_deadline_stops_before_a_sleep_that_would_pass_it() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=10, backoff=Backoff(1, 2, 60, Jitter.NONE), deadline=6)
    fn, state = flaky(99)
    with pytest.raises(ConnectionRefusedError):
        await Retrier(policy, clock=clock).call(fn)
    assert clock.sleeps == [1, 2]  # a third sleep of 4 s would end at 7 s > 6 s
    assert state["calls"] == 3


async def test_per_attempt_timeout_counts_as_a_retryable_timeout() -> None:
    clock = FakeClock()
    gate = asyncio.Event()
    calls = 0

    async def sometimes_hangs() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await gate.wait()  # never set: only the attempt timeout ends it
        return "second try"

    policy = RetryPolicy(max_attempts=3, backoff=Backoff(0, 2, 0, Jitter.NONE),
                         attempt_timeout=0.01)
    assert await Retrier(policy, clock=clock).call(sometimes_hangs) == "second try"
    assert calls == 2


async def test_breaker_rejection_stops_the_loop_at_once() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("db", clock=clock)
    retrier = Retrier(RetryPolicy(max_attempts=10, backoff=Backoff(0, 2, 0, Jitter.NONE)),
                      breaker=breaker, clock=clock)
    fn, state = flaky(99)
    with pytest.raises(CircuitOpenError):
        await retrier.call(fn)
    assert state["calls"] == 3  # the breaker opened after 3, the 4th attempt was refused
    assert len(clock.sleeps) == 3


async def test_an_event_per_attempt() -> None:
    clock = FakeClock()
    retrier = Retrier(RetryPolicy(name="query", backoff=Backoff(1, 2, 30, Jitter.NONE)),
                      clock=clock)
    seen: list[RetryAttempt] = []
    retrier.attempted.connect(seen.append)
    fn, _ = flaky(2)
    await retrier.call(fn)
    assert [(a.attempt, a.ok, a.error_kind, a.delay) for a in seen] == [
        (1, False, ErrorKind.CONNECTION_REFUSED, 1.0),
        (2, False, ErrorKind.CONNECTION_REFUSED, 2.0),
        (3, True, None, None),
    ]
    assert seen[0].policy == "query" and seen[0].max_attempts == 5


async def test_retry_attempts_are_logged_with_prefix(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="netmon.retry")
    fn, _ = flaky(1)
    await Retrier(clock=FakeClock()).call(fn)
    assert any(r.getMessage().startswith("RESILIENT: default attempt 1/5 failed "
                                         "(connection_refused)") for r in caplog.records)


def test_named_strategies() -> None:
    assert set(STRATEGIES) == {"connect", "query", "auth", "http"}
    assert STRATEGIES["connect"].max_attempts == 5
    assert strategy("query", max_attempts=1).max_attempts == 1
    with pytest.raises(ValueError, match="unknown retry strategy"):
        strategy("nope")


async def test_http_strategy_retries_5xx_but_default_does_not() -> None:
    import httpx

    request = httpx.Request("GET", "http://svc.test/")
    err = httpx.HTTPStatusError("503", request=request,
                                response=httpx.Response(503, request=request))
    assert classify(err) in STRATEGIES["http"].retry_on
    assert classify(err) not in RetryPolicy().retry_on


async def test_resilient_decorator_combines_breaker_and_retry() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("db", clock=clock)
    calls = 0

    @resilient(breaker, "query", rng=seeded_rng())
    async def load(uid: int) -> dict[str, int]:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionResetError(104, "Connection reset by peer")
        return {"id": uid}

    assert await load(7) == {"id": 7}
    assert calls == 3
    assert len(clock.sleeps) == 2  # the breaker's clock drives the retry sleeps
    assert breaker.stats().failures == 2 and breaker.state == "closed"


def test_policy_from_config_settings() -> None:
    from core.config import RetrySettings
    from core.retry import policy_from_settings

    policy = policy_from_settings(RetrySettings(max_attempts=7, base_delay_s=0.1,
                                                max_delay_s=3, jitter="equal"))
    assert policy.name == "connect"
    assert policy.max_attempts == 7
    assert policy.backoff == Backoff(0.1, 2.0, 3.0, Jitter.EQUAL)
    assert policy.deadline == STRATEGIES["connect"].deadline


async def test_attempt_timeouts_count_as_breaker_failures() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("slow", clock=clock, failure_threshold=2)
    never = asyncio.Event()

    async def hang() -> None:
        await never.wait()

    retrier = Retrier(RetryPolicy(max_attempts=5, backoff=Backoff(0, 2, 0, Jitter.NONE),
                                  attempt_timeout=0.01), breaker=breaker, clock=clock)
    with pytest.raises(CircuitOpenError):
        await retrier.call(hang)  # two timed-out attempts open it; the third is refused
    assert breaker.state == "open"
    assert breaker.stats().failures == 2


async def test_call_within_keeps_attempts_and_waits_inside_one_deadline() -> None:
    """A retry starts only if the failed attempt's duration still fits after the wait."""
    clock = FakeClock()
    policy = RetryPolicy("t", 5, Backoff(0.0, 2.0, 0.0, Jitter.NONE))
    retrier = Retrier(policy, clock=clock, rng=seeded_rng())
    loop = asyncio.get_running_loop()
    attempts: list[float] = []

    async def slow_failure(deadline: float) -> None:
        attempts.append(deadline - loop.time())
        await asyncio.sleep(0.15)  # the work of one attempt
        raise ConnectionResetError(104, "reset")

    with pytest.raises(ConnectionResetError) as err:
        await retrier.call_within(0.4, slow_failure)
    # 0.4 s: attempt 1 (0.15 s), attempt 2 (0.15 s); 0.1 s left < 0.15 s: no third attempt
    assert len(attempts) == 2
    assert attempts[0] == pytest.approx(0.4, abs=0.05)
    assert "gave up after 2 attempts" in " ".join(err.value.__notes__)

    never = asyncio.Event()

    async def hang(deadline: float) -> None:
        await never.wait()

    breaker = CircuitBreaker("dep", failure_threshold=1, clock=clock)
    bounded = Retrier(policy, breaker=breaker, clock=clock, rng=seeded_rng())
    started = loop.time()
    with pytest.raises(TimeoutError):
        await bounded.call_within(0.2, hang)
    assert 0.2 <= loop.time() - started < 0.5
    assert breaker.stats().state == "open"  # the hang reached the breaker as a timeout
