#!/usr/bin/env python
"""How many targets the HealthMonitor sustains at a 1 s interval, CPU per probe against the
bare libraries, and the monitor's memory over a simulated 24 h.

Run:  python tests/benchmarks/bench_monitor.py [--quick] [--json PATH]

Lean loopback DNS and HTTP responders (``lean_servers.py``: canned answers, so the harness
takes little of the cores the monitor is measured on) run in a SEPARATE PROCESS (a
``multiprocessing`` spawn child with its own asyncio loop), so their CPU is not counted as
monitor CPU; the child reports its own CPU time, shown as ``srv cpu%``. All traffic stays
on 127.0.0.1 (proxy variables are removed from this process's environment). DNS targets
ask for ``localhost``: the probe's OS ``getaddrinfo`` is answered by the hosts file, never
by the machine's nameserver; the direct query goes to the loopback server. HTTP targets
GET ``http://localhost:PORT/health`` so the probe's dns phase is a real (hosts-file)
``getaddrinfo``.

Part 1 - capacity: a real-clock monitor with N targets (half dns, half http), interval 1 s,
timeout 2 s, concurrency 256, for each N of a ladder. After a warm-up, a 10 ms ticker task
measures event-loop lag (actual wake - expected) during the window. Sustained = p99 lag
<= 50 ms, completed >= 95 % of N x seconds, and no missed turn. A full run repeats the
first failing N as a what-if: the shared HTTP client keeping 8 idle connections, not 50.

Part 2 - CPU per call (``time.process_time``, whole process incl. the getaddrinfo threads)
of bare dnspython / httpx against DnsProbe.run() / HttpProbe.run() and the monitor's
``probe_now``, same worker pattern, contenders rotated over rounds, medians of per-round
ratios; plus the CPU of one bare httpx GET against the number of pooled connections.

Part 3 - memory: a FakeClock monitor with trivial in-process probes advanced through a
simulated day, tracemalloc current memory sampled every simulated hour (after
``gc.collect()``), the time of a full ``gc.collect()`` with the ring as the day left it,
plus the retained size of one REAL dns/http ProbeResult to project the size of the
720-results-per-target memory ring.

Only ratios and shapes from ONE run mean anything on a small noisy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import math
import multiprocessing as mp
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

for _var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
    os.environ.pop(_var, None)  # loopback only: never route the benchmark through a proxy

import dns.asyncresolver  # noqa: E402
import httpx  # noqa: E402

from core.clock import SystemClock  # noqa: E402
from core.config import Config, MonitorSettings, Target  # noqa: E402
from core.history import MemoryHistory  # noqa: E402
from core.monitor import HealthMonitor  # noqa: E402
from core.probes.base import ProbeContext, ProbeResult  # noqa: E402
from core.probes.dns import DnsProbe  # noqa: E402
from core.probes.http import HttpProbe  # noqa: E402
from core.testing import FakeClock, seeded_rng  # noqa: E402

# The aims (reported as OK/MISS, never asserted).
AIM_TARGETS = 1000
AIM_LAG_P99_MS = 50.0
AIM_COMPLETED = 0.95
AIM_OVERHEAD = 1.3
HOST = "localhost"  # hosts file -> 127.0.0.1; never the machine's nameserver
TICK_S = 0.010
WHAT_IF_WORKERS = 2


# =========================================================================== server child
def _server_main(conn: Any) -> None:
    """Child process: DNS + HTTP loopback servers on their own loop; answers 'stats'."""
    asyncio.run(_serve(conn))


async def _serve(conn: Any) -> None:
    from tests.benchmarks.lean_servers import start

    loop = asyncio.get_running_loop()
    dns_srv, dns_port, http_counts, http_port, close = await start(HOST)
    conn.send({"dns_port": dns_port, "http_port": http_port})
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "stop":
            break
        conn.send({
            "cpu": time.process_time(),
            "dns_queries": dns_srv.queries,
            "http_requests": http_counts["requests"],
            "http_connections": http_counts["connections"],
        })
    close()
    conn.send("bye")


class Servers:
    """Handle on the server child process."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_server_main, args=(child,), daemon=True,
                                name="bench-monitor-servers")
        self.proc.start()
        if not self._conn.poll(30):
            raise RuntimeError("server child did not start")
        ports = self._conn.recv()
        self.dns_port: int = ports["dns_port"]
        self.http_port: int = ports["http_port"]

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.http_port}/health"

    async def stats(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()

        def ask() -> dict[str, Any]:
            self._conn.send("stats")
            reply: dict[str, Any] = self._conn.recv()
            return reply

        return await loop.run_in_executor(None, ask)

    def close(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self._conn.send("stop")
            if self._conn.poll(5):
                self._conn.recv()
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)


# =========================================================================== helpers
def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (nan when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc; else peak RSS from resource)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, AttributeError):
        try:
            import resource
        except ImportError:
            return math.nan
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


