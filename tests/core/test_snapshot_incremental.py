"""The incremental snapshot: cached per-target entries, rebuilt only on change, must equal
a snapshot computed from scratch at every step; ``snapshot_changed`` names what changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.breaker import CircuitBreaker
from core.config import Config, MonitorSettings, Target
from core.errors import ErrorKind
from core.monitor import HealthMonitor
from core.probes import ProbeResult
from core.probes.base import ProbeContext, iso_utc
from core.recovery import suggest, target_suggestion
from core.status import build
from core.testing import FakeClock, seeded_rng


class Scripted:
    """A probe whose next outcome the test sets (what is under test is the snapshot)."""

    outcomes: ClassVar[dict[str, bool]] = {}

    def __init__(self, target: Target, context: ProbeContext) -> None:
        self.target = target
        self.context = context
        self.n = 0

    async def run(self) -> ProbeResult:
        self.n += 1
        ok = self.outcomes.get(self.target.name, True)
        details = ({"resolvers": [{"resolver": "os", "ok": ok, "rcode": None, "addresses":
                                   ["127.0.0.1"] if ok else [], "latency_ms": 1.0,
                                   "error_kind": None if ok else "dns_timeout", "ttl": 5}]}
                   if self.target.kind == "dns" else {})
        return ProbeResult(self.target.name, self.target.kind, ok, 1.0 + self.n % 7 * 2.5,
                           self.context.clock.now(), phases={"connect": 0.123456},
                           error_kind=None if ok else ErrorKind.CONNECTION_REFUSED,
                           error=None if ok else "refused", details=details)


@pytest.fixture
def outcomes() -> Iterator[dict[str, bool]]:
    Scripted.outcomes = {}
    yield Scripted.outcomes
    Scripted.outcomes = {}


def _setup(clock: FakeClock) -> tuple[HealthMonitor, dict[str, CircuitBreaker]]:
    targets = [Target(name="a", kind="tcp", host="127.0.0.1", port=1),
               Target(name="b", kind="dns", host="x.test"),
               Target(name="c", kind="tcp", host="127.0.0.1", port=2, critical=False)]
    breakers = {t.name: CircuitBreaker(t.name, clock=clock, reset_timeout=30)
                for t in targets}
    config = Config(monitor=MonitorSettings(interval_s=10), targets=targets)
    monitor = HealthMonitor(config, clock=clock, rng=seeded_rng(), probe_factory=Scripted,
                            breakers=breakers)
    return monitor, breakers


def _from_scratch(monitor: HealthMonitor) -> list[dict[str, object]]:
    now = monitor.clock.monotonic()
    return [s.as_dict(now, monitor.memory.recent(s.name), monitor.breakers.get(s.breaker))
            for s in monitor.states.values()]


async def test_cached_snapshot_equals_one_from_scratch_at_every_step(
        outcomes: dict[str, bool]) -> None:
    clock = FakeClock()
    monitor, breakers = _setup(clock)
    seen: list[frozenset[str]] = []
    monitor.snapshot_changed.connect(seen.append)

    def check(expect_changed: set[str] | None) -> None:
        seen.clear()
        cached = monitor.snapshot()
        assert cached == _from_scratch(monitor)
        if expect_changed is None:
            assert seen == []
        else:
            assert seen == [frozenset(expect_changed)]

    check({"a", "b", "c"})  # the first snapshot: every entry is new
    check(None)             # nothing happened: nothing changed, nothing emitted
    await monitor.run_once()
    check({"a", "b", "c"})
    outcomes["a"] = False
    for _ in range(3):      # three refusals: degraded, then down, and the breaker opens
        await monitor.probe_now("a")
        check({"a"})
    assert breakers["a"].state == "open"
    clock.advance(31)       # the breaker's reset timeout passes: half-open, no probe needed
    check({"a"})
    assert "half-open" in monitor.snapshot()[0]["reason"]
    breakers["c"].force_open()
    check({"c"})
    clock.advance(5)
    breakers["c"].force_open()  # forced again: a new "since" without any transition
    check({"c"})
    monitor.pause("b")
    check({"b"})
    monitor.resume("b")
    check({"b"})
    clock.advance(300)      # the 5-minute window moves on: rates change with no result
    check({"a", "b", "c"})
    assert monitor.snapshot()[1]["success_rate"]["5m"] is None
    breakers["a"].reset()
    check({"a"})
    outcomes["a"] = True
    await monitor.probe_now("a")
    check({"a"})


async def test_suggestions_cover_every_failing_target_and_follow_changes(
        outcomes: dict[str, bool]) -> None:
    clock = FakeClock()
    monitor, breakers = _setup(clock)
    outcomes.update(a=False, b=False)
    await monitor.run_once()
    targets = {s["target"] for s in suggest(monitor=monitor, breakers=breakers.values())}
    assert {"a", "b"} <= targets
    for _ in range(2):
        await monitor.probe_now("a")
    first = [s for s in suggest(monitor=monitor, breakers=breakers.values())
             if s["target"] == "a"]
    assert first == [target_suggestion(monitor.states["a"], breakers["a"])]
    assert "is open" in first[0]["detail"]
    clock.advance(31)  # half-open now: the cached suggestion must not keep "is open"
    again = [s for s in suggest(monitor=monitor, breakers=breakers.values())
             if s["target"] == "a"]
    assert again == [target_suggestion(monitor.states["a"], breakers["a"])]
    assert "is open" not in again[0]["detail"]
    snapshot = build(monitor=monitor, breakers=breakers.values(), clock=clock)
    assert snapshot["breakers"] == [b.stats().as_dict() for b in breakers.values()]
    snapshot["targets"][0]["status"] = "mutated by a caller"
    snapshot["breakers"][0]["state"] = "mutated by a caller"
    again_snapshot = build(monitor=monitor, breakers=breakers.values(), clock=clock)
    assert again_snapshot["targets"][0]["status"] == "down"
    assert again_snapshot["breakers"][0]["state"] == "half_open"


class Queued:
    """A probe that answers the results the test queued for its target, in turn."""

    queue: ClassVar[list[dict[str, object]]] = []

    def __init__(self, target: Target, context: ProbeContext) -> None:
        self.target = target
        self.context = context

    async def run(self) -> ProbeResult:
        fields = Queued.queue.pop(0)
        return ProbeResult(self.target.name, self.target.kind, bool(fields.get("ok")),
                           float(fields.get("latency", 5.0)),  # type: ignore[arg-type]
                           self.context.clock.now(),
                           error_kind=fields.get("kind"),  # type: ignore[arg-type]
                           error=fields.get("error"),  # type: ignore[arg-type]
                           degraded=bool(fields.get("degraded")),
                           details=fields.get("details", {}))  # type: ignore[arg-type]


async def test_a_kept_suggestion_is_what_target_suggestion_says_after_every_result() -> None:
    """The cached suggestion of a target is kept while what it reads holds still (the
    same failure second after second, under a growing failure count) and follows every
    change of error, message, summary, degradation, slowness, status and breaker."""
    clock = FakeClock()
    target = Target(name="d", kind="dns", host="x.test", latency_threshold_ms=100)
    breaker = CircuitBreaker("d", clock=clock, failure_threshold=100, reset_timeout=30)
    monitor = HealthMonitor(Config(monitor=MonitorSettings(interval_s=10, up_after=2),
                                   targets=[target]),
                            clock=clock, rng=seeded_rng(), probe_factory=Queued,
                            breakers={"d": breaker})
    state = monitor.states["d"]
    refused = {"kind": ErrorKind.CONNECTION_REFUSED, "error": "refused"}
    slow_ns = {"ok": True, "degraded": True, "kind": ErrorKind.DNS_TIMEOUT, "error": "ns1"}
    steps: list[tuple[dict[str, object], Callable[[], object] | None, bool | None]] = [
        # (result, then, suggestion kept from the previous step; None: no suggestion)
        (refused, None, False), (refused, None, True),  # failing 1 of 3, 2 of 3
        (refused, None, False), (refused, None, True),  # down: critical now
        (refused, breaker.force_open, False), (refused, None, True),
        (refused, breaker.reset, False),
        ({**refused, "error": "refused again"}, None, False),
        ({**refused, "details": {"summary": "os: refused"}}, None, False),
        ({"kind": ErrorKind.DNS_TIMEOUT, "error": "timed out"}, None, False),
        (slow_ns, None, False), (slow_ns, None, True),
        ({"ok": True, "latency": 500.0}, None, False),  # slow
        ({"ok": True, "latency": 700.0}, None, False),  # slow, another figure in the reason
        (refused, None, False),
        ({"ok": True}, None, False), ({"ok": True}, None, None),  # recovering, then up
    ]
    Queued.queue = [fields for fields, _, _ in steps]
    for number, (_, then, kept) in enumerate(steps):
        before = state.suggestion_cache
        await monitor.probe_now("d")
        if then is not None:
            then()
        mine = [s for s in suggest(monitor=monitor, breakers=[breaker]) if s["target"] == "d"]
        if kept is None:
            assert mine == []
            continue
        assert mine == [target_suggestion(state, breaker)], number
        assert state.suggestion_cache is not None
        assert (before is not None and state.suggestion_cache[1] is before[1]) is kept, number


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
       st.sampled_from([UTC, timezone(timedelta(0)), timezone(timedelta(hours=-3)), None]))
def test_iso_utc_from_its_per_second_cache_is_isoformat(when: datetime,
                                                       tz: timezone | None) -> None:
    """``iso_utc`` keeps the text of recent whole seconds: for any time (whole seconds,
    other zones, naive) it says what ``isoformat`` says with "Z" for a zero offset, also
    the second time (from the cache)."""
    when = when.replace(tzinfo=tz)
    plain = when.isoformat().replace("+00:00", "Z")
    assert iso_utc(when) == plain
    assert iso_utc(when) == plain
