"""The success-rate ring keeps running sums; it must answer exactly what a full scan does."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from core.stats import SuccessWindows

_NEVER = -(1 << 62)


class _ScanRing:
    """The reference: every rate is a scan of every slot (the ring before the sums)."""

    def __init__(self, width: float, slots: int) -> None:
        self.width, self.slots = width, slots
        self.stamps = [_NEVER] * slots
        self.totals = [0] * slots
        self.failures = [0] * slots

    def add(self, now: float, total: int, failures: int) -> None:
        index = int(now // self.width)
        slot = index % self.slots
        if self.stamps[slot] > index:
            return
        if self.stamps[slot] != index:
            self.stamps[slot], self.totals[slot], self.failures[slot] = index, 0, 0
        self.totals[slot] += total
        self.failures[slot] += failures

    def rate(self, now: float, seconds: float) -> float | None:
        current = int(now // self.width)
        oldest = current - max(1, math.ceil(seconds / self.width)) + 1
        total = failed = 0
        for slot in range(self.slots):
            if oldest <= self.stamps[slot] <= current:
                total += self.totals[slot]
                failed += self.failures[slot]
        return None if total == 0 else round((total - failed) / total, 4)


def _reference_rates(minutes: _ScanRing, tens: _ScanRing, now: float) -> dict[str, float | None]:
    return {"5m": minutes.rate(now, 300), "1h": minutes.rate(now, 3600),
            "24h": tens.rate(now, 86400)}


_step = st.tuples(
    st.sampled_from(["add", "add", "add", "rate", "old"]),
    st.floats(min_value=0, max_value=20_000, allow_nan=False),  # time step forward
    st.integers(min_value=1, max_value=5), st.integers(min_value=0, max_value=5),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_step, max_size=60), st.floats(min_value=-5_000, max_value=5_000))
def test_rates_equal_a_full_scan_whatever_the_order(steps: list[tuple[str, float, int, int]],
                                                    start: float) -> None:
    windows = SuccessWindows()
    minutes, tens = _ScanRing(60, 60), _ScanRing(600, 144)
    now = start
    for op, step, total, fails in steps:
        fails = min(fails, total)
        now += step
        if op == "add":
            windows.add_counts(now, total, fails)
            minutes.add(now, total, fails)
            tens.add(now, total, fails)
        elif op == "old":  # seeding from history adds counts from the past, in any order
            then = now - step * 3
            windows.add_counts(then, total, fails)
            minutes.add(then, total, fails)
            tens.add(then, total, fails)
        assert windows.rates(now) == _reference_rates(minutes, tens, now)
        earlier = now - step / 2  # asking about an earlier time answers from a scan
        assert windows.rates(earlier) == _reference_rates(minutes, tens, earlier)


def test_revision_and_slot_key_say_when_a_cached_rate_is_stale() -> None:
    windows = SuccessWindows()
    assert windows.revision == 0
    windows.add(10.0, True)
    assert windows.revision == 1
    assert SuccessWindows.slot_key(59.9) == (0, 0)
    assert SuccessWindows.slot_key(60.0) == (1, 0)
    assert SuccessWindows.slot_key(600.0) == (10, 1)


def test_rates_asked_again_are_a_copy_of_the_same_answer_until_a_count_or_slot_moves() -> None:
    windows = SuccessWindows()
    windows.add(10.0, True)
    first = windows.rates(20.0)
    first["5m"] = 0.0  # a caller's change is its own
    assert windows.rates(30.0) == {"5m": 1.0, "1h": 1.0, "24h": 1.0}
    windows.add(31.0, False)
    assert windows.rates(31.0) == {"5m": 0.5, "1h": 0.5, "24h": 0.5}
    assert windows.rates(10.0 + 300 + 60) == {"5m": None, "1h": 0.5, "24h": 0.5}


_near_step = st.tuples(
    st.sampled_from(["add", "add", "add", "rate", "old", "late", "past"]),
    st.floats(min_value=0, max_value=90, allow_nan=False),  # mostly within the same slot
    st.integers(min_value=1, max_value=5), st.integers(min_value=0, max_value=5),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_near_step, max_size=80), st.floats(min_value=-5_000, max_value=5_000))
def test_counts_added_to_the_slots_last_asked_about_keep_rates_exact(
        steps: list[tuple[str, float, int, int]], start: float) -> None:
    """Results a second or a minute apart, rates asked after each: the kept window counts
    take each new count (or are read again) and must answer what a full scan does."""
    windows = SuccessWindows()
    minutes, tens = _ScanRing(60, 60), _ScanRing(600, 144)
    now = start
    for op, step, total, fails in steps:
        fails = min(fails, total)
        now += step
        then = {"add": now, "rate": now, "old": now - step * 3, "late": now - 90_000,
                "past": now - step * 50}[op]
        if op == "past":  # asked about a past time, then a count for it (kept or refused)
            assert windows.rates(then) == _reference_rates(minutes, tens, then)
        if op != "rate":
            windows.add_counts(then, total, fails)
            minutes.add(then, total, fails)
            tens.add(then, total, fails)
        if op == "past":
            assert windows.rates(then) == _reference_rates(minutes, tens, then)
        assert windows.rates(now) == _reference_rates(minutes, tens, now)


def test_counts_held_for_the_newest_slots_reach_every_later_answer() -> None:
    """Results added after rates were read in the same minute are held, not written to the
    rings, until another slot is counted in or asked about: every later answer has them."""
    windows = SuccessWindows()
    minutes, tens = _ScanRing(60, 60), _ScanRing(600, 144)
    for second in range(120, 180):  # a result each second, rates read after each
        ok = second % 4 != 0
        windows.add(float(second), ok)
        minutes.add(float(second), 1, 0 if ok else 1)
        tens.add(float(second), 1, 0 if ok else 1)
        assert windows.rates(float(second)) == _reference_rates(minutes, tens, second)
    # another minute asked about, a past time (a scan), and a count in a new slot
    assert windows.rates(200.0) == _reference_rates(minutes, tens, 200.0)
    assert windows.rates(150.0) == _reference_rates(minutes, tens, 150.0)
    windows.add(181.0, False)
    minutes.add(181.0, 1, 1)
    tens.add(181.0, 1, 1)
    assert windows.rates(181.0) == _reference_rates(minutes, tens, 181.0)
    assert windows.rates(400.0) == {"5m": 0.7377, "1h": 0.7377, "24h": 0.7377}
    assert windows.shared_rates(400.0) is windows.shared_rates(400.0)
    assert windows.rates(400.0) is not windows.rates(400.0)
