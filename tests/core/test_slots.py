"""Slots: a cap on holders, first come first served, cancellation loses no slot, and the
cost per acquire/release does not grow with the number of waiters."""

from __future__ import annotations

import asyncio
import sys

import pytest

from core.slots import Slots


async def test_at_most_size_holders_served_in_arrival_order() -> None:
    slots = Slots(2)
    order: list[int] = []
    active = peak = 0
    gate = asyncio.Event()

    async def hold(i: int) -> None:
        nonlocal active, peak
        async with slots:
            order.append(i)
            active += 1
            peak = max(peak, active)
            await gate.wait()
            active -= 1

    tasks = [asyncio.create_task(hold(i)) for i in range(6)]
    await asyncio.sleep(0)
    assert order == [0, 1] and slots.waiting == 4
    gate.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4, 5]
    assert peak == 2 and slots.free == 2 and slots.waiting == 0


async def test_a_cancelled_waiter_loses_no_slot() -> None:
    slots = Slots(1)
    await slots.__aenter__()  # held
    waiting = asyncio.create_task(slots.__aenter__())
    handed = asyncio.create_task(slots.__aenter__())
    last = asyncio.create_task(slots.__aenter__())
    await asyncio.sleep(0)
    assert slots.waiting == 3
    waiting.cancel()  # cancelled while waiting: skipped
    await asyncio.gather(waiting, return_exceptions=True)
    slots.release()  # hands the slot to `handed`, which has not run yet
    handed.cancel()  # ... and is cancelled before using it: the slot goes on to `last`
    await asyncio.gather(handed, return_exceptions=True)
    async with asyncio.timeout(1):
        await last
    assert handed.cancelled() and slots.free == 0 and slots.waiting == 0
    slots.release()
    assert slots.free == 1


async def test_cost_per_holder_does_not_grow_with_the_releases_in_one_turn() -> None:
    """Results reach the monitor in batches, so many slots are released in one loop turn.
    asyncio.Semaphore (3.11) rescans the waiters it already woke on every release:
    quadratic in the batch. Calls (Python and C) per holder, batch 20 against 400."""

    async def calls_per_holder(batch: int) -> float:
        slots = Slots(batch)
        gate = asyncio.Event()

        async def hold() -> None:
            async with slots:
                await gate.wait()

        tasks = [asyncio.create_task(hold()) for _ in range(2 * batch)]
        await asyncio.sleep(0)
        count = 0

        def profile(frame: object, event: str, arg: object) -> None:
            nonlocal count
            count += event in ("call", "c_call")

        sys.setprofile(profile)
        try:
            gate.set()  # `batch` holders release together, `batch` waiters take over
            await asyncio.gather(*tasks)
        finally:
            sys.setprofile(None)
        return count / (2 * batch)

    small, large = await calls_per_holder(20), await calls_per_holder(400)
    assert large <= small * 1.3, (small, large)


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Slots(0)
