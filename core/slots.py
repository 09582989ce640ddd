"""``Slots``: at most N holders at a time, waiters served first come, first served.

What ``asyncio.Semaphore`` does, at O(1) per acquire and release. Python 3.11's semaphore
scans its waiters on every acquire (``locked()``) and on every release (skipping the ones
already woken): when hundreds of probes wait for a slot, as they do exactly when the
monitor falls behind, each result costs a scan of all of them on the loop.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["Slots"]


class Slots:
    """``async with slots:`` holds one of ``size`` slots for the block."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("Slots needs a size of at least 1")
        self.free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """Waiters not yet served (cancelled ones may be counted until skipped)."""
        return len(self._waiters)

    async def __aenter__(self) -> None:
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot, then cancelled before using it: pass it on
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        """Give the slot to the first live waiter, else free it."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():  # skip the cancelled
                waiter.set_result(None)
                return
        self.free += 1
