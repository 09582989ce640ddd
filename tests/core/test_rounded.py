"""``core.stats.rounded`` gives what ``round(x, places)`` gives, to the bit, where it matters
most: near halves of the last place, at the edges of its fast path, for the values the
status snapshot rounds (latencies, success ratios)."""

from __future__ import annotations

import math
import random

import pytest

from core.stats import rounded


def _same(x: float, places: int) -> None:
    # float.hex tells -0.0 from 0.0 and compares NaNs as text
    assert rounded(x, places).hex() == round(x, places).hex(), (x, places)


def _near(value: float, steps: int = 3) -> list[float]:
    """``value`` and its ``steps`` neighbouring floats on each side."""
    out, up, down = [value], value, value
    for _ in range(steps):
        up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
        out += [up, down]
    return out


@pytest.mark.parametrize("places", range(5))
def test_halves_of_the_last_place_and_their_neighbours(places: int) -> None:
    rng = random.Random(places)
    scale = 10 ** places
    for _ in range(1000):
        k = rng.choice([rng.randrange(0, 2000), rng.randrange(0, 10 ** 9)])
        for value in (*_near((k + 0.5) / scale), *_near(k / scale),
                      *_near((2 * k + 1) / (2 * scale) * (1 + 1e-12))):
            _same(value, places)


@pytest.mark.parametrize("places", range(5))
def test_random_values_over_many_magnitudes(places: int) -> None:
    rng = random.Random(100 + places)
    for _ in range(5000):
        _same(10 ** rng.uniform(-12, 11), places)
        _same(rng.uniform(0, 2000), places)


def test_edges_of_the_fast_path() -> None:
    for places in range(5):
        for value in (0.0, -0.0, -1e-9, -0.0004, -1.2345, 5e-324, 1e-300, math.inf, -math.inf,
                      math.nan, *_near(1e9 / 10 ** places), 1e9, 2.0 ** 51, 1e300):
            _same(value, places)


def test_success_ratios() -> None:
    """Every ratio ``_ratio`` rounds for up to 1,000 results, and a sample of larger ones."""
    for total in range(1, 1001):
        for failed in range(1, total, max(1, total // 50)):
            _same((total - failed) / total, 4)
    rng = random.Random(7)
    for _ in range(10000):
        total = rng.randrange(1, 10 ** 7)
        _same((total - rng.randrange(1, total + 1)) / total, 4)
