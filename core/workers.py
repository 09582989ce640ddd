"""Probe workers: probes run in worker processes, each with its own asyncio loop and probe
context, and stream their results back, so the loop the console or the service runs on
only schedules probes and records results.

The monitor keeps scheduling, state, breakers and history; a worker only runs probes.
Each target always goes to the same worker (by a hash of its name), so its HTTP
connection stays alive in that worker from probe to probe. Requests and results travel
in batches (at most one pipe message each way per ``BATCH_S``, 5 ms, not one per probe;
an idle pipe sends at once) over a ``multiprocessing`` pipe per worker; on the monitor's
side two threads per worker do the blocking pipe I/O and hand batches to the loop with
``call_soon_threadsafe``, which works on every event loop (the stock ones, and a Qt loop
on Windows). A worker that dies fails the probes it
held (they are recorded as failed, not lost) and is started again on the next request.

Workers are spawned (a fresh interpreter, on every OS): the targets must be picklable
(config dataclasses are) and secrets are looked up inside the worker (environment
variables are inherited; the OS keyring is per user, so a worker sees what the console
sees).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import pickle
import queue
import sys
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from .clock import SystemClock
from .config import Target
from .deadlines import Deadlines
from .errors import ErrorKind, classify
from .probes.base import _EMPTY, Probe, ProbeContext, ProbeResult, describe
from .probes.os_resolver import getaddrinfo
from .probes.registry import make_probe

__all__ = ["ProbeWorkerError", "ProbeWorkers", "WorkerStats"]

_log = logging.getLogger("netmon.workers")

#: A request: (request id, target name). A result: (request id, the result's fields as a
#: plain tuple: target, kind, ok, latency_ms, checked_at, phases or None, error kind value
#: or None, error, degraded, details or None). One pipe message carries a batch of them
#: (one pickle per batch, not one per result inside it).
_Request = tuple[int, str]
_Fields = tuple[str, str, bool, float | None, datetime, dict[str, float] | None, str | None,
                str | None, bool, dict[str, Any] | None]
_Result = tuple[int, _Fields]


#: The GIL switch interval in worker processes (the interpreter's default is 5 ms).
GIL_SWITCH_S = 0.0005

#: How long a worker may take to start (spawn a fresh interpreter and import the probes).
START_TIMEOUT_S = 60.0

#: At most one pipe message per this many seconds each way: requests (and results) that
#: come within it of the last message go together in the next one. A message costs the
#: threads on both ends a wake-up (tens of us of CPU each); at hundreds of probes a second
#: one per loop turn carried about two. An idle pipe sends at once.
BATCH_S = 0.005


class ProbeWorkerError(RuntimeError):
    """A probe worker exited or could not be reached while a probe was in it."""


@dataclass
class WorkerStats:
    """What the workers did: probes sent and answered, results that came too late (their
    probe had already timed out here), restarts, and the workers' own CPU seconds (as
    last reported, summed over workers)."""

    sent: int = 0
    answered: int = 0
    late: int = 0
    restarts: int = 0
    cpu_s: float = 0.0


class ProbeWorkers:
    """``count`` worker processes running the probes of ``targets``."""

    def __init__(self, targets: Sequence[Target], count: int, *,
                 default_timeout_s: float) -> None:
        if count < 1:
            raise ValueError("probe workers need a count of at least 1")
        self.count = count
        self.default_timeout_s = default_timeout_s
        self._targets = {t.name: t for t in targets}
        self._index = {t.name: _worker_of(t.name, count) for t in targets}
        self._shares: list[list[Target]] = [[] for _ in range(count)]
        for target in targets:
            self._shares[self._index[target.name]].append(target)
        self._workers: list[_Worker | None] = [None] * count
        self._cpu = [0.0] * count
        self.stats = WorkerStats()

    def start(self) -> None:
        """Start every worker process now (else each starts on its first probe)."""
        for index in range(self.count):
            self._worker(index)

    def _worker(self, index: int) -> _Worker:
        worker = self._workers[index]
        if worker is None or not worker.alive:
            if worker is not None:
                self.stats.restarts += 1
            worker = self._workers[index] = _Worker(index, self._shares[index],
                                                    self.default_timeout_s, self)
        return worker

    async def started(self) -> None:
        """Start every worker and wait until all have (see ``ready``)."""
        self.start()
        await asyncio.gather(*(self._ready(index) for index in range(self.count)))

    async def ready(self, target: Target) -> None:
        """Wait until ``target``'s worker has started (a fresh interpreter importing the
        probes takes a second or more; that is not the probe's time). Raises
        ``ProbeWorkerError`` if it does not start within ``START_TIMEOUT_S``."""
        index = self._of(target)
        worker = self._workers[index]
        if (worker is None or not worker.alive or not worker.ready.done()
                or worker.ready.exception() is not None):
            await self._ready(index)  # else started and alive: nothing to wait for

    async def _ready(self, index: int) -> None:
        worker = self._worker(index)
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await asyncio.shield(worker.ready)
        except TimeoutError:
            raise ProbeWorkerError(f"probe worker {worker.index} did not start within "
                                   f"{START_TIMEOUT_S:g}s") from None

    async def run(self, target: Target) -> ProbeResult:
        """Run ``target``'s probe in its worker and wait for the result (the caller bounds
        the wait; a cancelled wait leaves the worker's probe to finish and be dropped)."""
        return await self._worker(self._of(target)).result_of(target.name)

    def _of(self, target: Target) -> int:
        index = self._index.get(target.name)
        return _worker_of(target.name, self.count) if index is None else index

    def _reported(self, index: int, cpu_s: float) -> None:
        self._cpu[index] = cpu_s
        self.stats.cpu_s = sum(self._cpu)

    async def aclose(self) -> None:
        """Stop every worker (their probes in flight are abandoned) and wait for them."""
        workers = [w for w in self._workers if w is not None]
        self._workers = [None] * self.count
        await asyncio.gather(*(asyncio.to_thread(w.close) for w in workers))

    async def retire(self, timeout: float) -> None:
        """Let the probes in flight finish (at most ``timeout`` seconds), then ``aclose``:
        replaced workers must not turn a healthy probe into a timeout."""
        pending = [f for w in self._workers if w is not None for f in w.pending.values()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        await self.aclose()


def _flush_soon(loop: asyncio.AbstractEventLoop, flushed: float,
                flush: Callable[[], None]) -> None:
    """Call ``flush`` in the next loop turn, or when ``BATCH_S`` has passed since the last
    flush (at ``flushed``, loop time) if that is later."""
    wait = flushed + BATCH_S - loop.time()
    if wait > 0:
        loop.call_later(wait, flush)
    else:
        loop.call_soon(flush)


def _worker_of(name: str, count: int) -> int:
    return zlib.crc32(name.encode("utf-8")) % count


class _Worker:
    """The monitor's side of one worker process."""

    def __init__(self, index: int, targets: list[Target], timeout_s: float,
                 owner: ProbeWorkers) -> None:
        self.index = index
        self.owner = owner
        self.loop = asyncio.get_running_loop()
        self.pending: dict[int, asyncio.Future[ProbeResult]] = {}
        self.ready: asyncio.Future[None] = self.loop.create_future()
        self.outbox: list[_Request] = []
        self.flushing = False
        self.flushed = -BATCH_S
        self.ids = 0
        self.alive = True
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child, targets, timeout_s),
                                   name=f"netmon-probe-worker-{index}", daemon=True)
        self.process.start()
        child.close()
        self.sends: queue.SimpleQueue[list[_Request] | None] = queue.SimpleQueue()
        self.sender = threading.Thread(target=self._send_loop, daemon=True,
                                       name=f"netmon-worker-{index}-send")
        self.reader = threading.Thread(target=self._read_loop, daemon=True,
                                       name=f"netmon-worker-{index}-read")
        self.sender.start()
        self.reader.start()

    async def result_of(self, name: str) -> ProbeResult:
        """Send the probe of ``name`` and wait for its result; a wait given up (cancelled)
        forgets it here (its result, if it comes, is counted late), without a done
        callback on every probe's future."""
        self.ids += 1
        rid = self.ids
        future: asyncio.Future[ProbeResult] = self.loop.create_future()
        self.pending[rid] = future
        self.outbox.append((rid, name))
        self.owner.stats.sent += 1
        if not self.flushing:
            self.flushing = True
            _flush_soon(self.loop, self.flushed, self._flush)
        try:
            return await future
        finally:
            if future.cancelled():
                self.pending.pop(rid, None)

    def _flush(self) -> None:
        self.flushing = False
        self.flushed = self.loop.time()
        batch, self.outbox = self.outbox, []
        if batch:
            self.sends.put(batch)

    def _send_loop(self) -> None:
        while (batch := self.sends.get()) is not None:
            try:
                self.conn.send(batch)
            except (OSError, EOFError, ValueError):
                return  # the reader sees the worker gone and fails what it held

    def _read_loop(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (OSError, EOFError, ValueError):
                break
            try:
                self.loop.call_soon_threadsafe(self._deliver, message)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                return
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._died)

    def _deliver(self, message: tuple[float, list[_Result]]) -> None:
        cpu_s, results = message
        stats = self.owner.stats
        self.owner._reported(self.index, cpu_s)
        if not self.ready.done():
            self.ready.set_result(None)
        pending = self.pending
        for rid, fields in results:
            future = pending.pop(rid, None)
            if future is None or future.done():
                stats.late += 1
                continue
            stats.answered += 1
            future.set_result(_decode(fields))

    def _died(self) -> None:
        if not self.alive:
            return
        self.alive = False
        code = self.process.exitcode
        if self.pending:
            _log.warning("probe worker %d exited (code %s) with %d probes in flight",
                         self.index, code, len(self.pending))
        if not self.ready.done():
            self.ready.set_exception(ProbeWorkerError(
                f"probe worker {self.index} exited (code {code}) before it started"))
            self.ready.exception()  # retrieved here: a waiter may never come
        pending, self.pending = self.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(ProbeWorkerError(
                    f"probe worker {self.index} exited (code {code}) during the probe"))
        self.sends.put(None)

    def close(self) -> None:
        """Blocking: ask the worker to stop, then make sure it did (runs in a thread)."""
        self.alive = False
        self.sends.put(None)
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self.conn.close()
        self.reader.join(5)
        self.sender.join(5)


