#!/usr/bin/env python
"""Chaos soak: 100 targets (25 each DNS, HTTP, TCP, PostgreSQL, all on 127.0.0.1) watched
by a real ``NetmonCore`` while a seeded chaos driver cuts, blackholes, delays and resets
them through fault proxies and makes the DNS server answer SERVFAIL or go silent.

Run:  python -m tests.soak.soak                   # ~5 minutes
      python -m tests.soak.soak --minutes 30      # longer
      python -m tests.soak.soak --seed 7 --workers 2 --out /tmp/soak

Not part of the default pytest run (``testpaths`` lists tests/core and tests/gui only; no
file here is named ``test_*``). Needs the PostgreSQL server binaries (see NOTES.md).

At the end it checks, prints as one JSON summary (also ``summary.json`` in ``--out``) and
exits 1 if any fails:

- ``detection``: every injected outage made its target ``down`` within
  ``interval x down_after + interval`` of the injection;
- ``breakers``: each target's breaker went through exactly the transitions the breaker
  rules give for the results its probes recorded (closed -> open after
  ``failure_threshold`` network failures in a row, open -> half_open on a probe success
  or after ``reset_timeout``, half_open -> closed after ``success_threshold`` successes,
  half_open -> open on a network failure); every outage whose results call for it opened
  the breaker, and every breaker is closed at the end;
- ``history``: rows in the SQLite history == probes run == results recorded, no
  duplicate (target, time);
- ``exceptions``: no exception reached the loop's handler and nothing was logged at
  ERROR or above;
- ``memory``: RSS growth from the end of the warm-up to the end under ``--memory-mb``;
- ``loop_lag``: p99 lag of a 10 ms ticker on the monitor's loop under 50 ms (warm-up
  excluded).

It writes ``timeline.png`` (status per target, breaker state per target, loop lag; drawn
with pyqtgraph offscreen) beside the summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import multiprocessing as mp
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.breaker import BreakerTransition
from core.config import (
    BreakerSettings,
    Config,
    HistorySettings,
    MonitorSettings,
    Target,
)
from core.errors import NETWORK_KINDS, ErrorKind
from core.gc_settle import freeze_startup_objects
from core.monitor import StatusChange
from core.probes.base import ProbeResult
from core.runtime import NetmonCore
from tests.soak import world

PER_KIND = 25
INTERVAL_S = 2.0
TIMEOUT_S = 1.0
DOWN_AFTER = 3
FAILURE_THRESHOLD = 3
RESET_TIMEOUT_S = 10.0
SUCCESS_THRESHOLD = 1
LAG_AIM_MS = 50.0
TICK_S = 0.010
WARMUP_S = 15.0
PG_ENV = "NETMON_SOAK_PG_PASSWORD"
STATUS_CODE = {"unknown": 0, "up": 1, "degraded": 2, "down": 3}
BREAKER_CODE = {"closed": 0, "half_open": 1, "open": 2, "forced_open": 2}


@dataclass
class Record:
    """Everything the soak saw, in the monitor's process."""

    results: dict[str, list[tuple[float, bool, bool, str | None]]] = field(default_factory=dict)
    changes: list[tuple[float, str, str]] = field(default_factory=list)  # wall, target, new
    transitions: dict[str, list[tuple[float, str, str]]] = field(default_factory=dict)
    lags: list[tuple[float, float]] = field(default_factory=list)  # (monotonic, lag s)
    loop_errors: list[str] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)  # (monotonic, MB)
    timeline: list[tuple[float, list[int], list[int]]] = field(default_factory=list)
    recorded: int = 0


class _Errors(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(f"{record.name}: {record.getMessage()}")


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, AttributeError):
        return math.nan


