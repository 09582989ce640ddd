"""Pure delay policies: retry number -> seconds to wait, with jitter from an injected RNG.

Jitter styles follow the well-known AWS analysis: ``full`` (uniform 0..exp), ``equal``
(exp/2 + uniform 0..exp/2), ``decorrelated`` (uniform base..previous*3) and ``none``.
All are capped at ``cap`` seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Backoff", "Jitter"]


class Jitter(StrEnum):
    """How randomness spreads the exponential delay."""

    NONE = "none"
    FULL = "full"
    EQUAL = "equal"
    DECORRELATED = "decorrelated"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff ``base * factor**(retry-1)`` capped at ``cap``, with jitter."""

    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: Jitter = Jitter.FULL

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0 or self.factor < 1:
            raise ValueError("backoff needs base >= 0, cap >= 0 and factor >= 1")

    def exponential(self, retry: int) -> float:
        """The un-jittered delay before retry number ``retry`` (1 for the first retry)."""
        if retry < 1:
            raise ValueError("retry numbers start at 1")
        try:
            return float(min(self.cap, self.base * self.factor ** (retry - 1)))
        except OverflowError:
            return self.cap

    def delay(self, retry: int, rng: random.Random, previous: float | None = None) -> float:
        """Seconds to wait before retry ``retry``; ``previous`` feeds decorrelated jitter."""
        exp = self.exponential(retry)
        match self.jitter:
            case Jitter.NONE:
                return exp
            case Jitter.FULL:
                return rng.uniform(0.0, exp)
            case Jitter.EQUAL:
                return exp / 2 + rng.uniform(0.0, exp / 2)
            case Jitter.DECORRELATED:
                last = self.base if previous is None else previous
                return min(self.cap, rng.uniform(self.base, max(self.base, last * 3)))
        raise AssertionError(self.jitter)  # pragma: no cover
