#!/usr/bin/env python
"""Where the CPU of one monitored probe goes: a probe worker's process and the monitor's
(app) process, over a FIXED number of probes, split by thread and by component.

Run:  python tests/benchmarks/profile_monitor.py worker [--targets 500] [--probes 3000]
      python tests/benchmarks/profile_monitor.py app [--targets 1000] [--seconds 8]
      add --profile to print the cProfile table (its own overhead inflates times: the
      component split comes from a run under cProfile, the per-thread CPU from one without)

``worker``: ``core.workers._serve`` (the worker's own loop, exactly as in a worker
process) runs in this process's main thread; a driver thread sends it ``--targets``
requests a second (each target once a second, half dns and half http, as the benchmark's
ladder) until ``--probes`` results came back. ``app``: a real-clock ``HealthMonitor`` with
``--workers`` worker processes and a ``HistoryStore`` in a temp file, for ``--seconds``
after a warm-up. CPU per thread comes from ``/proc/self/task/<tid>/schedstat`` (ns on the
CPU, Linux): the loop thread, the getaddrinfo executor, the pipe threads, the history
thread; the driver threads of ``worker`` mode are left out. The servers run in a separate
process (``bench_monitor.Servers``), so their CPU is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import cProfile
import io
import logging
import os
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing import Pipe
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.benchmarks.bench_monitor import (  # noqa: E402
    Servers,
    dns_target,
    http_target,
    make_config,
)

#: Components: a function's cumulative time under cProfile is charged to the first entry
#: whose name matches (so nest the specific ones before the general).
WORKER_PARTS = [
    ("probe: DnsProbe.run", ("dns.py", "run")),
    ("probe: HttpProbe.run", ("http.py", "run")),
    ("serialize: _encode", ("workers.py", "_encode")),
    ("pipe send (flush)", ("workers.py", "flush")),
]
APP_PARTS = [
    ("deliver: _decode", ("workers.py", "_decode")),
    ("deliver: rest of _deliver", ("workers.py", "_deliver")),
    ("record: history.add", ("store.py", "add")),
    ("record: memory ring", ("ring.py", "add")),
    ("record: result_recorded.emit", ("events.py", "emit")),
    ("record: _check_local_network", ("monitor.py", "_check_local_network")),
    ("record: _judge", ("monitor.py", "_judge")),
    ("record: breaker", ("breaker.py", "probe_succeeded")),
    ("record: total", ("monitor.py", "_record")),
    ("schedule: _launch_due", ("monitor.py", "_launch_due")),
    ("request: workers.run", ("workers.py", "request")),
]


def thread_cpu() -> dict[int, float]:
    """CPU seconds per native thread id of this process (Linux schedstat, ns)."""
    out: dict[int, float] = {}
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError, ValueError), open(
                f"/proc/self/task/{tid}/schedstat") as fh:
            out[int(tid)] = int(fh.read().split()[0]) / 1e9
    return out


def thread_names() -> dict[int, str]:
    names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
    names[threading.main_thread().native_id or 0] = "main (loop)"
    return names


def group(name: str) -> str:
    if name.startswith(("asyncio_", "ThreadPoolExecutor", "netmon-resolver")):
        return "executor (getaddrinfo)"
    if name.startswith("driver"):
        return "driver (not counted)"
    return name


def split_threads(before: dict[int, float], after: dict[int, float],
                  names: dict[int, str]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for tid, cpu in after.items():
        name = group(names.get(tid, f"tid {tid}"))
        totals[name] = totals.get(name, 0.0) + cpu - before.get(tid, 0.0)
    return totals


def parts(stats: pstats.Stats, table: list[tuple[str, tuple[str, str]]]) -> dict[str, float]:
    """Cumulative seconds per component (first matching function of each entry)."""
    found: dict[str, float] = {}
    raw: Any = stats.stats  # type: ignore[attr-defined]
    for label, (file_end, func) in table:
        total = 0.0
        for (filename, _line, name), (_cc, _nc, _tt, ct, _callers) in raw.items():
            if name == func and filename.endswith(file_end):
                total += ct
        found[label] = total
    return found


def report(title: str, probes: int, threads: dict[str, float],
           prof: tuple[pstats.Stats, float] | None, table: list[tuple[str, tuple[str, str]]],
           show: bool) -> None:
    counted = {k: v for k, v in threads.items() if not k.startswith("driver")}
    total = sum(counted.values())
    print(f"\n{title}: {probes} probes, CPU {total * 1e6 / probes:.0f} us/probe (counted threads)")
    for name, cpu in sorted(counted.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<28} {cpu * 1e6 / probes:7.0f} us/probe")
    if prof is None:
        return
    stats, loop_cpu = prof
    print(f"  under cProfile: {stats.total_calls / probes:.0f} Python calls per probe on the "  # type: ignore[attr-defined]
          f"loop thread (loop thread {loop_cpu * 1e6 / probes:.0f} us/probe with the "
          "profiler's overhead); cumulative per component:")
    for label, seconds in parts(stats, table).items():
        share = seconds / loop_cpu * 100 if loop_cpu else 0.0
        print(f"    {label:<32} {seconds * 1e6 / probes:7.0f} us/probe  {share:5.1f}% of loop")
    if show:
        buf = io.StringIO()
        stats.stream = buf  # type: ignore[attr-defined]
        stats.sort_stats("tottime").print_stats(35)
        print(buf.getvalue())


@contextlib.contextmanager
def profiled(enabled: bool) -> Iterator[Callable[[], cProfile.Profile | None]]:
    # thread CPU as the profiler's clock: a wait for the GIL or the OS is not charged to
    # whatever function happened to be running
    prof = cProfile.Profile(time.thread_time) if enabled else None
    if prof is not None:
        prof.enable()
    try:
        yield lambda: prof
    finally:
        if prof is not None:
            prof.disable()


# =========================================================================== worker
async def bare_serve(conn: Any, targets: list[Any], timeout_s: float) -> None:
    """The floor for ``workers._serve``: the same requests and batched answers, each probe
    replaced by the bare library calls the real one makes (an OS getaddrinfo beside a
    dnspython query; a getaddrinfo then an httpx GET on one keep-alive client per target)."""
    import socket

    import dns.asyncresolver
    import httpx

    from core.probes.dns import parse_nameserver

    loop = asyncio.get_running_loop()
    by_name = {t.name: t for t in targets}
    resolvers: dict[str, Any] = {}
    clients: dict[str, httpx.AsyncClient] = {}
    for t in targets:
        if t.kind == "dns":
            ip, port = parse_nameserver(t.nameservers[0])
            r = dns.asyncresolver.Resolver(configure=False)
            r.nameservers, r.port, r.lifetime, r.cache = [ip], port, timeout_s, None
            resolvers[t.name] = r
        else:
            clients[t.name] = httpx.AsyncClient()
    outbox: list[tuple[int, tuple[Any, ...]]] = []
    flushing = False
    stop = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    def flush() -> None:
        nonlocal flushing
        flushing = False
        batch = outbox[:]
        outbox.clear()
        with contextlib.suppress(OSError, ValueError):
            conn.send((time.process_time(), batch))

    async def gai(host: str) -> None:
        await loop.getaddrinfo(host, 80, type=socket.SOCK_STREAM)

    async def probe(rid: int, name: str) -> None:
        nonlocal flushing
        target = by_name[name]
        ok = True
        try:
            if target.kind == "dns":
                await asyncio.gather(gai(target.host), resolvers[name].resolve(
                    target.host, "A", search=False))
            else:
                await gai("localhost")
                response = await clients[name].get(target.url)
                ok = response.status_code == 200
        except Exception:
            ok = False
        outbox.append((rid, (name, target.kind, ok)))
        if not flushing:
            flushing = True
            loop.call_soon(flush)

    def start(batch: list[tuple[int, str]] | None) -> None:
        if batch is None:
            stop.set()
            return
        for rid, name in batch:
            task = loop.create_task(probe(rid, name))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    def read() -> None:
        while True:
            try:
                batch = conn.recv()
            except (OSError, EOFError):
                batch = None
            loop.call_soon_threadsafe(start, batch)
            if batch is None:
                return

    threading.Thread(target=read, daemon=True, name="netmon-worker-read").start()
    conn.send((time.process_time(), []))
    await stop.wait()
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for client in clients.values():
        await client.aclose()


def run_worker(servers: Servers, n: int, probes: int, with_profile: bool,
               switch_s: float | None = None, executor: int = 0, warmup_s: float = 5.0,
               bare: bool = False,
               ) -> tuple[int, dict[str, float], tuple[pstats.Stats, float] | None]:
    from core import workers

    half = n // 2
    targets = [dns_target(f"dns-{i}", servers) for i in range(n - half)]
    targets += [http_target(f"http-{i}", servers) for i in range(half)]
    names = [t.name for t in targets]
    parent, child = Pipe(duplex=True)
    got = [0]
    done = threading.Event()
    ready = threading.Event()
    marks: dict[str, Any] = {}

    def receive() -> None:
        while True:
            try:
                message = parent.recv()
            except (EOFError, OSError):
                return
            _cpu, results = message
            if not ready.is_set():
                ready.set()
                continue
            if done.is_set():
                continue
            got[0] += len(results)
            if "before" in marks and got[0] - marks["got0"] >= probes:
                marks["after"] = thread_cpu()
                marks["names"] = thread_names()
                marks["got1"] = got[0]
                done.set()

    def drive() -> None:
        ready.wait()
        time.sleep(1.0)
        step = max(1, n // 100)  # 10 ms ticks: n requests a second
        rid, index, sent = 0, 0, 0
        warm = round(n * warmup_s)  # warm-up: connections, clients, caches
        start = time.perf_counter()
        tick = 0
        while not done.is_set():
            batch = []
            for _ in range(step):
                rid += 1
                batch.append((rid, names[index % n]))
                index += 1
            parent.send(batch)
            sent += len(batch)
            if sent == warm:  # the warm-up's results are not counted
                marks["got0"] = got[0]
                marks["before"] = thread_cpu()
            tick += 1
            delay = start + tick * 0.01 - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        parent.send(None)

    sys.setswitchinterval(workers.GIL_SWITCH_S if switch_s is None else switch_s)
    receiver = threading.Thread(target=receive, name="driver-recv", daemon=True)
    driver = threading.Thread(target=drive, name="driver-send", daemon=True)
    receiver.start()
    driver.start()
    logging.getLogger("netmon").setLevel(logging.ERROR)
    prof_holder: list[cProfile.Profile | None] = [None]
    loop_cpu = [0.0]

    async def serve() -> None:
        if executor:
            asyncio.get_running_loop().set_default_executor(
                concurrent.futures.ThreadPoolExecutor(executor, thread_name_prefix="asyncio"))
        serving = bare_serve if bare else workers._serve
        task = asyncio.create_task(serving(child, targets, 2.0))
        await asyncio.get_running_loop().run_in_executor(None, ready.wait)
        # profile from the end of warm-up to the last counted result
        while "before" not in marks:
            await asyncio.sleep(0.005)
        t0 = time.thread_time()
        with profiled(with_profile) as get:
            prof_holder[0] = get()
            while not done.is_set():
                await asyncio.sleep(0.005)
        loop_cpu[0] = time.thread_time() - t0
        await task

    asyncio.run(serve())
    driver.join(5)
    threads = split_threads(marks["before"], marks["after"], marks["names"])
    prof = prof_holder[0]
    stats = (pstats.Stats(prof), loop_cpu[0]) if prof is not None else None
    return marks["got1"] - marks["got0"], threads, stats


# =========================================================================== app
def run_app(servers: Servers, n: int, seconds: float, worker_count: int, with_profile: bool,
            history: bool) -> tuple[int, dict[str, float], tuple[pstats.Stats, float] | None]:
    from core.clock import SystemClock
    from core.history import HistoryStore, MemoryHistory
    from core.monitor import HealthMonitor
    from core.testing import seeded_rng

    half = n // 2
    targets = [dns_target(f"dns-{i}", servers) for i in range(n - half)]
    targets += [http_target(f"http-{i}", servers) for i in range(half)]
    logging.getLogger("netmon").setLevel(logging.ERROR)

    async def main() -> tuple[int, dict[str, float], tuple[pstats.Stats, float] | None]:
        with tempfile.TemporaryDirectory() as tmp:
            store = HistoryStore(Path(tmp) / "h.sqlite3") if history else None
            if store is not None:
                await store.start()
            monitor = HealthMonitor(make_config(targets, workers=worker_count),
                                    clock=SystemClock(), rng=seeded_rng(n),
                                    memory=MemoryHistory(), history=store)
            if monitor.workers is not None:
                await monitor.workers.started()
            await monitor.start()
            try:
                await asyncio.sleep(3.0)
                probes0 = sum(s.probes for s in monitor.states.values())
                before = thread_cpu()
                t0 = time.thread_time()
                with profiled(with_profile) as get:
                    await asyncio.sleep(seconds)
                    prof = get()
                loop_cpu = time.thread_time() - t0
                if store is not None:
                    await store.flush()  # the writes of these results belong to them
                after = thread_cpu()
                probes = sum(s.probes for s in monitor.states.values()) - probes0
                names = thread_names()
            finally:
                await monitor.stop()
                if store is not None:
                    await store.close()
        stats = (pstats.Stats(prof), loop_cpu) if prof is not None else None
        return probes, split_threads(before, after, names), stats

    return asyncio.run(main())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["worker", "app"])
    parser.add_argument("--targets", type=int, default=0)
    parser.add_argument("--probes", type=int, default=3000, help="worker mode")
    parser.add_argument("--seconds", type=float, default=8.0, help="app mode")
    parser.add_argument("--workers", type=int, default=2, help="app mode")
    parser.add_argument("--no-history", action="store_true", help="app mode")
    parser.add_argument("--profile", action="store_true", help="print the cProfile table")
    parser.add_argument("--switch", type=float, default=None,
                        help="worker mode: GIL switch interval (default: the worker's)")
    parser.add_argument("--executor", type=int, default=0,
                        help="worker mode: threads of the default executor (default: asyncio's)")
    parser.add_argument("--no-cprofile", action="store_true", help="skip the cProfile run")
    parser.add_argument("--warmup", type=float, default=5.0, help="worker mode: seconds")
    parser.add_argument("--bare", action="store_true",
                        help="worker mode: bare library calls instead of the probes (the floor)")
    args = parser.parse_args()
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                "ALL_PROXY"):
        os.environ.pop(var, None)
    servers = Servers()
    try:
        print(f"load average {os.getloadavg()[0]:.2f}")
        if args.mode == "worker":
            n = args.targets or 500
            probes, threads, _ = run_worker(servers, n, args.probes, False, args.switch,
                                            args.executor, args.warmup, args.bare)
            report(f"worker{' (bare calls)' if args.bare else ''}, {n} targets/s, no profiler",
                   probes, threads, None,
                   WORKER_PARTS, False)
            if args.no_cprofile:
                return 0
            probes, threads, stats = run_worker(servers, n, args.probes, True, args.switch,
                                                args.executor, args.warmup, args.bare)
            report(f"worker{' (bare calls)' if args.bare else ''}, {n} targets/s, under cProfile",
                   probes, threads, stats,
                   WORKER_PARTS, args.profile)
        else:
            n = args.targets or 1000
            history = not args.no_history
            probes, threads, _ = run_app(servers, n, args.seconds, args.workers, False, history)
            report(f"app, {n} targets, workers={args.workers}, no profiler", probes, threads,
                   None, APP_PARTS, False)
            probes, threads, stats = run_app(servers, n, args.seconds, args.workers, True,
                                             history)
            report(f"app, {n} targets, workers={args.workers}, under cProfile", probes,
                   threads, stats, APP_PARTS, args.profile)
        print(f"load average {os.getloadavg()[0]:.2f}")
    finally:
        servers.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