def make_config(ports: dict[str, Any], history: Path, workers: int) -> Config:
    pg = ports["pg"]
    proxies = ports["proxies"]
    targets = []
    for i in range(PER_KIND):
        targets.append(Target(name=f"dns-{i}", kind="dns", host=f"t{i}.soak",
                              nameservers=[f"127.0.0.1:{ports['dns_port']}"],
                              system_nameservers=False, resolver="direct",
                              record_types=["A"]))
    for i in range(PER_KIND):
        targets.append(Target(name=f"http-{i}", kind="http",
                              url=f"http://127.0.0.1:{proxies[f'http-{i}']}/health"))
    for i in range(PER_KIND):
        targets.append(Target(name=f"tcp-{i}", kind="tcp", host="127.0.0.1",
                              port=proxies[f"tcp-{i}"]))
    for i in range(PER_KIND):
        targets.append(Target(
            name=f"postgres-{i}", kind="postgres", sslmode="disable", password_env=PG_ENV,
            dsn=f"postgresql://{pg['user']}@127.0.0.1:{proxies[f'postgres-{i}']}/"
                f"{pg['database']}"))
    return Config(
        monitor=MonitorSettings(interval_s=INTERVAL_S, timeout_s=TIMEOUT_S,
                                down_after=DOWN_AFTER, up_after=1, concurrency=128,
                                workers=workers),
        breaker=BreakerSettings(failure_threshold=FAILURE_THRESHOLD,
                                reset_timeout_s=RESET_TIMEOUT_S,
                                success_threshold=SUCCESS_THRESHOLD),
        history=HistorySettings(enabled=True, path=str(history)),
        targets=targets)


# --- what the rules say ----------------------------------------------------------------
def replay_breaker(results: list[tuple[float, bool, bool, str | None]], until: float,
                   opened_at: Sequence[float] = ()) -> list[tuple[float, str, str]]:
    """The transitions the breaker rules give for one target's recorded results (time
    order) up to monotonic time ``until``: the spec, written out independently of
    core/breaker.py.

    Whether the breaker opens is decided here; *when* it opened is read from ``opened_at``
    (the breaker's own open events) where one is within half a second: this process sees a
    result a little after the breaker did, so timing the reset from its own reading would
    move the half-open boundary past a result the breaker already judged half-open.
    """
    state, failures, successes, opened = "closed", 0, 0, 0.0

    def open_time(t: float) -> float:
        near = [o for o in opened_at if abs(o - t) <= 0.5]
        return min(near, key=lambda o: abs(o - t)) if near else t
    out: list[tuple[float, str, str]] = []

    def move(t: float, new: str) -> None:
        nonlocal state
        out.append((t, state, new))
        state = new

    for t, ok, degraded, kind in results:
        if state == "open" and t >= opened + RESET_TIMEOUT_S:
            move(opened + RESET_TIMEOUT_S, "half_open")
            successes = 0
        if ok:
            if state == "closed":
                failures = 0
            elif state == "open":
                move(t, "half_open")
                successes = 0
            elif state == "half_open":
                successes += 1
                if successes >= SUCCESS_THRESHOLD:
                    failures = 0
                    move(t, "closed")
        elif not degraded and kind is not None and ErrorKind(kind) in NETWORK_KINDS:
            if state == "closed":
                failures += 1
                if failures >= FAILURE_THRESHOLD:
                    opened = open_time(t)
                    move(t, "open")
            elif state == "half_open":
                failures += 1
                opened = open_time(t)
                move(t, "open")
    if state == "open" and until >= opened + RESET_TIMEOUT_S:
        move(opened + RESET_TIMEOUT_S, "half_open")
    return out