# --- the worker process -----------------------------------------------------------------
def _encode(result: ProbeResult) -> _Fields:
    """A result as plain values (the error kind by its string value)."""
    kind = result.error_kind
    return (result.target, result.kind, result.ok, result.latency_ms, result.checked_at,
            dict(result.phases) if result.phases else None,
            None if kind is None else kind.value, result.error, result.degraded,
            dict(result.details) if result.details else None)


def _decode(fields: _Fields) -> ProbeResult:
    target, kind, ok, latency, checked_at, phases, error_kind, error, degraded, details = fields
    return ProbeResult(target, kind, ok, latency, checked_at, phases or _EMPTY,
                       None if error_kind is None else ErrorKind(error_kind), error, degraded,
                       details or _EMPTY)


def _send_results(conn: Connection, cpu_s: float, batch: list[_Result]) -> None:
    """Send one batch of results; a result whose details the pipe cannot carry (not
    picklable) goes without them, with a note saying so. A closed pipe is ignored (the
    monitor is gone or replaced this worker)."""
    try:
        conn.send((cpu_s, batch))
        return
    except (OSError, ValueError):
        return
    except Exception:  # pickling failed before anything was written: find the culprits
        pass
    portable: list[_Result] = []
    for rid, fields in batch:
        try:
            pickle.dumps(fields, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            fields = (*fields[:9], {"worker": f"details not sent: {exc!r}"})
        portable.append((rid, fields))
    with contextlib.suppress(OSError, ValueError):
        conn.send((cpu_s, portable))


def _worker_main(conn: Connection, targets: list[Target], timeout_s: float) -> None:
    """Entry point of a worker process."""
    logging.getLogger("netmon").setLevel(logging.ERROR)  # the monitor logs what matters
    # Resolver threads hand their answers back through the GIL: with the default 5 ms
    # switch interval a busy loop makes each getaddrinfo wait for it (hundreds of ms
    # at a few hundred probes a second); a worker only does I/O, so hand over sooner.
    sys.setswitchinterval(GIL_SWITCH_S)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(conn, targets, timeout_s))


