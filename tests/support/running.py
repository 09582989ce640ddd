"""Helpers for tests over a running ``NetmonCore``: start it, let the loop run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from core.config import Config
from core.runtime import NetmonCore


@contextlib.asynccontextmanager
async def started_core(config: Config) -> AsyncIterator[NetmonCore]:
    """A ``NetmonCore`` over ``config``, started without the probe schedule, then stopped."""
    netmon = NetmonCore(config)
    await netmon.start(schedule=False)
    try:
        yield netmon
    finally:
        await netmon.stop()


async def settle(condition: Callable[[], bool] | None = None, timeout: float = 3.0) -> None:
    """Let the running loop run (Qt timers, queued signals) until ``condition`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await asyncio.sleep(0.05)
        if condition is None or condition():
            return
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
