"""HealthMonitor: one scheduler for every target, per-target status, success rates, and
the "local network down" condition.

Each target is probed every ``interval_s`` (its own, else the monitor default), first at a
random phase within ``FIRST_ROUND_S`` so targets do not fire together, with at most
``concurrency`` probes in flight and each bounded by its timeout. A probe still running
when its next turn comes is not doubled: the turn is counted as missed. Time comes from
the injected clock, so tests drive days of schedule with ``FakeClock.advance``.

With ``[monitor] workers = N`` the probes run in N worker processes (``core.workers``)
and only their results come back to this loop; scheduling, state, breakers and history
stay here. ``snapshot()`` is incremental (entries rebuilt only for targets that changed)
and ``snapshot_changed`` names the targets whose entries changed.

Status rules: see ``core.status_rules``.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .breaker import BreakerState, BreakerTransition, CircuitBreaker
from .clock import Cancellable, Clock, SystemClock
from .config import Config, Target
from .deadlines import Deadlines
from .errors import ErrorKind, classify
from .events import Event
from .history import HistoryStore, MemoryHistory
from .local_network import Evidence, evidence, judge_local_network
from .log import PREFIX_NETWORK
from .probes.base import Probe, ProbeContext, ProbeResult, describe
from .probes.registry import make_probe
from .slots import Slots
from .stats import SuccessWindows
from .status_rules import judge_status
from .target_state import (
    BreakerPart,
    Condition,
    StatusChange,
    TargetState,
    TargetStatus,
    breaker_key,
    breaker_part,
)
from .workers import ProbeWorkers

__all__ = [
    "FIRST_ROUND_S",
    "Condition",
    "HealthMonitor",
    "StatusChange",
    "TargetState",
    "TargetStatus",
    "breaker_for",
    "breaker_key",
]

_log = logging.getLogger("netmon.monitor")

ProbeFactory = Callable[[Target, ProbeContext], Probe]

#: The first round of probes is spread over this many seconds (or the interval, if shorter):
#: soon enough that nothing waits a whole interval for its first result, spread enough
#: that a thousand targets do not fire at once.
FIRST_ROUND_S = 2.0


@dataclass(slots=True)
class _Cached:
    """One target's snapshot entry and the ``TargetState.revision`` it was built at."""

    revision: int
    entry: dict[str, Any]