def pct(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


# --- the run ----------------------------------------------------------------------------
async def lag_ticker(record: Record, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        expected = loop.time() + TICK_S
        await asyncio.sleep(TICK_S)
        record.lags.append((time.monotonic(), loop.time() - expected))


async def sampler(core: NetmonCore, record: Record, stop: asyncio.Event) -> None:
    names = list(core.monitor.states)
    while not stop.is_set():
        statuses = [STATUS_CODE[str(core.monitor.states[n].status)] for n in names]
        breakers = [BREAKER_CODE[str(core.breakers[n].state)] for n in names]
        record.timeline.append((time.monotonic(), statuses, breakers))
        record.rss.append((time.monotonic(), rss_mb()))
        core.status()  # a console refreshing every second
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def run(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    duration = args.minutes * 60
    tail_s = RESET_TIMEOUT_S + 6 * INTERVAL_S  # let the last breakers close
    chaos_s = max(30.0, duration - WARMUP_S - tail_s)
    ctx = mp.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    child = ctx.Process(target=world.main, args=(child_conn, PER_KIND), daemon=True,
                        name="soak-world")
    child.start()
    loop = asyncio.get_running_loop()
    ports: dict[str, Any] = await loop.run_in_executor(None, conn.recv)
    os.environ[PG_ENV] = ports["pg"]["password"]
    config = make_config(ports, out / "history.sqlite3", args.workers)
    record = Record()
    errors_handler = _Errors(record.loop_errors)
    for name in ("netmon", "asyncio"):
        logging.getLogger(name).addHandler(errors_handler)
    logging.getLogger("netmon").setLevel(logging.WARNING)
    loop.set_exception_handler(
        lambda _loop, context: record.loop_errors.append(f"loop: {context.get('message')} "
                                                         f"{context.get('exception')!r}"))
    core = NetmonCore(config, with_database=False)

    def on_result(result: ProbeResult) -> None:
        record.recorded += 1
        record.results.setdefault(result.target, []).append(
            (time.monotonic(), result.ok, result.degraded,
             str(result.error_kind) if result.error_kind else None))

    def on_change(change: StatusChange) -> None:
        record.changes.append((time.time(), change.target, str(change.new)))

    def on_breaker(transition: BreakerTransition) -> None:
        record.transitions.setdefault(transition.breaker, []).append(
            (time.monotonic(), str(transition.old), str(transition.new)))

    core.monitor.result_recorded.connect(on_result)
    core.monitor.status_changed.connect(on_change)
    for breaker in core.breakers.values():
        breaker.state_changed.connect(on_breaker)
    stop = asyncio.Event()
    started = time.monotonic()
    await core.start()
    if core.monitor.workers is not None:
        await core.monitor.workers.started()
    freeze_startup_objects()  # as `netmon monitor`, `netmon serve` and the console do
    helpers = [asyncio.create_task(lag_ticker(record, stop)),
               asyncio.create_task(sampler(core, record, stop))]
    try:
        await asyncio.sleep(WARMUP_S)
        plan = world.Plan(seed=args.seed, chaos_s=chaos_s, gap_s=args.gap,
                          min_outage_s=INTERVAL_S * (DOWN_AFTER + 1) + 2, max_outage_s=25.0,
                          cooldown_s=RESET_TIMEOUT_S + 3 * INTERVAL_S,
                          max_concurrent=args.max_concurrent, probe_timeout_s=TIMEOUT_S)
        conn.send(plan)
        outages = [world.Outage(**o) for o in await loop.run_in_executor(None, conn.recv)]
        await asyncio.sleep(tail_s)
    finally:
        stop.set()
        await asyncio.gather(*helpers, return_exceptions=True)
        await core.monitor.stop()
        assert core.history is not None
        await core.history.flush()
        stored = await core.history.count()
        probes = sum(s.probes for s in core.monitor.states.values())
        await core.stop()
        conn.send("stop")
        child.join(30)
        if child.is_alive():
            child.terminate()
    ended = time.monotonic()
    with sqlite3.connect(out / "history.sqlite3") as db:
        distinct = db.execute("SELECT COUNT(*) FROM (SELECT DISTINCT target, ts FROM results)"
                              ).fetchone()[0]
    return judge(args, out, record, outages, stored, distinct, probes, started, ended,
                 list(core.monitor.states), chaos_s)


def judge(args: argparse.Namespace, out: Path, record: Record, outages: list[world.Outage],
          stored: int, distinct: int, probes: int, started: float, ended: float,
          names: list[str], chaos_s: float) -> dict[str, Any]:
    bound = INTERVAL_S * DOWN_AFTER + INTERVAL_S
    detections = []
    for o in outages:
        down = [t for t, name, new in record.changes
                if name == o.target and new == "down" and o.start <= t <= o.end + TIMEOUT_S + 1]
        delay = (down[0] - o.start) if down else math.inf
        detections.append({"target": o.target, "fault": o.fault,
                           "outage_s": round(o.end - o.start, 1),
                           "detected_after_s": round(delay, 2) if down else None,
                           "ok": delay <= bound})
    # breakers: actual transitions == the rules replayed over the recorded results
    def opened_at(name: str) -> list[float]:
        return [t for t, _, new in record.transitions.get(name, []) if new == "open"]

    mismatched = []
    opened_as_needed = True
    wall_offset = time.time() - time.monotonic()
    for name in names:
        replayed = replay_breaker(record.results.get(name, []), ended, opened_at(name))
        expected = [(old, new) for _, old, new in replayed]
        actual = [(old, new) for _, old, new in record.transitions.get(name, [])]
        if expected != actual:
            mismatched.append({"breaker": name, "expected": expected[:12],
                               "actual": actual[:12]})
    for o, d in zip(outages, detections, strict=True):
        lo, hi = o.start - wall_offset, o.end - wall_offset + TIMEOUT_S + 1
        replayed = replay_breaker(record.results.get(o.target, []), ended,
                                  opened_at(o.target))
        should = any(new == "open" and lo <= t <= hi for t, _, new in replayed)
        did = any(new == "open" and lo <= t <= hi
                  for t, _, new in record.transitions.get(o.target, []))
        d["breaker_opened"] = did
        if should and not did:
            opened_as_needed = False
    final = {name: (record.timeline[-1][2][i] if record.timeline else -1)
             for i, name in enumerate(names)}
    not_closed = [n for n, code in final.items() if code != BREAKER_CODE["closed"]]
    lags = [lag * 1000 for t, lag in record.lags if t >= started + WARMUP_S]
    rss_after_warmup = next((mb for t, mb in record.rss if t >= started + WARMUP_S), math.nan)
    rss_end = record.rss[-1][1] if record.rss else math.nan
    growth = rss_end - rss_after_warmup
    checks = {
        "detection": all(d["ok"] for d in detections) and bool(detections),
        "breakers": not mismatched and opened_as_needed and not not_closed,
        "history": stored == probes == record.recorded == distinct,
        "exceptions": not record.loop_errors,
        "memory": growth <= args.memory_mb,
        "loop_lag": pct(lags, 99) < LAG_AIM_MS,
    }
    faults: dict[str, int] = {}
    for o in outages:
        faults[f"{o.kind}:{o.fault}"] = faults.get(f"{o.kind}:{o.fault}", 0) + 1
    delays = [d["detected_after_s"] for d in detections if d["detected_after_s"] is not None]
    summary = {
        "passed": all(checks.values()),
        "checks": checks,
        "run": {"seconds": round(ended - started, 1), "chaos_s": chaos_s, "seed": args.seed,
                "targets": len(names), "interval_s": INTERVAL_S, "timeout_s": TIMEOUT_S,
                "down_after": DOWN_AFTER, "workers": args.workers,
                "load_average": os.getloadavg()},
        "outages": {"injected": len(outages), "by_fault": faults,
                    "detected_within_s": bound,
                    "detection_s_p50": pct(delays, 50), "detection_s_max": max(delays,
                                                                               default=None),
                    "missed": [d for d in detections if not d["ok"]][:10]},
        "breakers": {"transitions": sum(len(v) for v in record.transitions.values()),
                     "opened_in_outages": sum(1 for d in detections if d["breaker_opened"]),
                     "mismatched_with_rules": mismatched[:5], "not_closed_at_end": not_closed},
        "history": {"rows": stored, "probes_run": probes, "results_recorded": record.recorded,
                    "distinct_target_time": distinct},
        "exceptions": record.loop_errors[:10],
        "memory": {"rss_mb_after_warmup": round(rss_after_warmup, 1),
                   "rss_mb_end": round(rss_end, 1), "growth_mb": round(growth, 1),
                   "bound_mb": args.memory_mb},
        "loop_lag_ms": {"p50": round(pct(lags, 50), 2), "p99": round(pct(lags, 99), 2),
                        "max": round(max(lags, default=math.nan), 2), "aim_p99": LAG_AIM_MS},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "outages.json").write_text(json.dumps([asdict(o) for o in outages], indent=2))
    return {**summary, "_record": record, "_names": names, "_started": started}


def timeline_png(path: Path, record: Record, names: list[str], started: float) -> None:
    """Status per target, breaker state per target and loop lag against time, as a PNG
    (pyqtgraph offscreen; imported here only: core never imports Qt)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    import pyqtgraph as pg
    import pyqtgraph.exporters
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(background="w", foreground="k", antialias=False)
    layout = pg.GraphicsLayoutWidget()
    layout.resize(1600, 1100)
    times = np.array([t - started for t, _, _ in record.timeline])
    status = np.array([s for _, s, _ in record.timeline], dtype=float)
    breaker = np.array([b for _, _, b in record.timeline], dtype=float)
    colours = {  # one colour per code (positions are 0..1 over the levels)
        "status": np.array([(200, 200, 200, 255), (60, 170, 60, 255), (240, 180, 0, 255),
                            (210, 40, 40, 255)], dtype=np.ubyte),
        "breaker": np.array([(60, 170, 60, 255), (240, 180, 0, 255), (210, 40, 40, 255)],
                            dtype=np.ubyte),
    }
    span = float(times[-1]) if len(times) else 1.0
    for row, (title, data, levels) in enumerate((
            ("status per target (grey unknown, green up, amber degraded, red down)", status,
             (0, 3)),
            ("breaker per target (green closed, amber half-open, red open)", breaker,
             (0, 2)))):
        plot = layout.addPlot(row=row, col=0, title=title)
        image = pg.ImageItem(data if len(data) else np.zeros((1, len(names))))
        key = "status" if row == 0 else "breaker"
        image.setLookupTable(colours[key])
        image.setLevels(levels)
        image.setRect(0, 0, span, len(names))
        plot.addItem(image)
        plot.setLabel("left", "target (dns 0-24, http, tcp, postgres 75-99)")
        plot.setLabel("bottom", "seconds")
    lag_plot = layout.addPlot(row=2, col=0, title="event-loop lag (10 ms ticker), ms")
    if record.lags:
        lag_plot.plot([t - started for t, _ in record.lags],
                      [lag * 1000 for _, lag in record.lags], pen=pg.mkPen((40, 80, 200)))
    lag_plot.addLine(y=LAG_AIM_MS, pen=pg.mkPen((210, 40, 40), width=2))
    lag_plot.setLabel("bottom", "seconds")
    layout.show()
    app.processEvents()
    pyqtgraph.exporters.ImageExporter(layout.scene()).export(str(path))
    layout.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="run length (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="chaos seed (default 1)")
    parser.add_argument("--gap", type=float, default=2.0,
                        help="mean seconds between injections (default 2)")
    parser.add_argument("--max-concurrent", type=int, default=8,
                        help="outages at once at most (default 8)")
    parser.add_argument("--workers", type=int, default=0, help="[monitor] workers (default 0)")
    parser.add_argument("--memory-mb", type=float, default=64.0,
                        help="allowed RSS growth after the warm-up (default 64 MB)")
    parser.add_argument("--out", type=Path, help="output folder (default: a temp folder)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="netmon-soak-"))
    out.mkdir(parents=True, exist_ok=True)
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                "ALL_PROXY"):
        os.environ.pop(var, None)  # loopback only
    summary = asyncio.run(run(args, out))
    timeline_png(out / "timeline.png", summary.pop("_record"), summary.pop("_names"),
                 summary.pop("_started"))
    print(json.dumps(summary, indent=2, default=str))
    print(f"summary, outages and timeline.png in {out}")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
