"""``Deadlines``: what ``asyncio.timeout`` does for each block, on one timer per delay."""

from __future__ import annotations

import asyncio

import pytest

from core.deadlines import Deadlines


async def test_a_block_still_running_at_its_deadline_raises_timeout_error() -> None:
    deadlines = Deadlines()
    task = asyncio.current_task()
    assert task is not None
    with pytest.raises(TimeoutError), deadlines.after(0.01):
        await asyncio.Event().wait()
    assert task.cancelling() == 0  # the cancellation was taken back, as asyncio.timeout does
    await asyncio.sleep(0)  # and nothing is left pending on the task


async def test_blocks_left_in_time_are_untouched_and_a_later_one_still_expires() -> None:
    """Blocks with one delay share a queue and its timer: the ones left before their
    deadline are skipped, the first one still running is expired at its own deadline."""
    deadlines = Deadlines()
    results: list[str] = []

    async def quick(index: int) -> None:
        with deadlines.after(0.05):
            await asyncio.sleep(0)
        results.append(f"quick-{index}")

    async def hangs() -> None:
        try:
            with deadlines.after(0.05):
                await asyncio.Event().wait()
        except TimeoutError:
            results.append("hangs timed out")

    await asyncio.gather(quick(0), quick(1), hangs(), quick(2))
    assert sorted(results) == ["hangs timed out", "quick-0", "quick-1", "quick-2"]
    async with asyncio.timeout(5):  # the queue armed again: a block entered later expires
        with pytest.raises(TimeoutError), deadlines.after(0.05):
            await asyncio.Event().wait()


async def test_each_delay_keeps_its_own_order() -> None:
    """A short delay entered after a long one expires first; the long one expires too."""
    deadlines = Deadlines()
    order: list[float] = []

    async def waits(delay: float) -> None:
        try:
            with deadlines.after(delay):
                await asyncio.Event().wait()
        except TimeoutError:
            order.append(delay)

    long = asyncio.ensure_future(waits(0.2))
    await asyncio.sleep(0)
    await asyncio.gather(waits(0.02), long)
    assert order == [0.02, 0.2]


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    deadlines = Deadlines()
    started = asyncio.Event()

    async def inside() -> None:
        with deadlines.after(5.0):
            started.set()
            await asyncio.Event().wait()

    task = asyncio.ensure_future(inside())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_block_that_ends_in_time_returns_its_value() -> None:
    deadlines = Deadlines()
    with deadlines.after(5.0):
        await asyncio.sleep(0)
        value = 42
    assert value == 42
    loop = asyncio.get_running_loop()
    said: asyncio.Future[str] = loop.create_future()

    def outside_a_task() -> None:
        try:
            deadlines.after(1.0)
        except RuntimeError as exc:
            said.set_result(str(exc))

    loop.call_soon(outside_a_task)
    assert await said == "Deadlines.after() needs a running task"


async def test_no_delay_is_no_deadline() -> None:
    deadlines = Deadlines()
    with deadlines.after(None) as deadline:
        await asyncio.sleep(0.01)
    assert deadline.when == float("inf")


async def test_a_block_left_does_not_keep_its_task_alive() -> None:
    """A block that has left stays queued until its queue's timer reaches it, but no longer
    holds its task (nor so the task's result) as asyncio.timeout does not once left."""
    import gc
    import weakref

    deadlines = Deadlines()

    async def quick() -> bytes:
        with deadlines.after(60.0):
            await asyncio.sleep(0)
        return b"x" * 2048

    tasks = [asyncio.ensure_future(quick()) for _ in range(50)]
    for task in tasks:
        await task
    refs = [weakref.ref(t) for t in tasks]
    del tasks, task
    await asyncio.sleep(0)  # the loop lets go of the last task's wake-up
    gc.collect()
    assert sum(r() is not None for r in refs) == 0


async def test_a_deadline_already_past_expires_at_the_first_suspension() -> None:
    """As asyncio.timeout(0) and timeout(-1): the block times out at its first await."""
    deadlines = Deadlines()
    for delay in (0.0, -1.0):
        with pytest.raises(TimeoutError), deadlines.after(delay):
            await asyncio.sleep(0)


async def test_an_infinite_delay_is_no_deadline_and_nan_is_refused() -> None:
    deadlines = Deadlines()
    with deadlines.after(float("inf")):
        await asyncio.sleep(0)
    assert not deadlines._queues  # nothing queued, no timer
    with pytest.raises(ValueError, match="NaN"):
        deadlines.after(float("nan"))