def dns_target(name: str, servers: Servers) -> Target:
    return Target(name=name, kind="dns", host=HOST, nameservers=[servers.nameserver],
                  system_nameservers=False, record_types=["A"])


def http_target(name: str, servers: Servers) -> Target:
    return Target(name=name, kind="http", url=servers.url)


def make_config(targets: list[Target], *, interval_s: float = 1.0, workers: int = 0) -> Config:
    return Config(monitor=MonitorSettings(interval_s=interval_s, timeout_s=2.0, workers=workers,
                                          concurrency=256),
                  targets=targets)


async def lag_ticker(samples: list[float], stop: asyncio.Event) -> None:
    """Sleep 10 ms again and again; record how late each wake-up is (seconds)."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        expected = loop.time() + TICK_S
        await asyncio.sleep(TICK_S)
        samples.append(loop.time() - expected)


# =========================================================================== part 1
@dataclass
class Rung:
    n: int
    label: str = ""
    seconds: float = 0.0
    lag_p50_ms: float = math.nan
    lag_p99_ms: float = math.nan
    lag_max_ms: float = math.nan
    completed: int = 0
    expected: int = 0
    ok: int = 0
    missed: int = 0
    missed_total: int = 0
    cpu_us_per_probe: float = math.nan
    net_cpu_us: float = math.nan
    cpu_pct: float = math.nan
    loop_cpu_pct: float = math.nan
    lat_p50_ms: float = math.nan
    lat_p99_ms: float = math.nan
    gai_p50_ms: float = math.nan
    gai_p99_ms: float = math.nan
    srv_cpu_pct: float = math.nan
    new_conns: int = 0
    rss_mb: float = math.nan
    workers: int = 0
    worker_cpu_pct: float = 0.0
    load: float = math.nan  # 1-minute load average when the window began
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def completed_ratio(self) -> float:
        return self.completed / self.expected if self.expected else math.nan

    @property
    def verdict(self) -> str:
        bad = []
        if not self.lag_p99_ms <= AIM_LAG_P99_MS:
            bad.append("lag")
        if not self.completed_ratio >= AIM_COMPLETED:
            bad.append("short")
        if self.missed:
            bad.append("missed")
        return "OK" if not bad else "FAIL:" + "+".join(bad)


async def capacity_rung(n: int, servers: Servers, warmup_s: float, window_s: float,
                        label: str = "", workers: int = 0) -> Rung:
    half = n // 2
    targets = [dns_target(f"dns-{i}", servers) for i in range(n - half)]
    targets += [http_target(f"http-{i}", servers) for i in range(half)]
    monitor = HealthMonitor(make_config(targets, workers=workers), clock=SystemClock(),
                            rng=seeded_rng(n), memory=MemoryHistory())
    rung = Rung(n, label, workers=workers)
    ok_count = [0]
    errors: dict[str, int] = {}
    counting = [False]
    latencies: list[float] = []
    gai: list[float] = []  # the OS resolver step (phases["dns"]) of every probe

    def on_result(result: ProbeResult) -> None:
        if not counting[0]:
            return
        if result.latency_ms is not None:
            latencies.append(result.latency_ms)
        if "dns" in result.phases:
            gai.append(result.phases["dns"])
        if result.ok:
            ok_count[0] += 1
        else:
            key = str(result.error_kind)
            errors[key] = errors.get(key, 0) + 1

    monitor.result_recorded.connect(on_result)
    if monitor.workers is not None:
        await monitor.workers.started()  # a worker's start-up is not probe work
    await monitor.start()
    try:
        await asyncio.sleep(warmup_s)
        samples: list[float] = []
        stop = asyncio.Event()
        srv0 = await servers.stats()
        probes0 = sum(s.probes for s in monitor.states.values())
        missed0 = sum(s.missed for s in monitor.states.values())
        rung.load = os.getloadavg()[0]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        wcpu0 = monitor.workers.stats.cpu_s if monitor.workers is not None else 0.0
        loop_cpu0 = time.thread_time()  # this thread = the event loop
        counting[0] = True
        ticker = asyncio.create_task(lag_ticker(samples, stop))
        await asyncio.sleep(window_s)
        stop.set()
        await ticker
        counting[0] = False
        cpu1, wall1 = time.process_time(), time.perf_counter()
        wcpu1 = monitor.workers.stats.cpu_s if monitor.workers is not None else 0.0
        loop_cpu1 = time.thread_time()
        probes1 = sum(s.probes for s in monitor.states.values())
        missed1 = sum(s.missed for s in monitor.states.values())
        srv1 = await servers.stats()
        rung.rss_mb = rss_mb()
    finally:
        await monitor.stop()
    seconds = wall1 - wall0
    rung.seconds = seconds
    rung.lag_p50_ms = pct(samples, 50) * 1000
    rung.lag_p99_ms = pct(samples, 99) * 1000
    rung.lag_max_ms = max(samples, default=math.nan) * 1000
    rung.completed = probes1 - probes0
    rung.expected = round(n * seconds)
    rung.ok = ok_count[0]
    rung.missed = missed1 - missed0
    rung.missed_total = missed1
    rung.cpu_us_per_probe = (cpu1 - cpu0 + wcpu1 - wcpu0) / max(1, rung.completed) * 1e6
    rung.cpu_pct = (cpu1 - cpu0) / seconds * 100
    rung.worker_cpu_pct = (wcpu1 - wcpu0) / seconds * 100
    rung.loop_cpu_pct = (loop_cpu1 - loop_cpu0) / seconds * 100
    rung.lat_p50_ms, rung.lat_p99_ms = pct(latencies, 50), pct(latencies, 99)
    rung.gai_p50_ms, rung.gai_p99_ms = pct(gai, 50), pct(gai, 99)
    rung.srv_cpu_pct = (srv1["cpu"] - srv0["cpu"]) / seconds * 100
    rung.new_conns = srv1["http_connections"] - srv0["http_connections"]
    rung.errors = errors
    return rung


async def idle_baseline(seconds: float) -> tuple[float, float]:
    """CPU share (fraction of one core) and p99 lag of the ticker alone, no monitor."""
    samples: list[float] = []
    stop = asyncio.Event()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ticker = asyncio.create_task(lag_ticker(samples, stop))
    await asyncio.sleep(seconds)
    stop.set()
    await ticker
    return ((time.process_time() - cpu0) / (time.perf_counter() - wall0),
            pct(samples, 99) * 1000)


async def part1(servers: Servers, ladder: list[int], warmup_s: float, window_s: float,
                out: dict[str, Any], *, what_if: bool = True, workers: int = 0) -> list[str]:
    gc.collect()
    idle_cpu, idle_p99 = await idle_baseline(min(2.0, window_s))
    rungs: list[Rung] = []
    skipped: list[int] = []
    for n in ladder:
        if len(rungs) >= 2 and all(r.verdict != "OK" for r in rungs[-2:]):
            skipped.append(n)  # two failing rungs in a row: the rest would fail too
            continue
        gc.collect()
        rung = await capacity_rung(n, servers, warmup_s, window_s, workers=workers)
        rungs.append(rung)
        print(f"  N={n:<5} done: p99 lag {rung.lag_p99_ms:.1f} ms, "
              f"{rung.completed}/{rung.expected} probes, {rung.verdict}", flush=True)
        await asyncio.sleep(0.5)
    sustained = 0
    for rung in rungs:  # largest N such that it and every smaller rung pass
        if rung.verdict != "OK":
            break
        sustained = rung.n
    ladder_rungs = list(rungs)
    first_fail = next((r for r in rungs if r.verdict != "OK"), None)
    if first_fail is not None and what_if and not workers:
        # What-if: the same N with the probes in worker processes ([monitor] workers = 2).
        gc.collect()
        rung = await capacity_rung(
            first_fail.n, servers, warmup_s, window_s, workers=WHAT_IF_WORKERS,
            label=f"  <- what-if: workers={WHAT_IF_WORKERS}")
        rungs.append(rung)
        print(f"  N={rung.n:<5} what-if done: p99 lag {rung.lag_p99_ms:.1f} ms, "
              f"{rung.completed}/{rung.expected} probes, {rung.verdict}", flush=True)
    lines = [
        "",
        f"Part 1 - capacity at interval 1 s (window {window_s:g} s after {warmup_s:g} s "
        "warm-up; half dns, half http)",
        f"  idle baseline (10 ms ticker alone, no monitor): {idle_cpu * 100:.1f}% CPU, "
        f"p99 lag {idle_p99:.1f} ms; 'net' columns subtract it",
        f"{'N':>6} {'lag p50':>8} {'lag p99':>8} {'lag max':>8} {'done/expected':>13} "
        f"{'done%':>6} {'ok%':>6} {'missed':>6} {'load':>5}  verdict",
    ]
    for r in rungs:
        ok_pct = r.ok / r.completed * 100 if r.completed else math.nan
        lines.append(
            f"{r.n:>6} {r.lag_p50_ms:>6.1f}ms {r.lag_p99_ms:>6.1f}ms {r.lag_max_ms:>6.1f}ms "
            f"{r.completed:>6}/{r.expected:<6} {r.completed_ratio * 100:>5.1f}% "
            f"{ok_pct:>5.1f}% {r.missed:>6} {r.load:>5.1f}  {r.verdict}{r.label}")
    lines += [
        "  cost and latency in the same windows:",
        f"{'N':>6} {'cpu us/probe':>12} {'net':>5} {'proc cpu%':>9} {'wrk cpu%':>8} "
        f"{'loop cpu%':>9} "
        f"{'srv cpu%':>8} {'probe ms p50/p99':>16} {'getaddrinfo ms p50/p99':>22} "
        f"{'new conn':>8} {'RSS MB':>7}",
    ]
    for r in rungs:
        r.net_cpu_us = ((r.cpu_pct + r.worker_cpu_pct) / 100 - idle_cpu) * r.seconds / max(
            1, r.completed) * 1e6
        lines.append(
            f"{r.n:>6} {r.cpu_us_per_probe:>12.0f} {r.net_cpu_us:>5.0f} {r.cpu_pct:>9.0f} "
            f"{r.worker_cpu_pct:>8.0f} "
            f"{r.loop_cpu_pct:>9.0f} {r.srv_cpu_pct:>8.0f} "
            f"{r.lat_p50_ms:>7.1f} / {r.lat_p99_ms:<6.1f} {r.gai_p50_ms:>11.1f} / "
            f"{r.gai_p99_ms:<8.1f} {r.new_conns:>8} {r.rss_mb:>7.1f}{r.label}")
    if skipped:
        lines.append(f"  skipped N={', '.join(map(str, skipped))}: two rungs in a row failed")
    for r in rungs:
        if r.errors:
            kinds = ", ".join(f"{k} x{v}" for k, v in sorted(r.errors.items()))
            lines.append(f"  N={r.n}: failed probes in the window: {kinds}")
    aim = "OK" if sustained >= AIM_TARGETS else "MISS"
    lines.append(f"Sustained capacity: {sustained} targets (largest N whose rung and all "
                 f"smaller rungs pass; aim {AIM_TARGETS}: {aim})")
    lines.append("  proc cpu% = monitor process CPU (all threads) / wall, 2 cores = 200%; loop "
                 "cpu% = the event-loop thread alone (100% = saturated); srv cpu% = the server "
                 "child; getaddrinfo = the probes' OS-resolver step (phases['dns']), queueing for "
                 "an executor thread included; new conn = HTTP connections the server accepted.")
    if len(ladder_rungs) >= 2:
        lo, hi = ladder_rungs[0], ladder_rungs[-1]
        lines.append(f"  net CPU per probe N={hi.n} / N={lo.n}: "
                     f"{hi.net_cpu_us / lo.net_cpu_us:.2f}x (flat = 1.00x)")
    out["capacity"] = {
        "idle_cpu": idle_cpu, "idle_lag_p99_ms": idle_p99, "skipped": skipped,
        "warmup_s": warmup_s, "window_s": window_s, "sustained": sustained,
        "rungs": [{**r.__dict__, "completed_ratio": r.completed_ratio, "verdict": r.verdict}
                  for r in rungs],
    }
    return lines


# =========================================================================== part 2
Call = Callable[[], Awaitable[object]]


@dataclass
class Contender:
    name: str
    call: Call
    cpu_us: list[float] = field(default_factory=list)
    wall_us: list[float] = field(default_factory=list)
    pycalls: float = math.nan
    checked: str = ""


async def run_batch(call: Call, calls: int, workers: int) -> None:
    """``calls`` calls spread over ``workers`` concurrent workers (each sequential)."""
    left = [calls]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            await call()

    await asyncio.gather(*(worker() for _ in range(workers)))


async def count_pycalls(call: Call, calls: int) -> float:
    """Python frame entries (coroutine resumes included) per call: noise-free work count."""
    counter = [0]

    def prof(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            counter[0] += 1

    sys.setprofile(prof)
    try:
        for _ in range(calls):
            await call()
    finally:
        sys.setprofile(None)
    return counter[0] / calls


async def pool_sensitivity(servers: Servers, rounds: int, calls: int,
                           result: dict[str, Any]) -> list[str]:
    """CPU of ONE sequential bare httpx GET while K other connections sit idle in the pool.

    httpcore 1.0 re-scans every pooled connection (and polls each idle socket for
    ``has_expired``) twice per request; netmon's shared client keeps up to 50 idle ones.
    """
    base = f"http://{HOST}:{servers.http_port}"
    sizes = (1, 8, 25, 50)
    clients = {}
    for k in sizes:
        client = httpx.AsyncClient(timeout=5.0, limits=httpx.Limits(
            max_connections=200, max_keepalive_connections=200))
        await asyncio.gather(*(client.get(base + "/warm") for _ in range(k)))
        clients[k] = client
    cpu: dict[int, list[float]] = {k: [] for k in sizes}
    try:
        for rnd in range(rounds):
            order = sizes[rnd % len(sizes):] + sizes[:rnd % len(sizes)]
            for k in order:
                gc.collect()
                c0 = time.process_time()
                for _ in range(calls // 2):
                    await clients[k].get(base + "/health")
                cpu[k].append((time.process_time() - c0) / (calls // 2) * 1e6)
    finally:
        for client in clients.values():
            await client.aclose()
    ratios = {k: statistics.median([a / b for a, b in zip(cpu[k], cpu[1], strict=True)])
              for k in sizes}
    result["pool_sensitivity"] = {"cpu_us": cpu, "ratio_to_1": ratios}
    cells = "  ".join(f"{k} idle: {statistics.median(cpu[k]):.0f} us ({ratios[k]:.2f}x)"
                      for k in sizes)
    return ["  httpx pool-size sensitivity - CPU of one sequential bare GET with K connections "
            "pooled:", f"    {cells}"]


async def part2(servers: Servers, rounds: int, calls: int, workers: int,
                out: dict[str, Any]) -> tuple[list[str], dict[str, ProbeResult]]:
    loop = asyncio.get_running_loop()
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = servers.dns_port
    resolver.lifetime = resolver.timeout = 2.0
    resolver.retry_servfail = False
    client = httpx.AsyncClient(timeout=2.0)
    url = servers.url
    context = ProbeContext(clock=SystemClock(), default_timeout_s=2.0)
    dns_probe = DnsProbe(dns_target("dns-0", servers), context)
    http_probe = HttpProbe(http_target("http-0", servers), context)
    monitor = HealthMonitor(
        make_config([dns_target("dns-0", servers), http_target("http-0", servers)]),
        clock=SystemClock(), rng=seeded_rng(2))
    samples: dict[str, ProbeResult] = {}

    async def bare_dns() -> object:
        answer = await resolver.resolve(HOST, "A", search=False, raise_on_no_answer=False)
        if answer.rrset is None:
            raise RuntimeError("no answer")
        return answer

    async def bare_dns_gai() -> object:
        answer, _ = await asyncio.gather(
            bare_dns(), loop.getaddrinfo(HOST, None, type=1))  # socket.SOCK_STREAM
        return answer

    async def gai_only() -> object:
        return await loop.getaddrinfo(HOST, None, type=1)

    async def bare_http() -> object:
        response = await client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return response

    async def bare_http_gai() -> object:
        await loop.getaddrinfo(HOST, servers.http_port, type=1)
        return await bare_http()

    def checked(coro_fn: Callable[[], Awaitable[ProbeResult]], key: str) -> Call:
        async def call() -> object:
            result = await coro_fn()
            if not result.ok:
                raise RuntimeError(f"{key} failed: {result.error}")
            samples.setdefault(key, result)
            return result
        return call

    groups: list[tuple[str, list[Contender]]] = [
        ("dns", [
            Contender("bare dnspython query", bare_dns),
            Contender("bare query + getaddrinfo (fair)", bare_dns_gai),
            Contender("DnsProbe.run()", checked(dns_probe.run, "dns")),
            Contender("monitor.probe_now(dns)",
                      checked(lambda: monitor.probe_now("dns-0"), "dns-monitor")),
            Contender("(info) loop.getaddrinfo alone", gai_only),
        ]),
        ("http", [
            Contender("bare httpx GET (keep-alive)", bare_http),
            Contender("bare getaddrinfo + GET (fair)", bare_http_gai),
            Contender("HttpProbe.run()", checked(http_probe.run, "http")),
            Contender("monitor.probe_now(http)",
                      checked(lambda: monitor.probe_now("http-0"), "http-monitor")),
        ]),
    ]
    try:
        for _, contenders in groups:  # warm up: connections, imports, caches
            for c in contenders:
                await run_batch(c.call, max(20, workers * 2), workers)
                c.pycalls = await count_pycalls(c.call, 20)
        for rnd in range(rounds):
            for _, contenders in groups:
                shift = rnd % len(contenders)
                for c in contenders[shift:] + contenders[:shift]:
                    gc.collect()
                    cpu0, wall0 = time.process_time(), time.perf_counter()
                    await run_batch(c.call, calls, workers)
                    cpu1, wall1 = time.process_time(), time.perf_counter()
                    c.cpu_us.append((cpu1 - cpu0) / calls * 1e6)
                    c.wall_us.append((wall1 - wall0) / calls * 1e6)
    finally:
        await client.aclose()
        await context.aclose()
        await monitor.stop()

    lines = [
        "",
        f"Part 2 - process CPU per call ({rounds} rounds x {calls} calls, {workers} concurrent "
        "workers, contenders rotated; medians)",
        f"{'contender':<34} {'cpu us/call':>11} {'wall us/call':>12} {'py calls':>9} "
        f"{'x bare':>7} {'x fair':>7} {'x fair q1-q3':>13}",
    ]
    result: dict[str, Any] = {"rounds": rounds, "calls": calls, "workers": workers}
    for group, contenders in groups:
        bare, fair = contenders[0], contenders[1]
        for c in contenders:
            vs_bare = [a / b for a, b in zip(c.cpu_us, bare.cpu_us, strict=True)]
            vs_fair = [a / b for a, b in zip(c.cpu_us, fair.cpu_us, strict=True)]
            q = statistics.quantiles(vs_fair, n=4) if len(vs_fair) >= 2 else [vs_fair[0]] * 3
            lines.append(
                f"{c.name:<34} {statistics.median(c.cpu_us):>11.0f} "
                f"{statistics.median(c.wall_us):>12.0f} {c.pycalls:>9.0f} "
                f"{statistics.median(vs_bare):>6.2f}x {statistics.median(vs_fair):>6.2f}x "
                f"{q[0]:>6.2f}-{q[2]:<5.2f}")
            result[f"{group}:{c.name}"] = {
                "cpu_us": c.cpu_us, "wall_us": c.wall_us, "pycalls": c.pycalls,
                "ratio_bare": statistics.median(vs_bare),
                "ratio_fair": statistics.median(vs_fair)}
        ours = contenders[2]
        ratio = statistics.median(
            [a / b for a, b in zip(ours.cpu_us, fair.cpu_us, strict=True)])
        verdict = "OK" if ratio <= AIM_OVERHEAD else "MISS"
        lines.append(f"  {group}: probe / fair bare = {ratio:.2f}x "
                     f"(aim <= {AIM_OVERHEAD}x: {verdict})")
    lines += await pool_sensitivity(servers, rounds, calls, result)
    lines.append("  x bare = ours / the bare library call; x fair = ours / bare + the same OS "
                 "getaddrinfo our probe does (DnsProbe runs getaddrinfo beside the direct "
                 "query; HttpProbe resolves the host for its dns phase).")
    out["cpu_per_call"] = result
    return lines, samples


# =========================================================================== part 3
class TrivialProbe:
    """Answers at once, in process (measures the monitor's own memory, not a library's)."""

    def __init__(self, target: Target, context: ProbeContext) -> None:
        self.target = target
        self.context = context

    async def run(self) -> ProbeResult:
        return ProbeResult(self.target.name, self.target.kind, True, 1.0,
                           self.context.clock.now(), phases={"dns": 1.0})


async def retained_size(factory: Callable[[], Awaitable[ProbeResult]], count: int) -> float:
    """Bytes one result keeps alive in the memory ring (tracemalloc delta of a
    ``MemoryHistory`` holding ``count`` results: what the ring really keeps, no details)."""
    await factory()  # warm: connections, caches
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        ring = MemoryHistory(maxlen=count)
        for _ in range(count):
            ring.add(await factory())
        gc.collect()
        size = (tracemalloc.get_traced_memory()[0] - base) / len(ring)
    finally:
        tracemalloc.stop()
    return size


async def part3(servers: Servers, targets: int, interval_s: float, step_s: float,
                sim_s: float, sample_s: float, out: dict[str, Any]) -> list[str]:
    clock = FakeClock()
    config = make_config([Target(name=f"t{i}", kind="dns", host=HOST) for i in range(targets)],
                         interval_s=interval_s)
    gc.collect()
    tracemalloc.start()
    samples: list[tuple[float, int]] = []
    wall0 = time.perf_counter()
    monitor = HealthMonitor(config, clock=clock, rng=seeded_rng(3), probe_factory=TrivialProbe)
    await monitor.start()
    try:
        gc.collect()
        samples.append((0.0, tracemalloc.get_traced_memory()[0]))
        elapsed = 0.0
        next_sample = sample_s
        states = list(monitor.states.values())
        while elapsed < sim_s:
            clock.advance(step_s)
            elapsed += step_s
            await asyncio.sleep(0)  # the scheduler wakes and launches the due probes
            await asyncio.sleep(0)  # the probes run (they never suspend)
            while any(s.in_flight for s in states):
                await asyncio.sleep(0)
            if elapsed >= next_sample:
                gc.collect()
                samples.append((elapsed, tracemalloc.get_traced_memory()[0]))
                next_sample += sample_s
        probes = sum(s.probes for s in states)
        missed = sum(s.missed for s in states)
        ring = len(monitor.memory)
    finally:
        await monitor.stop()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    wall = time.perf_counter() - wall0
    gc.collect()
    tracked = len(gc.get_objects())
    pauses = []
    for _ in range(3):  # what the event loop stops for when generation 2 is collected
        t0 = time.perf_counter()
        gc.collect()
        pauses.append((time.perf_counter() - t0) * 1000)

    # Size of the REAL results the ring would hold (the trivial ones are tiny).
    context = ProbeContext(clock=SystemClock(), default_timeout_s=2.0)
    try:
        dns_size = await retained_size(DnsProbe(dns_target("d", servers), context).run, 200)
        http_size = await retained_size(HttpProbe(http_target("h", servers), context).run, 200)
    finally:
        await context.aclose()
    trivial_size = await retained_size(TrivialProbe(http_target("x", servers), context).run, 2000)

    maxlen = monitor.memory.maxlen
    full_at = maxlen * interval_s
    lines = [
        "",
        f"Part 3 - memory over {sim_s / 3600:g} simulated hours (FakeClock): {targets} targets, "
        f"trivial in-process probes, interval {interval_s:g} s, advanced in {step_s:g} s steps "
        f"({wall:.1f} s wall)",
        f"  probes run: {probes} (expected ~{int(targets * sim_s / interval_s)}), missed "
        f"turns: {missed}, results in the memory ring at the end: {ring} "
        f"(cap {targets} x {maxlen} = {targets * maxlen})",
        f"  tracemalloc current memory after gc.collect(), every {sample_s / 3600:g} simulated "
        "hour(s) (MB):",
    ]
    row = []
    for at, cur in samples:
        row.append(f"{at / 3600:g}h={cur / 1e6:.2f}")
    for i in range(0, len(row), 8):
        lines.append("    " + "  ".join(row[i:i + 8]))
    first_hour = next((cur for at, cur in samples if at >= 3600), samples[-1][1])
    if sim_s <= 3600:  # quick run: compare with the first sample after the start instead
        first_hour = samples[1][1] if len(samples) > 1 else samples[-1][1]
    full = next((cur for at, cur in samples if at >= full_at), None)
    end = samples[-1][1]
    since = "the first hour" if sim_s > 3600 else f"{samples[1][0] / 3600:g} h"
    lines.append(f"  growth after {since}: {(end - first_hour) / 1e6:+.3f} MB "
                 f"({(end - first_hour) / max(1, first_hour) * 100:+.1f}%); peak "
                 f"{peak / 1e6:.2f} MB")
    if full is not None and samples[-1][0] > full_at:
        lines.append(f"  growth after the ring is full ({maxlen} x {interval_s:g} s = "
                     f"{full_at / 3600:g} h): {(end - full) / 1e6:+.3f} MB")
    else:
        lines.append(f"  (the ring fills at {maxlen} x {interval_s:g} s = {full_at / 3600:g} h, "
                     "after this simulation: growth up to then is the ring filling)")
    lines.append(f"  full gc.collect() with {ring} results in the ring: "
                 f"{statistics.median(pauses):.1f} ms median of 3, {tracked} tracked objects")
    per_target_growth = (end - first_hour) / targets
    lines.append(f"  per target: {per_target_growth:+.0f} B after {since}")
    lines.append(
        f"  retained bytes per result in the ring (as the ring keeps them: no details, "
        f"an atomic tuple): trivial {trivial_size:.0f}, real DnsProbe {dns_size:.0f}, "
        f"real HttpProbe {http_size:.0f}")
    for n in sorted({200, AIM_TARGETS, 1000}):
        mb = n * maxlen * (dns_size + http_size) / 2 / 1e6
        lines.append(f"  projected memory-ring plateau with real results, {n} targets "
                     f"(half dns/half http) x {maxlen}: {mb:.0f} MB")
    out["memory"] = {
        "targets": targets, "interval_s": interval_s, "step_s": step_s, "sim_s": sim_s,
        "wall_s": wall, "probes": probes, "missed": missed, "ring_results": ring,
        "samples": samples, "peak": peak, "full_gc_ms": pauses, "gc_tracked": tracked,
        "bytes_per_result": {
            "trivial": trivial_size, "dns": dns_size, "http": http_size},
    }
    return lines


# =========================================================================== attribution
def _best_us(fn: Callable[[], object], reps: int) -> float:
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best * 1e6


def _pycalls_sync(fn: Callable[[], object]) -> int:
    counter = [0]

    def prof(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            counter[0] += 1

    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return counter[0] - 1  # the lambda itself


def attribution(out: dict[str, Any]) -> list[str]:
    """Micro-timings of per-probe work found by profiling (best of 5, this process)."""
    from core.probes.base import environment_proxy

    lines = ["", "Attribution - micro-timings of per-probe work (best of 5 batches):"]
    cpu = out.get("cpu_per_call", {})
    http_us = cpu.get("http:HttpProbe.run()", {}).get("cpu_us")
    url = "http://localhost:8080/health"
    proxy_us = _best_us(lambda: environment_proxy(url), 500)
    share = f" = {proxy_us / statistics.median(http_us) * 100:.0f}% of HttpProbe CPU" if (
        http_us) else ""
    proxy_calls = _pycalls_sync(lambda: environment_proxy(url))
    http_calls = cpu.get("http:HttpProbe.run()", {}).get("pycalls", math.nan)
    fair_calls = cpu.get("http:bare getaddrinfo + GET (fair)", {}).get("pycalls", math.nan)
    lines.append("  environment_proxy(url) (core/probes/base.py; ProbeContext.proxy_for caches it "
                 f"per host; uncached cost, {len(os.environ)} env vars): {proxy_us:.0f} us{share}; "
                 f"{proxy_calls} Python calls of the {http_calls - fair_calls:.0f} HttpProbe "
                 "makes beyond the fair bare call")

    now = FakeClock().now()
    res: dict[int, float] = {}
    for n in (50, 500, 1000):
        monitor = HealthMonitor(
            make_config([Target(name=f"t{i}", kind="dns", host=HOST) for i in range(n)]),
            clock=FakeClock(), probe_factory=TrivialProbe)
        ok = ProbeResult("t0", "dns", True, 1.0, now)
        for state in monitor.states.values():
            state.last = ok
        res[n] = us = _best_us(lambda m=monitor, r=ok: m._check_local_network(r), 1000)
        lines.append(f"  HealthMonitor._check_local_network, {n:>4} targets: {us:6.1f} us per "
                     f"result = {us * n / 1e4:4.1f}% of one core at {n} results/s")
    out["attribution_us"] = {"environment_proxy": proxy_us, "check_local_network": res}
    return lines


# =========================================================================== main
async def amain(args: argparse.Namespace) -> dict[str, Any]:
    logging.getLogger("netmon").setLevel(logging.ERROR)  # status changes are not the point
    out: dict[str, Any] = {
        "python": sys.version.split()[0], "platform": platform.platform(),
        "cpus": os.cpu_count(), "quick": args.quick,
        "servers": "separate process (multiprocessing spawn child, own asyncio loop)",
    }
    if args.quick:
        ladder, warmup, window = [50, 200], 1.5, 4.0
        rounds, calls, workers = 3, 150, 8
        sim_targets, interval, step, sim, sample = 50, 2.0, 2.0, 3600.0, 600.0
    else:
        ladder, warmup, window = [100, 300, 500, 1000, 2000], 3.0, 10.0
        rounds, calls, workers = 7, 300, 8
        sim_targets, interval, step, sim, sample = 200, 30.0, 30.0, 86400.0, 3600.0
    if args.ladder:
        ladder = [int(n) for n in args.ladder.split(",")]
    print(f"netmon monitor benchmark - Python {out['python']}, {out['platform']}, "
          f"{out['cpus']} CPUs, {'quick' if args.quick else 'full'} run")
    print("Servers: lean DNS + HTTP responders in a separate process (own loop); their CPU is "
          "not monitor CPU.", flush=True)
    started = time.perf_counter()
    servers = Servers()
    report: list[str] = []
    try:
        print("Part 1 - capacity ladder ...", flush=True)
        report += await part1(servers, ladder, warmup, window, out, what_if=not args.quick,
                              workers=args.workers)
        if not args.capacity_only:
            print("Part 2 - CPU per call ...", flush=True)
            lines, _ = await part2(servers, rounds, calls, workers, out)
            report += lines
            print("Part 3 - memory over a simulated day ...", flush=True)
            report += await part3(servers, sim_targets, interval, step, sim, sample, out)
            report += attribution(out)
    finally:
        servers.close()
    report.append(f"\nTotal wall time {time.perf_counter() - started:.0f} s.")
    print("\n".join(report))
    out["wall_s"] = time.perf_counter() - started
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (~40 s)")
    parser.add_argument("--json", metavar="PATH", help="write every number as JSON")
    parser.add_argument("--ladder", metavar="N,N,...", help="capacity ladder override")
    parser.add_argument("--workers", type=int, default=0,
                        help="probe worker processes for the ladder ([monitor] workers)")
    parser.add_argument("--capacity-only", action="store_true", help="run part 1 only")
    args = parser.parse_args(argv)
    random.seed(0)
    out = asyncio.run(amain(args))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
        print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
