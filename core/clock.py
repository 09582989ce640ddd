"""Injected time: intervals use monotonic seconds, displays and JWT expiry use aware UTC."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["Cancellable", "Clock", "SystemClock"]


class Cancellable(Protocol):
    """A scheduled callback that can be called off."""

    def cancel(self) -> None:
        """Do not run the callback (no-op if it already ran)."""
        ...


@runtime_checkable
class Clock(Protocol):
    """What the core asks of time; tests pass a ``core.testing.FakeClock``."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for intervals and timeouts)."""
        ...

    def now(self) -> datetime:
        """The current wall time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a fake clock returns at once)."""
        ...

    def call_later(self, seconds: float, callback: Callable[[], object]) -> Cancellable:
        """Run ``callback`` after ``seconds`` on this clock (a fake clock: on ``advance``)."""
        ...


class SystemClock:
    """The real clock."""

    monotonic = staticmethod(time.monotonic)  # no Python frame per read (breakers read it often)

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, seconds: float, callback: Callable[[], object]) -> Cancellable:
        return asyncio.get_running_loop().call_later(max(0.0, seconds), callback)
