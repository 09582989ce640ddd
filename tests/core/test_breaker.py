"""Circuit breaker state machine on a FakeClock: no test sleeps for a timeout."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import traceback
import tracemalloc
from collections.abc import Awaitable, Callable

import pytest

from core.breaker import BreakerState, BreakerStats, BreakerTransition, CircuitBreaker
from core.errors import CircuitOpenError
from core.testing import FakeClock

S = BreakerState


async def refuse() -> None:
    raise ConnectionRefusedError(111, "Connection refused")


async def ok() -> str:
    return "ok"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("db", clock=clock)


async def trip(breaker: CircuitBreaker, times: int = 3) -> None:
    for _ in range(times):
        with pytest.raises(ConnectionRefusedError):
            await breaker.call(refuse)


async def test_opens_after_three_consecutive_network_failures(breaker: CircuitBreaker) -> None:
    await trip(breaker, 2)
    assert breaker.state is S.CLOSED
    assert breaker.stats().consecutive_failures == 2
    await trip(breaker, 1)
    assert breaker.state is S.OPEN
    stats = breaker.stats()
    assert (stats.calls, stats.failures, stats.consecutive_failures) == (3, 3, 3)
    assert stats.opened_at is not None and stats.retry_at is not None
    assert (stats.retry_at - stats.opened_at).total_seconds() == 30.0


async def test_success_resets_the_consecutive_count(breaker: CircuitBreaker) -> None:
    await trip(breaker, 2)
    assert await breaker.call(ok) == "ok"
    await trip(breaker, 2)
    assert breaker.state is S.CLOSED


async def test_open_rejects_without_calling(breaker: CircuitBreaker, clock: FakeClock) -> None:
    await trip(breaker)
    called = 0

    async def guarded() -> None:
        nonlocal called
        called += 1

    clock.advance(10)
    with pytest.raises(CircuitOpenError) as info:
        await breaker.call(guarded)
    assert called == 0
    assert info.value.breaker == "db"
    assert info.value.retry_after == pytest.approx(20.0)
    assert info.value.retry_at == breaker.stats().retry_at
    assert breaker.stats().rejected == 1


async def test_half_open_after_reset_timeout_then_closes(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    await trip(breaker)
    clock.advance(29.9)
    assert breaker.state is S.OPEN
    clock.advance(0.1)
    assert breaker.state is S.HALF_OPEN
    assert await breaker.call(ok) == "ok"
    assert breaker.state is S.CLOSED
    assert breaker.stats().consecutive_failures == 0


async def test_failed_trial_reopens_for_a_full_timeout(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    await trip(breaker)
    clock.advance(30)
    await trip(breaker, 1)
    assert breaker.state is S.OPEN
    clock.advance(29)
    assert breaker.state is S.OPEN
    clock.advance(1)
    assert breaker.state is S.HALF_OPEN


async def test_non_network_errors_do_not_trip(breaker: CircuitBreaker) -> None:
    async def bad_value() -> None:
        raise ValueError("application bug")

    for _ in range(10):
        with pytest.raises(ValueError, match="application bug"):
            await breaker.call(bad_value)
    assert breaker.state is S.CLOSED
    assert breaker.stats().failures == 0


async def test_failure_rule_is_configurable(clock: FakeClock) -> None:
    breaker = CircuitBreaker("strict", clock=clock, failure_threshold=2,
                             is_failure=lambda exc: True)

    async def bad_value() -> None:
        raise ValueError("x")

    for _ in range(2):
        with pytest.raises(ValueError, match="x"):
            await breaker.call(bad_value)
    assert breaker.state is S.OPEN


async def test_success_threshold_needs_that_many_trials(clock: FakeClock) -> None:
    breaker = CircuitBreaker("api", clock=clock, success_threshold=2)
    await trip(breaker)
    clock.advance(30)
    await breaker.call(ok)
    assert breaker.state is S.HALF_OPEN
    await breaker.call(ok)
    assert breaker.state is S.CLOSED


async def test_async_with_and_decorator(breaker: CircuitBreaker, clock: FakeClock) -> None:
    for _ in range(3):
        with pytest.raises(ConnectionResetError):
            async with breaker:
                raise ConnectionResetError(104, "Connection reset by peer")
    assert breaker.state is S.OPEN
    with pytest.raises(CircuitOpenError):
        async with breaker:
            pytest.fail("body must not run while open")
    clock.advance(30)

    @breaker
    async def fetch(x: int) -> int:
        return x * 2

    assert fetch.__name__ == "fetch"
    assert await fetch(21) == 42
    assert breaker.state is S.CLOSED


async def test_manual_reset_and_force_open(breaker: CircuitBreaker, clock: FakeClock) -> None:
    await trip(breaker)
    assert breaker.reset() is S.OPEN
    assert breaker.state is S.CLOSED
    assert breaker.force_open() is S.CLOSED
    clock.advance(3600)
    assert breaker.state is S.FORCED_OPEN  # never half-opens by itself
    with pytest.raises(CircuitOpenError) as info:
        await breaker.call(ok)
    assert info.value.retry_after == float("inf")
    breaker.reset()
    assert await breaker.call(ok) == "ok"


async def test_events_on_transitions_and_rejections(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    transitions: list[BreakerTransition] = []
    rejections: list[CircuitOpenError] = []
    breaker.state_changed.connect(transitions.append)
    breaker.rejected.connect(rejections.append)
    await trip(breaker)
    with pytest.raises(CircuitOpenError):
        await breaker.call(ok)
    clock.advance(30)
    await breaker.call(ok)
    assert [(t.old, t.new) for t in transitions] == [
        (S.CLOSED, S.OPEN), (S.OPEN, S.HALF_OPEN), (S.HALF_OPEN, S.CLOSED)]
    assert "3 consecutive failures" in transitions[0].reason
    assert "connection_refused" in transitions[0].reason
    assert transitions[0].at == clock.now() - __import__("datetime").timedelta(seconds=30)
    assert len(rejections) == 1


async def test_transition_is_logged_with_prefix(
    breaker: CircuitBreaker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="netmon.breaker")
    await trip(breaker)
    assert any(r.getMessage().startswith("CIRCUIT BREAKER: 'db' closed -> open")
               for r in caplog.records)


async def test_stale_results_from_before_opening_are_ignored(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    gate = asyncio.Event()

    async def slow_ok() -> str:
        await gate.wait()
        return "late"

    slow = asyncio.create_task(breaker.call(slow_ok))
    await asyncio.sleep(0)
    await trip(breaker)
    clock.advance(30)
    assert breaker.state is S.HALF_OPEN
    gate.set()
    assert await slow == "late"
    # the late success was admitted while closed: it is no half-open trial
    assert breaker.state is S.HALF_OPEN


async def test_stuck_trial_cannot_leave_it_half_open(clock: FakeClock) -> None:
    breaker = CircuitBreaker("api", clock=clock, max_half_open_wait=10)
    await trip(breaker)
    clock.advance(30)
    never = asyncio.Event()

    async def hang() -> None:
        await never.wait()

    stuck = asyncio.create_task(breaker.call(hang))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpenError):
        await breaker.call(ok)  # the one slot is taken
    clock.advance(11)
    with pytest.raises(CircuitOpenError):
        await breaker.call(ok)  # stuck trial written off: open again for a full timeout
    assert breaker.state is S.OPEN
    clock.advance(30)
    assert await breaker.call(ok) == "ok"
    assert breaker.state is S.CLOSED
    stuck.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stuck
    assert breaker.state is S.CLOSED


async def test_cancelled_trial_frees_its_slot(breaker: CircuitBreaker, clock: FakeClock) -> None:
    await trip(breaker)
    clock.advance(30)
    never = asyncio.Event()

    async def hang() -> None:
        await never.wait()

    task = asyncio.create_task(breaker.call(hang))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state is S.HALF_OPEN
    assert await breaker.call(ok) == "ok"


async def test_probe_success_moves_open_to_half_open_early(
    breaker: CircuitBreaker,
) -> None:
    await trip(breaker)
    breaker.probe_succeeded()
    assert breaker.state is S.HALF_OPEN


@pytest.mark.parametrize("max_calls", [1, 3])
async def test_half_open_admits_exactly_max_calls_under_a_stampede(
    clock: FakeClock, max_calls: int
) -> None:
    breaker = CircuitBreaker("api", clock=clock, half_open_max_calls=max_calls,
                             success_threshold=max_calls)
    for _round in range(100):
        await trip(breaker)
        clock.advance(30)
        entered = 0
        release = asyncio.Event()

        async def guarded(gate: asyncio.Event = release) -> None:
            nonlocal entered
            entered += 1
            await gate.wait()

        tasks = [asyncio.create_task(breaker.call(guarded)) for _ in range(1000)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert entered == max_calls
        release.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        rejected = sum(isinstance(r, CircuitOpenError) for r in results)
        assert rejected == 1000 - max_calls
        assert entered == max_calls
        assert breaker.state is S.CLOSED


async def test_rejections_keep_memory_and_tracebacks_flat(breaker: CircuitBreaker) -> None:
    await trip(breaker)

    async def reject_many(n: int) -> int:
        last: CircuitOpenError | None = None
        for _ in range(n):
            try:
                await breaker.call(ok)
            except CircuitOpenError as exc:
                last = exc
        assert last is not None
        return len(traceback.extract_tb(last.__traceback__))

    first_depth = await reject_many(1000)
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        last_depth = await reject_many(100_000)
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert last_depth == first_depth
    assert after - before < 64 * 1024, f"grew by {after - before} bytes over 100k rejections"
    assert breaker.stats().rejected == 101_000


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CircuitBreaker("x", failure_threshold=0)
    with pytest.raises(ValueError, match="negative"):
        CircuitBreaker("x", reset_timeout=-1)


async def test_stats_as_dict_is_json_ready(breaker: CircuitBreaker) -> None:
    await trip(breaker)
    data = breaker.stats().as_dict()
    assert data["state"] == "open"
    assert data["opened_at"].endswith("Z") and data["retry_at"].endswith("Z")
    assert data["failure_threshold"] == 3 and data["reset_timeout_s"] == 30.0


def _asdict_form(stats: BreakerStats) -> dict[str, object]:
    """What ``as_dict`` gave when it was ``dataclasses.asdict`` plus the conversions."""
    out = dataclasses.asdict(stats)
    out["state"] = str(stats.state)
    for key in ("opened_at", "retry_at"):
        out[key] = out[key].isoformat().replace("+00:00", "Z") if out[key] else None
    return out


async def test_stats_as_dict_keeps_the_fields_values_and_order_of_asdict(
        breaker: CircuitBreaker) -> None:
    seen = [breaker.stats()]
    await trip(breaker)
    seen.append(breaker.stats())
    breaker.force_open()
    seen.append(breaker.stats())
    breaker.reset()
    seen.append(breaker.stats())
    for stats in seen:
        data = stats.as_dict()
        assert list(data.items()) == list(_asdict_form(stats).items()), stats


async def test_half_open_is_announced_when_due_without_any_read(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    seen: list[BreakerTransition] = []
    await trip(breaker)
    breaker.state_changed.connect(seen.append)
    clock.advance(29)
    assert seen == []
    clock.advance(1)  # nobody reads breaker.state: the timer announces it
    assert [(t.old, t.new) for t in seen] == [(S.OPEN, S.HALF_OPEN)]
    breaker.reset()
    await trip(breaker)
    breaker.reset()  # a reset cancels the pending announcement
    assert clock.pending_timers == 0


# --- `async with breaker`: the same guarantees as `call` ----------------------------------
async def test_async_with_returns_the_breaker_and_does_not_swallow_errors(
    breaker: CircuitBreaker,
) -> None:
    async with breaker as entered:
        assert entered is breaker
    with pytest.raises(ValueError, match="boom"):
        async with breaker:
            raise ValueError("boom")
    assert breaker.stats().calls == 2 and breaker.state is S.CLOSED


@pytest.mark.parametrize("max_calls", [1, 3])
async def test_async_with_admits_exactly_max_calls_under_a_stampede(
    clock: FakeClock, max_calls: int
) -> None:
    breaker = CircuitBreaker("api", clock=clock, half_open_max_calls=max_calls,
                             success_threshold=max_calls)
    for _round in range(20):
        await trip(breaker)
        clock.advance(30)
        entered = 0
        release = asyncio.Event()

        async def guarded(gate: asyncio.Event = release) -> None:
            nonlocal entered
            async with breaker:
                entered += 1
                await gate.wait()

        tasks = [asyncio.create_task(guarded()) for _ in range(300)]
        await asyncio.sleep(0)
        assert entered == max_calls
        release.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert sum(isinstance(r, CircuitOpenError) for r in results) == 300 - max_calls
        assert breaker.state is S.CLOSED


async def test_async_with_ignores_stale_results(breaker: CircuitBreaker, clock: FakeClock) -> None:
    gate = asyncio.Event()

    async def slow(outcome: BaseException | None) -> None:
        async with breaker:
            await gate.wait()
            if outcome is not None:
                raise outcome

    late = [asyncio.create_task(slow(None)) for _ in range(3)]
    late_failure = asyncio.create_task(slow(ConnectionResetError(104, "reset")))
    await asyncio.sleep(0)
    await trip(breaker)
    clock.advance(30)
    assert breaker.state is S.HALF_OPEN
    trial_gate = asyncio.Event()

    async def trial() -> None:
        async with breaker:
            await trial_gate.wait()

    trial_task = asyncio.create_task(trial())
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpenError):  # the one trial slot is taken
        async with breaker:
            pass
    gate.set()  # the calls admitted while closed finish now: none of them is a trial
    await asyncio.gather(*late)
    with pytest.raises(ConnectionResetError):
        await late_failure
    assert breaker.state is S.HALF_OPEN
    with pytest.raises(CircuitOpenError):  # and they did not free the trial's slot
        async with breaker:
            pass
    trial_gate.set()
    await trial_task
    assert breaker.state is S.CLOSED


async def test_async_with_cancelled_trial_frees_its_slot(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    await trip(breaker)
    clock.advance(30)
    never = asyncio.Event()

    async def hang() -> None:
        async with breaker:
            await never.wait()

    task = asyncio.create_task(hang())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state is S.HALF_OPEN
    async with breaker:
        pass
    assert breaker.state is S.CLOSED


async def test_async_with_mixed_generations_nested_and_in_child_tasks(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    """Entries from before and after a transition, nested, in child tasks and in an
    AsyncExitStack: each exit is judged by the state its own entry was admitted in."""
    from contextlib import AsyncExitStack

    gate = asyncio.Event()
    inner_ready = asyncio.Event()

    async def closed_entry() -> None:
        async with breaker:  # admitted while closed
            await gate.wait()

    stale = asyncio.create_task(closed_entry())
    await asyncio.sleep(0)
    await trip(breaker)
    clock.advance(30)
    assert breaker.state is S.HALF_OPEN

    async def child() -> None:  # created inside the trial: inherits its context
        inner_ready.set()
        await gate.wait()
        async with breaker:  # the trial's slot is still taken
            pytest.fail("a child task must not share its parent's trial")

    async with AsyncExitStack() as stack:
        await stack.enter_async_context(breaker)  # the trial, held by an exit stack
        child_task = asyncio.create_task(child())
        await inner_ready.wait()
        with pytest.raises(CircuitOpenError):
            async with breaker:  # nested inside the trial: no second slot
                pass
        gate.set()
        await stale  # the stale success neither closes the breaker nor frees the slot
        assert breaker.state is S.HALF_OPEN
        with pytest.raises(CircuitOpenError):
            await child_task
        assert breaker.state is S.HALF_OPEN
    assert breaker.state is S.CLOSED  # the trial itself succeeded
    async with breaker, breaker:  # nested while closed, same task and a child task
        await asyncio.create_task(closed_entry())
    assert breaker.stats().consecutive_failures == 0 and breaker.state is S.CLOSED


async def test_async_with_rejection_keeps_tracebacks_flat(breaker: CircuitBreaker) -> None:
    await trip(breaker)
    depths = set()
    for _ in range(2000):
        try:
            async with breaker:
                pass
        except CircuitOpenError as exc:
            depths.add(len(traceback.extract_tb(exc.__traceback__)))
            assert exc.__cause__ is None and exc.__context__ is None
    assert len(depths) == 1
    assert breaker.stats().rejected == 2000


async def test_changes_moves_whenever_stats_change(clock: FakeClock) -> None:
    """``changes`` holds still exactly while ``stats()`` would say the same thing, through
    every path that touches a reported field (the status snapshot reuses entries on it)."""
    from core.errors import ErrorKind
    from core.status import build

    breaker = CircuitBreaker("db", failure_threshold=2, reset_timeout=5.0, clock=clock)
    last = (breaker.changes, breaker.stats())

    def step(label: str) -> None:
        nonlocal last
        now = (breaker.changes, breaker.stats())
        assert (now[0] != last[0]) == (now[1] != last[1]), label
        assert now[0] >= last[0], label
        assert build(breakers=[breaker], clock=clock)["breakers"] == [now[1].as_dict()], label
        last = now

    step("nothing")
    with pytest.raises(ConnectionRefusedError):
        await breaker.call(refuse)
    step("failed call")
    await breaker.call(ok)
    step("success clears the streak")
    await breaker.call(ok)
    step("success without a streak")
    breaker.probe_failed(ErrorKind.CONNECTION_REFUSED)
    step("probe failed")
    breaker.probe_succeeded()
    step("probe clears the streak")
    breaker.probe_succeeded()
    step("probe with nothing to clear")
    breaker.probe_failed(ErrorKind.CONNECTION_REFUSED)
    step("probe failed again")
    async with breaker:
        pass
    step("async with clears the streak")
    await trip(breaker, 2)
    step("opened")
    with pytest.raises(CircuitOpenError):
        await breaker.call(ok)
    step("rejected")
    clock.advance(5.0)
    step("half-open on reading after the timeout")
    await breaker.call(ok)
    step("closed by a trial")
    breaker.force_open()
    step("forced open")
    breaker.reset()
    step("reset")
    breaker.failure_threshold = 7  # runtime.apply_config changes thresholds in place
    entry = build(breakers=[breaker], clock=clock)["breakers"][0]
    assert entry["failure_threshold"] == 7


# --- `async with` and `call` account for every outcome the same way -----------------------
class _Stop(BaseException):
    """A BaseException that is neither a cancellation nor an Exception."""


_OUTCOMES: dict[str, BaseException | None] = {
    "ok": None,
    "refused": ConnectionRefusedError(111, "Connection refused"),
    "value": ValueError("not a network failure"),
    "cancelled": asyncio.CancelledError(),
    "stop": _Stop(),
}
# closed: a streak, broken by a success, by a non-network error, survives cancellations;
# then it opens and rejects, a half-open trial is cancelled (slot freed), one fails
# (reopens), and the success_threshold'th success closes it; a BaseException that is not an
# Exception (Ctrl+C, exit) gives no verdict, as a cancellation
_SCRIPT = [
    "refused", "refused", "ok", "refused", "refused", "value", "refused", "cancelled", "stop",
    "refused", "refused", "OPEN", "reject", "ADVANCE", "cancelled", "refused",
    "OPEN", "reject", "ADVANCE", "ok", "stop", "ok", "ok", "refused", "ok",
]


async def _through(
    breaker: CircuitBreaker, use_cm: bool, body: Callable[[], Awaitable[None]]
) -> None:
    if use_cm:
        async with breaker:
            await body()
    else:
        await breaker.call(body)


async def _run_script(clock: FakeClock, use_cm: bool) -> list[tuple[object, ...]]:
    breaker = CircuitBreaker("db", clock=clock, failure_threshold=3, success_threshold=3)
    seen: list[tuple[object, ...]] = []
    for step in _SCRIPT:
        if step == "ADVANCE":
            clock.advance(30)
        elif step == "OPEN":
            assert breaker.state is S.OPEN
        else:
            outcome = _OUTCOMES.get(step)
            ran = False

            async def body(outcome: BaseException | None = outcome) -> None:
                nonlocal ran
                ran = True
                if outcome is not None:
                    raise outcome

            try:
                await _through(breaker, use_cm, body)
            except CircuitOpenError:
                assert step == "reject" and not ran
            except BaseException as exc:
                assert exc is outcome and ran, step
            else:
                assert outcome is None and ran and step == "ok"
        stats = breaker.stats()
        seen.append((step, stats.state, stats.calls, stats.failures, stats.rejected,
                     stats.consecutive_failures))
    return seen


async def test_async_with_settles_every_outcome_like_call() -> None:
    """Errors (network or not), cancellations and other BaseExceptions in the body propagate
    unchanged and are counted exactly as ``call`` counts them, closed and half-open."""
    by_call = await _run_script(FakeClock(), use_cm=False)
    by_cm = await _run_script(FakeClock(), use_cm=True)
    assert by_cm == by_call
    closed = [s for s in by_call if s[1] is S.CLOSED]
    assert [s[5] for s in closed[:5]] == [1, 2, 0, 1, 2]  # the streak, cleared by a success
    assert [s[4] for s in by_call if s[0] == "reject"] == [1, 2]
    assert by_call[-1][1] is S.CLOSED  # success_threshold successes closed it again


@pytest.mark.parametrize("forced", [False, True])
async def test_async_with_on_an_open_breaker_raises_without_running_the_body(
    breaker: CircuitBreaker, clock: FakeClock, forced: bool
) -> None:
    if forced:
        breaker.force_open()
    else:
        await trip(breaker)
        clock.advance(10)
    rejections: list[CircuitOpenError] = []
    breaker.rejected.connect(rejections.append)
    ran = False
    with pytest.raises(CircuitOpenError) as caught:
        async with breaker:
            ran = True
    assert not ran
    error = caught.value
    assert rejections == [error]
    assert error.breaker == error.target == "db"
    if forced:
        assert error.retry_at is None and error.retry_after == float("inf")
        assert str(error) == "circuit 'db' is held open by hand; reset it to allow calls"
    else:
        assert error.retry_at == breaker.stats().retry_at
        assert error.retry_after == pytest.approx(20.0)
        assert str(error) == "circuit 'db' is open; retry in 20.0s"
    stats = breaker.stats()
    assert (stats.calls, stats.rejected) == (0 if forced else 3, 1)


async def test_async_with_cancelled_in_the_body_while_closed_gives_no_verdict(
    breaker: CircuitBreaker,
) -> None:
    await trip(breaker, 2)

    async def hang() -> None:
        async with breaker:
            await asyncio.Event().wait()

    task = asyncio.create_task(hang())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stats = breaker.stats()
    assert (stats.calls, stats.failures, stats.consecutive_failures) == (3, 2, 2)
    await trip(breaker, 1)  # the streak was neither cleared nor lengthened
    assert breaker.state is S.OPEN


@pytest.mark.parametrize("use_cm", [False, True])
@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
async def test_an_interrupted_call_gives_no_verdict(
    breaker: CircuitBreaker, clock: FakeClock, use_cm: bool, interrupt: type[BaseException]
) -> None:
    """Ctrl+C or an exit inside a half-open trial used to count as a success: with
    success_threshold 1 it closed the breaker though nothing had answered."""
    await trip(breaker)
    clock.advance(30)

    async def interrupted() -> None:
        raise interrupt

    with pytest.raises(interrupt):
        await _through(breaker, use_cm, interrupted)
    assert breaker.state is S.HALF_OPEN  # no verdict, and its trial slot is free again:
    assert await breaker.call(ok) == "ok"
    assert breaker.state is S.CLOSED
    await trip(breaker, 2)  # closed: an interruption neither clears nor lengthens a streak
    with pytest.raises(interrupt):
        await _through(breaker, use_cm, interrupted)
    assert breaker.stats().consecutive_failures == 2