class HealthMonitor:
    """Schedules probes, keeps per-target state and history, and emits events."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        context: ProbeContext | None = None,
        probe_factory: ProbeFactory = make_probe,
        history: HistoryStore | None = None,
        memory: MemoryHistory | None = None,
        breakers: Mapping[str, CircuitBreaker] | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self._owns_context = context is None
        self.context = context or ProbeContext(
            clock=self.clock, default_timeout_s=config.monitor.timeout_s
        )
        self.probe_factory = probe_factory
        if config.monitor.workers and probe_factory is not make_probe:
            raise ValueError("probe workers build their probes with make_probe: "
                             "set [monitor] workers = 0 to use a probe_factory")
        self.workers = (ProbeWorkers([t for t in config.targets if t.enabled],
                                     config.monitor.workers,
                                     default_timeout_s=config.monitor.timeout_s)
                        if config.monitor.workers else None)
        self.history = history
        self.memory = memory or MemoryHistory()
        self.breakers: Mapping[str, CircuitBreaker] = breakers if breakers is not None else {}
        self.result_recorded: Event[ProbeResult] = Event("monitor.result_recorded")
        self.status_changed: Event[StatusChange] = Event("monitor.status_changed")
        self.condition_changed: Event[Condition] = Event("monitor.condition_changed")
        #: After a ``snapshot()``: the names of the targets whose entry changed since the
        #: previous one (emitted only when some did).
        self.snapshot_changed: Event[frozenset[str]] = Event("monitor.snapshot_changed")
        self._cache: dict[str, _Cached] = {}
        #: each breaker's part of its targets' entries, with the breaker and the
        #: ``breaker_key`` it was built from (rebuilt only when that moves)
        self._breaker_parts: dict[str, tuple[CircuitBreaker, object, BreakerPart]] = {}
        self._slot: tuple[int, int] | None = None
        self.states: dict[str, TargetState] = {}
        self._probes: dict[str, Probe] = {}
        self._heap: list[tuple[float, int, str, int]] = []
        self._seq = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduler: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._slots = Slots(config.monitor.concurrency)
        self._deadlines = Deadlines()  # every probe's bound: timeout + 1 s
        self.local_network: Condition | None = None
        self._answered: set[str] = set()  # targets whose last result shows a server answered
        self._silent: set[str] = set()    # targets whose last result shows nothing answered
        for target in config.targets:
            if target.enabled:
                self._add(target)
        self._unpaused = len(self.states)
        self._canaries = any(s.target.canary for s in self.states.values())
        #: Whether each target is critical (the overall status only counts those).
        self.critical: dict[str, bool] = {n: s.target.critical for n, s in self.states.items()}
        self._fed: dict[str, list[TargetState]] = {}  # breaker name -> targets feeding it
        for state in self.states.values():
            self._fed.setdefault(state.breaker, []).append(state)
        self._watched: set[str] = set()
        self._watched_len = -1
        self._unsettled: dict[str, object] = {}  # breakers not closed -> last breaker_key
        self._watch_breakers()

    # --- lifecycle ---------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._scheduler is not None and not self._scheduler.done()

    async def start(self) -> None:
        """Schedule every target (first probe at a random phase) and start the scheduler."""
        if self.running:
            return
        if self.workers is not None:
            self.workers.start()
        now = self.clock.monotonic()
        for state in self.states.values():
            spread = min(state.interval_s, FIRST_ROUND_S)
            self._schedule(state, now + self.rng.uniform(0, spread))
        self._scheduler = asyncio.create_task(self._run(), name="netmon-monitor")

    async def seed_from(self, history: HistoryStore) -> None:
        """Load success windows and recent results from ``history`` (call before ``start``).

        So a restart changes nothing a user can see: the 5 min / 1 h / 24 h rates, the
        percentiles and the graph carry on from the stored results.
        """
        recall = await history.recall(self.states, self.clock, ring=self.memory.maxlen)
        for name, state in self.states.items():
            for start, total, failures in recall.counts.get(name, ()):
                state.windows.add_counts(start, total, failures)
            self.memory.extend(name, recall.recent.get(name, ()))
            state.revision += 1

    async def stop(self) -> None:
        """Cancel the scheduler and every probe in flight, and wait for them."""
        tasks = [t for t in (self._scheduler, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._scheduler = None
        self._tasks.clear()
        if self.workers is not None:
            await self.workers.aclose()
        if self._owns_context:
            await self.context.aclose()

    async def __aenter__(self) -> HealthMonitor:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- control -----------------------------------------------------------------------
    async def probe_now(self, name: str) -> ProbeResult:
        """Probe ``name`` at once (outside its schedule) and record the result."""
        state = self._state(name)
        return await self._probe(state)

    async def run_once(self, names: Iterable[str] | None = None) -> list[ProbeResult]:
        """Probe the named targets (default: all enabled) once, concurrently."""
        chosen = [self._state(n) for n in names] if names is not None else list(
            self.states.values())
        return list(await asyncio.gather(*(self._probe(s) for s in chosen)))

    def pause(self, name: str) -> None:
        """Stop scheduling ``name`` until ``resume``."""
        state = self._state(name)
        if not state.paused:
            self._unpaused -= 1
        state.paused = True
        state.revision += 1
        self._answered.discard(name)
        self._silent.discard(name)
        state.schedule_gen += 1
        self._rejudge_local_network()

    def resume(self, name: str) -> None:
        """Schedule ``name`` again, due now."""
        state = self._state(name)
        if state.paused:
            state.paused = False
            state.revision += 1
            self._unpaused += 1
            if self.running:
                self._schedule(state, self.clock.monotonic())
                self._wake.set()
            self._rejudge_local_network()

    def apply_config(self, config: Config) -> list[str]:
        """Take ``config`` while running; returns the names whose state was (re)built.

        Targets whose definition is unchanged keep their state, rates and schedule; a new or
        changed target starts afresh (``unknown``, its old ring results dropped: they
        measured another definition) and is probed at once; a removed or disabled one is
        dropped, and a probe of it still in flight is not recorded. Monitor settings
        (interval, timeouts, thresholds, concurrency) apply from the next probe.
        """
        old = self.config
        self.config = config
        self.context.default_timeout_s = config.monitor.timeout_s
        if config.monitor.concurrency != old.monitor.concurrency:
            self._slots = Slots(config.monitor.concurrency)
        wanted = {t.name: t for t in config.targets if t.enabled}
        before = set(self.states)
        rebuilt: list[str] = []
        for name, state in list(self.states.items()):
            target = wanted.get(name)
            if target == state.target:
                interval = max(1.0, target.interval_s or config.monitor.interval_s)
                if interval != state.interval_s:
                    state.interval_s = interval
                    if self.running and not state.paused:
                        self._schedule(state, self.clock.monotonic() + interval)
                state.breaker = breaker_for(target, config)
                continue
            del self.states[name]
            self._probes.pop(name, None)
            self._cache.pop(name, None)
            self.memory.forget(name)
            self._answered.discard(name)
            self._silent.discard(name)
        for name, target in wanted.items():
            if name not in self.states:
                self._add(target)
                rebuilt.append(name)
                if self.running:
                    self._schedule(self.states[name], self.clock.monotonic())
        self.states = {name: self.states[name] for name in wanted}  # the config's order
        self._unpaused = sum(1 for s in self.states.values() if not s.paused)
        self._canaries = any(s.target.canary for s in self.states.values())
        self.critical = {n: s.target.critical for n, s in self.states.items()}
        self._fed = {}
        for state in self.states.values():
            self._fed.setdefault(state.breaker, []).append(state)
            state.revision += 1  # its breaker or settings may have changed: rebuild entries
        self._watched_len = -1  # follow breakers that targets feed now
        self._breaker_parts.clear()
        if self.workers is not None and (rebuilt or set(wanted) != before):
            self._replace_workers(config)
        self._rejudge_local_network()
        self._wake.set()
        return rebuilt

    def _replace_workers(self, config: Config) -> None:
        """Workers know their targets from the start: changed targets need new workers; the
        old ones finish the probes they have in flight, then close, in an owned task
        (``stop`` cancels and awaits it)."""
        retired = self.workers
        self.workers = ProbeWorkers([t for t in config.targets if t.enabled],
                                    config.monitor.workers,
                                    default_timeout_s=config.monitor.timeout_s)
        if self.running:
            self.workers.start()
        if retired is not None:
            longest = max((t.timeout_s or config.monitor.timeout_s for t in config.targets),
                          default=config.monitor.timeout_s)
            task = asyncio.create_task(retired.retire(longest + 1.0),
                                       name="netmon-workers-retire")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def targets_of(self, breaker: str) -> list[TargetState]:
        """The targets whose probes feed the breaker called ``breaker``."""
        return list(self._fed.get(breaker, ()))

    def snapshot(self) -> list[dict[str, Any]]:
        """Every target's state as the ``targets`` part of the status snapshot.

        Incremental: each target's entry is kept from the last snapshot and rebuilt only
        when its ``revision`` moved (a result, pause or resume, a missed turn, seeding, a
        transition of its breaker); success rates are refreshed for every target only when
        a rate window moves on to a new slot (once a minute); percentiles come from the
        memory ring's sorted latencies. So a snapshot of 1,000 quiet targets copies 1,000
        cached dicts instead of sorting 1,000 rings. Each call returns new dicts (the nested
        ``phases``, ``success_rate``, ``breaker`` and ``resolvers`` values are shared with
        the cache: do not mutate them).

        Emits ``snapshot_changed`` with the names of the targets whose entry differs from
        the previous snapshot's (only when some does), so a view can update those rows only.
        """
        return [dict(entry) for entry in self.update_snapshot()[0]]

    def update_snapshot(self) -> tuple[list[dict[str, Any]], frozenset[str]]:
        """What ``snapshot()`` does without copying: the cached entries themselves (read
        only) and the names of the targets whose entry changed since the previous
        snapshot (``snapshot_changed`` is emitted with them when there are any)."""
        now = self.clock.monotonic()
        self._settle_breakers()
        slot = SuccessWindows.slot_key(now)
        new_slot = slot != self._slot
        self._slot = slot
        memory, cache = self.memory, self._cache
        changed: list[str] = []
        out = []
        for name, state in self.states.items():
            cached = cache.get(name)
            if cached is None or cached.revision != state.revision:
                entry = state._entry(state.windows.shared_rates(now),
                                     memory.latency_percentile(name, 50),
                                     memory.latency_percentile(name, 95),
                                     self._breaker_part(state.breaker))
                if cached is None:
                    cache[name] = cached = _Cached(state.revision, entry)
                    changed.append(name)
                else:
                    if entry != cached.entry:
                        changed.append(name)
                    cached.revision, cached.entry = state.revision, entry
            elif new_slot:
                rates = state.windows.shared_rates(now)
                if rates != cached.entry["success_rate"]:
                    cached.entry = {**cached.entry, "success_rate": rates}
                    changed.append(name)
            out.append(cached.entry)
        names = frozenset(changed)
        if names:
            self.snapshot_changed.emit(names)
        return out, names

    def _breaker_part(self, name: str) -> BreakerPart:
        """``breaker_part`` of the breaker called ``name``, kept while its key holds still
        (targets fed by it share it; a breaker does not rebuild it for each result)."""
        breaker = self.breakers.get(name)
        if breaker is None:
            return None, ""
        key = breaker_key(breaker)
        kept = self._breaker_parts.get(name)
        if kept is not None and kept[0] is breaker and kept[1] == key:
            return kept[2]
        part = breaker_part(breaker)
        self._breaker_parts[name] = (breaker, key, part)
        return part

    def _watch_breakers(self) -> None:
        """Follow the transitions of the breakers targets feed (new ones included)."""
        for name, states in self._fed.items():
            breaker = self.breakers.get(name)
            if breaker is None or name in self._watched:
                continue
            self._watched.add(name)
            breaker.state_changed.connect(self._on_breaker)
            if breaker.state is not BreakerState.CLOSED:
                self._unsettled[name] = None
                for state in states:
                    state.revision += 1
        self._watched_len = len(self.breakers)

    def _on_breaker(self, transition: BreakerTransition) -> None:
        if transition.new is BreakerState.CLOSED:
            self._unsettled.pop(transition.breaker, None)
        else:
            self._unsettled[transition.breaker] = None
        for state in self._fed.get(transition.breaker, ()):
            state.revision += 1

    def _settle_breakers(self) -> None:
        """Before a snapshot: an open breaker whose timeout passed turns half-open when read,
        and one forced open again changes its times without a transition; re-read those."""
        if len(self.breakers) != self._watched_len:
            self._watch_breakers()
        for name, seen in list(self._unsettled.items()):
            key = breaker_key(self.breakers.get(name))
            if key != seen and name in self._unsettled:
                self._unsettled[name] = key
                for state in self._fed.get(name, ()):
                    state.revision += 1

    # --- scheduling --------------------------------------------------------------------
    def _add(self, target: Target) -> None:
        interval = target.interval_s or self.config.monitor.interval_s
        self.states[target.name] = TargetState(target, max(1.0, interval),
                                               breaker_for(target, self.config))
        if self.workers is None:
            self._probes[target.name] = self.probe_factory(target, self.context)

    def _state(self, name: str) -> TargetState:
        try:
            return self.states[name]
        except KeyError:
            raise KeyError(f"no enabled target named {name!r}") from None

    def _schedule(self, state: TargetState, due: float) -> None:
        state.schedule_gen += 1
        state.next_due = due
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, state.name, state.schedule_gen))

    async def _run(self) -> None:
        handle: Cancellable | None = None
        try:
            while True:
                self._wake.clear()
                delay = self._launch_due()
                handle = None if delay is None else self.clock.call_later(delay, self._wake.set)
                await self._wake.wait()
                if handle is not None:
                    handle.cancel()
        finally:
            if handle is not None:
                handle.cancel()

    def _launch_due(self) -> float | None:
        """Start every probe that is due; returns seconds until the next one."""
        now = self.clock.monotonic()
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, _, name, gen = heapq.heappop(heap)
            state = self.states.get(name)
            if state is None or state.paused or gen != state.schedule_gen:
                continue
            next_due = due + state.interval_s
            if next_due <= now:  # fell behind (e.g. the machine slept): restart the rhythm
                next_due = now + state.interval_s
            self._schedule(state, next_due)
            if state.in_flight:
                state.missed += 1
                state.revision += 1
                continue
            task = asyncio.create_task(self._probe_task(state), name=f"probe:{name}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return max(0.0, heap[0][0] - now) if heap else None

    async def _probe_task(self, state: TargetState) -> None:
        await self._probe(state)

    async def _probe(self, state: TargetState) -> ProbeResult:
        state.in_flight += 1
        try:
            async with self._slots:
                result = await self._bounded(state)
        finally:
            state.in_flight -= 1
        self._record(state, result)
        return result

    async def _bounded(self, state: TargetState) -> ProbeResult:
        target = state.target
        timeout = target.timeout_s or self.config.monitor.timeout_s
        started = self.clock.now()
        try:
            if self.workers is not None:
                await self.workers.ready(target)  # starting a worker is not probe time
            with self._deadlines.after(timeout + 1.0):
                if self.workers is not None:
                    return await self.workers.run(target)
                return await self._probes[target.name].run()
        except TimeoutError:
            return ProbeResult(target.name, target.kind, False, timeout * 1000, started,
                               error_kind=ErrorKind.TIMEOUT,
                               error=f"probe did not finish within {timeout:g}s")
        except Exception as exc:  # a probe bug must not stop the monitor
            _log.exception("probe of %s failed unexpectedly", target.name)
            return ProbeResult(target.name, target.kind, False, None, started,
                               error_kind=classify(exc), error=describe(exc))

    # --- state machine -----------------------------------------------------------------
    def _record(self, state: TargetState, result: ProbeResult) -> None:
        if self.states.get(state.name) is not state:
            return  # removed or redefined by apply_config while this probe ran
        state.last = result
        state.probes += 1
        state.revision += 1
        state.windows.add(self.clock.monotonic(), result.ok)
        self.memory.add(result)  # a compact copy; state.last keeps all
        if self.history is not None:
            self.history.add(result)
        new, reason = judge_status(state, result, self.config.monitor)
        old = state.status
        state.status, state.reason = new, reason
        breaker = self.breakers.get(state.breaker)
        if breaker is not None and self.config.breaker.follow_probes:
            if result.ok:
                breaker.probe_succeeded()
            elif not result.degraded:
                breaker.probe_failed(result.error_kind or ErrorKind.UNKNOWN)
        self.result_recorded.emit(result)
        if new is not old:
            level = logging.WARNING if new is TargetStatus.DOWN else logging.INFO
            _log.log(level, "%s %s %s -> %s: %s", PREFIX_NETWORK, state.name, old, new, reason)
            self.status_changed.emit(StatusChange(state.name, old, new, reason,
                                                  result.checked_at))
        self._check_local_network(result)

    def _check_local_network(self, result: ProbeResult) -> None:
        """One "local network down" condition instead of N separate outages, on evidence
        only: every watched target silent (unreachable or timed out, no server answering)
        across at least two hosts, or the OS saying it has no route; never while any server
        answers (a DNS rcode, a refusal, an HTTP status, a TLS handshake)."""
        verdict = evidence(result)
        self._answered.discard(result.target)
        self._silent.discard(result.target)
        if verdict is Evidence.ANSWERED:
            self._answered.add(result.target)
        elif verdict is Evidence.SILENT:
            self._silent.add(result.target)
        current = self.local_network is not None and self.local_network.active
        if not current and (self._answered or len(self._silent) < self._watched_count()):
            return  # the common case: O(1) per result while anything answers
        self._rejudge_local_network(result.checked_at)

    def _rejudge_local_network(self, at: datetime | None = None) -> None:
        """Judge the condition again from every watched target's last result (also after
        pause, resume and a config change, which change who is watched)."""
        current = self.local_network is not None and self.local_network.active
        active, detail = self._judge_local_network()
        if active == current:
            return
        self.local_network = Condition("local_network_down", active, detail,
                                       at or self.clock.now())
        if active:
            _log.warning("%s local network appears down: %s", PREFIX_NETWORK, detail)
        else:
            _log.info("%s local network is back: %s", PREFIX_NETWORK, detail)
        self.condition_changed.emit(self.local_network)

    def _watched_count(self) -> int:
        if self._canaries:
            return sum(1 for s in self.states.values() if s.target.canary and not s.paused)
        return max(1, self._unpaused)

    def _judge_local_network(self) -> tuple[bool, str]:
        unpaused = [s for s in self.states.values() if not s.paused]
        return judge_local_network(unpaused, canaries=self._canaries)


def breaker_for(target: Target, config: Config) -> str:
    """The breaker a target's probes feed: the one its ``breaker`` names, ``database`` for
    the ``[database]`` target, else one of its own name."""
    if target.breaker:
        return target.breaker
    return "database" if target.name == config.database.target else target.name
