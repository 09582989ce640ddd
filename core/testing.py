"""Test doubles shipped with the core so core and GUI tests share them.

- ``FakeClock``: time moves only when told; ``sleep`` returns at once and is recorded.
- ``MemoryKeyring``: an in-memory keyring backend (headless Linux has no keyring).
- ``seeded_rng``: a ``random.Random`` with a fixed seed.
"""

from __future__ import annotations

import asyncio
import heapq
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

__all__ = ["FakeClock", "MemoryKeyring", "seeded_rng"]

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class _Timer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: _Timer) -> bool:
        return self.when < other.when


class FakeClock:
    """A clock that moves only by ``advance``; ``sleep`` advances it and records the delay.

    ``call_later`` callbacks run, in time order, when ``advance`` passes their time.
    """

    def __init__(self, start: datetime = _EPOCH, monotonic_start: float = 1000.0) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock start must be timezone-aware")
        self._wall = start.astimezone(UTC)
        self._mono = monotonic_start
        self._timers: list[_Timer] = []
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._mono

    def now(self) -> datetime:
        return self._wall

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``, running timers that fall due."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        end = self._mono + seconds
        while self._timers and self._timers[0].when <= end:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._move_to(timer.when)
            timer.callback()
        self._move_to(end)

    def _move_to(self, mono: float) -> None:
        step = max(0.0, mono - self._mono)
        self._mono += step
        self._wall += timedelta(seconds=step)

    def call_later(self, seconds: float, callback: Callable[[], object]) -> _Timer:
        """Run ``callback`` when ``advance`` reaches ``seconds`` from now."""
        timer = _Timer(self._mono + max(0.0, seconds), callback)
        heapq.heappush(self._timers, timer)
        return timer

    @property
    def pending_timers(self) -> int:
        """Timers scheduled and not cancelled."""
        return sum(1 for t in self._timers if not t.cancelled)

    async def sleep(self, seconds: float) -> None:
        """Record the delay, advance time by it and yield to the loop once."""
        self.sleeps.append(seconds)
        self.advance(max(seconds, 0.0))
        await asyncio.sleep(0)


class MemoryKeyring(KeyringBackend):
    """A keyring backend that keeps secrets in a dict (for tests and demos only)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.store[(service, username)]
        except KeyError:
            raise PasswordDeleteError(f"{service}/{username} not set") from None


def seeded_rng(seed: int = 1234) -> random.Random:
    """A private random generator with a fixed seed (never the global ``random``)."""
    return random.Random(seed)
