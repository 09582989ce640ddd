#!/usr/bin/env python
"""What ``core.status()`` costs with many targets, each with a full memory ring.

Run:  python tests/benchmarks/bench_status.py [--targets 1000] [--ring 720] [--rounds 20]

A ``NetmonCore`` (no history, no database) with N targets (a quarter each dns, http, tcp,
postgres), every target's memory ring filled with ``--ring`` results (one in ten failed)
through the monitor's own ``_record`` path for the last few and ``MemoryHistory.extend``
for the rest, a tenth of the targets failing now (so suggestions are built), one breaker
per target (the runtime's default). Then, on a FakeClock:

- ``steady``: ``status()`` again and again with nothing new (the console's 1 s refresh
  while nothing changed);
- ``changed K``: K targets get a new result between two snapshots;
- ``all changed``: every target has a new result (a 1 s interval on every target);
- ``minute``: the clock crosses a success-rate slot boundary between two snapshots.

Medians and maxima of wall time per call in ms, and process CPU per call (median and
minimum: CPU time is far less disturbed by neighbours than wall time), then the same for
the parts of ``status()``. Only compare rows of one run on a busy machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.config import Config, MonitorSettings, Target  # noqa: E402
from core.errors import ErrorKind  # noqa: E402
from core.probes.base import ProbeResult  # noqa: E402
from core.recovery import suggest  # noqa: E402
from core.runtime import NetmonCore  # noqa: E402
from core.status import _breaker_entry  # noqa: E402
from core.testing import FakeClock, seeded_rng  # noqa: E402

KINDS = ("dns", "http", "tcp", "postgres")


def target(i: int) -> Target:
    kind = KINDS[i % 4]
    name = f"{kind}-{i}"
    if kind == "dns":
        return Target(name=name, kind="dns", host=f"h{i}.example", nameservers=["127.0.0.1"])
    if kind == "http":
        return Target(name=name, kind="http", url=f"http://127.0.0.1:{8000 + i % 50}/h{i}")
    if kind == "tcp":
        return Target(name=name, kind="tcp", host="127.0.0.1", port=9000 + i % 50)
    return Target(name=name, kind="postgres", dsn=f"postgresql://u@127.0.0.1:{5432 + i % 5}/d")


def result(core: NetmonCore, name: str, kind: str, j: int, failing: bool,
           ago_s: float = 0.0) -> ProbeResult:
    """The ``j``-th result of a target, checked ``ago_s`` seconds before the clock's now."""
    clock = core.clock
    ok = not failing and j % 10 != 7
    details = {}
    if kind == "dns":
        details = {"resolvers": [{"resolver": "os", "ok": ok, "rcode": None,
                                  "addresses": ["127.0.0.1"] if ok else [],
                                  "error_kind": None if ok else "dns_timeout",
                                  "latency_ms": 1.5, "error": None}]}
    return ProbeResult(name, kind, ok, 1.0 + (j * 7919 % 1000) / 37.0,
                       clock.now() - timedelta(seconds=ago_s),
                       phases={"dns": 0.4, "connect": 0.6},
                       error_kind=None if ok else ErrorKind.CONNECTION_REFUSED,
                       error=None if ok else "refused", details=details)


def build(n: int, ring: int) -> NetmonCore:
    clock = FakeClock()
    config = Config(monitor=MonitorSettings(interval_s=1.0), targets=[target(i) for i in range(n)])
    core = NetmonCore(config, clock=clock, rng=seeded_rng(1), with_history=False,
                      with_database=False)
    monitor = core.monitor
    for i, (name, state) in enumerate(monitor.states.items()):
        failing = i % 10 == 3
        kind = state.target.kind
        # one result a second, the newest now: as a 1 s interval leaves the ring
        old = [result(core, name, kind, j, False, ring - 1 - j) for j in range(ring - 5)]
        monitor.memory.extend(name, old)
        state.windows.add_counts(clock.monotonic(), len(old), sum(not r.ok for r in old))
        for j in range(5):
            monitor._record(state, result(core, name, kind, ring - 5 + j, failing, 4 - j))
    return core


def cpu_ms(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall ms, process CPU ms) of one call."""
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return (time.perf_counter() - w0) * 1000, (time.process_time() - c0) * 1000


def case(core: NetmonCore, rounds: int, before: Callable[[int], None],
         measured: Callable[[], object] | None = None) -> list[tuple[float, float]]:
    """``rounds`` timings of ``measured`` (default ``core.status``), each after
    ``before(round)`` changed something."""
    out = []
    for r in range(rounds):
        before(r)
        out.append(cpu_ms(measured or core.status))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--ring", type=int, default=720)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    logging.getLogger("netmon").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    core = build(args.targets, args.ring)
    monitor = core.monitor
    clock = core.clock
    assert isinstance(clock, FakeClock)
    print(f"built {args.targets} targets x {args.ring} results in "
          f"{time.perf_counter() - t0:.1f} s; load average before: {os.getloadavg()}")
    core.status()  # the first snapshot builds every entry
    states = list(monitor.states.values())
    counter = [0]

    def record(k: int) -> None:
        for _ in range(k):
            state = states[counter[0] % len(states)]
            counter[0] += 1
            monitor._record(state, result(core, state.name, state.target.kind, counter[0],
                                          False))
        clock.advance(0.001)

    rows = [
        ("steady (nothing changed)", case(core, args.rounds, lambda r: None)),
        ("10 targets changed", case(core, args.rounds, lambda r: record(10))),
        ("100 targets changed", case(core, args.rounds, lambda r: record(100))),
        ("all targets changed", case(core, max(3, args.rounds // 4),
                                     lambda r: record(len(states)))),
        ("minute boundary crossed", case(core, max(3, args.rounds // 4),
                                         lambda r: clock.advance(60.0))),
    ]
    parts = {
        "monitor.snapshot()": monitor.snapshot,
        "breakers entries": lambda: [_breaker_entry(b) for b in core.breakers.values()],
        "suggest()": lambda: suggest(monitor=monitor, breakers=core.breakers.values()),
    }
    for label, fn in parts.items():
        rows.append((f"  part: {label}", case(core, args.rounds, lambda r: None, fn)))
    print(f"{'case':<28} {'wall p50 ms':>11} {'wall max':>9} {'cpu p50 ms':>10} "
          f"{'cpu min':>8}")
    for label, samples in rows:
        walls = [w for w, _ in samples]
        cpus = [c for _, c in samples]
        print(f"{label:<28} {statistics.median(walls):>11.2f} {max(walls):>9.2f} "
              f"{statistics.median(cpus):>10.2f} {min(cpus):>8.2f}")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
