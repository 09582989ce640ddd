"""``Deadlines``: ``asyncio.timeout`` for many tasks at once, on one loop timer per distinct
delay instead of one per block.

A monitor bounds every probe by its timeout plus a margin; with ``asyncio.timeout`` each
probe puts a timer in the loop's heap (a Python-compared heap entry that stays there, cancelled,
until its time) and builds a ``Timeout``. Blocks entered with the same delay reach their
deadlines in the order they were entered, so one queue per delay and one timer for its
oldest block still running do the same work: entering is an append, leaving a flag.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from types import TracebackType

__all__ = ["Deadline", "Deadlines"]

_ACTIVE, _EXPIRING, _LEFT = 0, 1, 2


class Deadline:
    """One block's deadline (``with deadlines.after(delay):``); raises ``TimeoutError``
    out of the block when it expired there, as ``asyncio.timeout`` does."""

    __slots__ = ("_cancelling", "_state", "_task", "when")

    def __init__(self, when: float, task: asyncio.Task[object]) -> None:
        self.when = when
        self._task: asyncio.Task[object] | None = task  # None once left: not kept alive
        self._cancelling = task.cancelling()
        self._state = _ACTIVE

    def __enter__(self) -> Deadline:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        expired = self._state == _EXPIRING
        task, self._task = self._task, None  # a left block may stay queued a while
        self._state = _LEFT
        # as asyncio.Timeout: the cancellation was ours unless another one is pending too
        if (expired and task is not None and task.uncancel() <= self._cancelling
                and exc_type is asyncio.CancelledError):
            raise TimeoutError from exc

    def _expire(self) -> None:
        if self._state == _ACTIVE and self._task is not None:
            self._state = _EXPIRING
            self._task.cancel()


class _Queue:
    """The blocks entered with one delay, oldest first, and the timer of the oldest."""

    __slots__ = ("armed", "blocks", "handle", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.blocks: deque[Deadline] = deque()
        self.handle: asyncio.TimerHandle | None = None
        self.armed = 0.0

    def add(self, block: Deadline) -> None:
        self.blocks.append(block)
        if self.handle is None:
            self._arm(block.when)

    def _arm(self, when: float) -> None:
        self.armed = when
        self.handle = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self.handle = None
        # the loop runs a timer up to its clock resolution early: what this timer was
        # armed for is due
        now = max(self.loop.time(), self.armed)
        blocks = self.blocks
        while blocks:
            block = blocks[0]
            if block._state != _ACTIVE:  # left (or expired) already: nothing to time
                blocks.popleft()
            elif block.when <= now:
                blocks.popleft()
                block._expire()
            else:
                self._arm(block.when)
                return


class Deadlines:
    """Deadlines for the tasks of one event loop (made on it)."""

    def __init__(self) -> None:
        self._queues: dict[float, _Queue] = {}

    def after(self, delay: float | None) -> Deadline:
        """A deadline ``delay`` seconds from now for the current task's block (None or
        infinity: no deadline, as ``asyncio.timeout(None)``; 0 or less: expired at the
        block's first suspension, as ``asyncio.timeout(0)``)."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Deadlines.after() needs a running task")
        if delay is None or delay == math.inf:
            return Deadline(math.inf, task)
        if math.isnan(delay):
            raise ValueError("a deadline's delay cannot be NaN")
        loop = task.get_loop()
        if delay <= 0:
            block = Deadline(loop.time(), task)
            block._expire()
            return block
        queue = self._queues.get(delay)
        if queue is None or queue.loop is not loop:
            queue = self._queues[delay] = _Queue(loop)
        block = Deadline(loop.time() + delay, task)
        queue.add(block)
        return block