async def _serve(conn: Connection, targets: list[Target], timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    context = ProbeContext(clock=SystemClock(), default_timeout_s=timeout_s)
    by_name = {t.name: t for t in targets}
    # Build every probe and make one throwaway resolver call before saying "started": the
    # first probes must not pay for lazy imports and resolver set-up on the clock.
    probes: dict[str, Probe] = {t.name: make_probe(t, context) for t in targets}
    with contextlib.suppress(OSError):
        await getaddrinfo("localhost", None)
    outbox: list[_Result] = []
    flushing = False
    flushed = -BATCH_S
    tasks: set[asyncio.Task[None]] = set()
    deadlines = Deadlines()
    stop = asyncio.Event()

    def flush() -> None:
        nonlocal flushing, flushed
        flushing = False
        flushed = loop.time()
        batch = outbox[:]
        outbox.clear()
        if batch:
            _send_results(conn, time.process_time(), batch)

    async def probe(rid: int, name: str) -> None:
        nonlocal flushing
        target = by_name[name]
        timeout = target.timeout_s or timeout_s
        started = context.clock.now()
        try:
            with deadlines.after(timeout + 1.0):
                result = await probes[name].run()
        except TimeoutError:
            result = ProbeResult(name, target.kind, False, timeout * 1000, started,
                                 error_kind=ErrorKind.TIMEOUT,
                                 error=f"probe did not finish within {timeout:g}s")
        except Exception as exc:  # a probe bug: report it as the monitor's loop would
            result = ProbeResult(name, target.kind, False, None, started,
                                 error_kind=classify(exc), error=describe(exc),
                                 details={"worker": "probe raised"})
        outbox.append((rid, _encode(result)))
        if not flushing:
            flushing = True
            _flush_soon(loop, flushed, flush)

    def start(batch: list[_Request] | None) -> None:
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

    reader = threading.Thread(target=read, daemon=True, name="netmon-worker-read")
    reader.start()
    conn.send((time.process_time(), []))  # started: the monitor may send probes now
    try:
        await stop.wait()
    finally:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await context.aclose()
