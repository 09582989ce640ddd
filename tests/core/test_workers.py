"""Probe workers: probes run in worker processes and their results reach the monitor's
state, memory and breakers exactly as probes on the loop do; a worker that dies loses
nothing (its probes are recorded as failed) and is started again."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from core.config import Config, MonitorSettings, Target
from core.errors import ErrorKind
from core.monitor import HealthMonitor
from core.probes.base import ProbeResult
from core.testing import seeded_rng
from core.workers import ProbeWorkers, _decode, _encode, _send_results
from tests.support.http_server import HttpServer, Request, Response
from tests.support.netutil import free_tcp_port


def _config(*targets: Target, workers: int = 2) -> Config:
    return Config(monitor=MonitorSettings(interval_s=60, timeout_s=3, workers=workers),
                  targets=list(targets))


async def test_results_from_workers_are_recorded_like_local_ones(
        http_server: HttpServer) -> None:
    http_server.route("/health", body="ok")
    closed = free_tcp_port()
    targets = [Target(name=f"web{i}", kind="http", url=http_server.url + "/health")
               for i in range(4)]
    targets.append(Target(name="refused", kind="tcp", host="127.0.0.1", port=closed))
    monitor = HealthMonitor(_config(*targets), rng=seeded_rng())
    assert monitor.workers is not None
    try:
        results = await monitor.run_once()
        assert {r.target for r in results} == {t.name for t in targets}
        by_name = {r.target: r for r in results}
        assert all(by_name[f"web{i}"].ok for i in range(4))
        assert by_name["web0"].details["status"] == 200
        assert set(by_name["web0"].phases) >= {"dns", "connect", "ttfb", "total"}
        refused = by_name["refused"]
        assert not refused.ok and refused.error_kind is ErrorKind.CONNECTION_REFUSED
        assert monitor.states["refused"].status == "degraded"
        again = await monitor.run_once()  # the same connections serve the second round
        assert all(r.ok for r in again if r.target.startswith("web"))
        assert http_server.connections_accepted == 4  # one kept-alive connection per target
        stats = monitor.workers.stats
        assert stats.sent == stats.answered == 10
        assert stats.cpu_s > 0
        assert len(monitor.memory.recent("web0")) == 2
    finally:
        await monitor.stop()


async def test_a_dead_worker_loses_no_probe_and_starts_again(http_server: HttpServer) -> None:
    held = asyncio.Event()

    async def hang(request: Request) -> Response:
        held.set()
        await asyncio.sleep(30)
        return Response(200, b"late")

    http_server.route("/hang", handler=hang)
    http_server.route("/health", body="ok")
    monitor = HealthMonitor(_config(Target(name="stuck", kind="http",
                                           url=http_server.url + "/hang"), workers=1),
                            rng=seeded_rng())
    assert monitor.workers is not None
    try:
        probe = asyncio.create_task(monitor.probe_now("stuck"))
        async with asyncio.timeout(20):
            await held.wait()  # the probe is inside the worker now
        worker = monitor.workers._workers[0]
        assert worker is not None and worker.process.pid is not None
        os.kill(worker.process.pid, signal.SIGKILL)
        result = await asyncio.wait_for(probe, 20)
        assert not result.ok
        assert "probe worker 0 exited" in (result.error or "")
        assert monitor.states["stuck"].probes == 1  # recorded, not lost
        http_server.route("/hang", body="ok")  # answers at once now
        result = await monitor.probe_now("stuck")
        assert result.ok
        assert monitor.workers.stats.restarts == 1
    finally:
        await monitor.stop()


def test_workers_refuse_a_custom_probe_factory_and_a_zero_count() -> None:
    target = Target(name="t", kind="tcp", host="127.0.0.1", port=1)
    with pytest.raises(ValueError, match="make_probe"):
        HealthMonitor(_config(target), probe_factory=lambda t, c: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="at least 1"):
        ProbeWorkers([target], 0, default_timeout_s=1)


async def test_a_config_change_lets_probes_in_flight_finish_on_the_old_workers(
    http_server: HttpServer,
) -> None:
    """Replaced workers used to drop their probes in flight: a healthy target was then
    recorded as a timeout (a failure that fed its breaker and the local-network check)."""
    http_server.route("/slow", body="ok", delay=0.8)
    api = Target(name="api", kind="http", url=http_server.url + "/slow", timeout_s=3.0)
    config = Config(monitor=MonitorSettings(interval_s=60, timeout_s=3, workers=1),
                    targets=[api])
    monitor = HealthMonitor(config)
    await monitor.start()
    try:
        assert monitor.workers is not None
        await monitor.workers.started()
        in_flight = asyncio.create_task(monitor.probe_now("api"))
        await asyncio.sleep(0.2)  # the request is in the worker now (the server waits 0.8 s)
        other = Target(name="other", kind="tcp", host="127.0.0.1", port=free_tcp_port())
        monitor.apply_config(replace(config, targets=[api, other]))
        result = await in_flight
        assert result.ok, result.error
        assert monitor.states["api"].consecutive_failures == 0
    finally:
        await monitor.stop()


def test_results_cross_the_pipe_whole_and_details_it_cannot_carry_are_named() -> None:
    """A batch travels as plain tuples in one message; a result whose details cannot be
    pickled arrives with its verdict and a note instead of breaking the whole batch."""
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    ok = ProbeResult("dns-0", "dns", True, 1.25, at, phases={"dns": 1.25},
                     details={"resolvers": [{"resolver": "os", "ok": True}]})
    bare = ProbeResult("tcp-0", "tcp", True, 0.5, at)
    broken = ProbeResult("web", "http", False, None, at, error_kind=ErrorKind.TIMEOUT,
                         error="slow", degraded=True, details={"lock": threading.Lock()})
    parent, child = multiprocessing.Pipe()
    try:
        _send_results(child, 1.5, [(1, _encode(ok)), (2, _encode(bare)), (3, _encode(broken))])
        cpu_s, batch = parent.recv()
    finally:
        parent.close()
        child.close()
    assert cpu_s == 1.5
    got = {rid: _decode(fields) for rid, fields in batch}
    assert got[1] == ok
    assert got[2] == bare and not got[2].phases and not got[2].details
    assert got[3].error_kind is ErrorKind.TIMEOUT
    assert (got[3].ok, got[3].error, got[3].degraded) == (False, "slow", True)
    assert "details not sent" in got[3].details["worker"]


async def test_a_probe_that_never_ends_in_a_worker_is_a_timeout_at_its_timeout_plus_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker's own bound (its loop, run here in-process as in a worker process): a
    probe stuck past its timeout plus a second is answered as a timeout, the others as
    they ended."""
    from core import workers
    from core.probes.base import ProbeContext

    class Hanging:
        def __init__(self, target: Target, context: ProbeContext) -> None:
            self.target = target
            self.context = context

        async def run(self) -> ProbeResult:
            if self.target.name == "hangs":
                await asyncio.Event().wait()
            return ProbeResult(self.target.name, "tcp", True, 1.0, self.context.clock.now())

    monkeypatch.setattr(workers, "make_probe", Hanging)
    targets = [Target(name=name, kind="tcp", host="127.0.0.1", port=1, timeout_s=0.05)
               for name in ("hangs", "fine")]
    parent, child = multiprocessing.Pipe(duplex=True)
    serving = asyncio.ensure_future(workers._serve(child, targets, 3.0))
    try:
        async with asyncio.timeout(10):
            await asyncio.to_thread(parent.recv)  # started
            parent.send([(1, "hangs"), (2, "fine")])
            got: dict[int, ProbeResult] = {}
            while len(got) < 2:
                _cpu, batch = await asyncio.to_thread(parent.recv)
                got.update((rid, _decode(fields)) for rid, fields in batch)
            parent.send(None)
            await serving
    finally:
        serving.cancel()
        parent.close()
        child.close()
    assert (got[2].target, got[2].ok) == ("fine", True)
    assert (got[1].target, got[1].ok, got[1].error_kind, got[1].error) == (
        "hangs", False, ErrorKind.TIMEOUT, "probe did not finish within 0.05s")


async def test_a_wait_given_up_is_forgotten_and_its_result_counted_late(
    http_server: HttpServer,
) -> None:
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold(request: Request) -> Response:
        held.set()
        await release.wait()
        return Response(200, b"late")

    http_server.route("/hold", handler=hold)
    target = Target(name="held", kind="http", url=http_server.url + "/hold", timeout_s=5.0)
    workers = ProbeWorkers([target], 1, default_timeout_s=5.0)
    try:
        async with asyncio.timeout(20):
            await workers.started()
            waiting = asyncio.create_task(workers.run(target))
            await held.wait()  # the probe is inside the worker now
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            worker = workers._workers[0]
            assert worker is not None and worker.pending == {}
            release.set()
            while workers.stats.late == 0:  # the result arrives for nobody
                await asyncio.sleep(0.01)
        assert (workers.stats.sent, workers.stats.answered, workers.stats.late) == (1, 0, 1)
        result = await workers.run(target)  # the next one is answered as usual
        assert result.ok and workers.stats.answered == 1
    finally:
        await workers.aclose()


async def test_results_within_the_batch_window_travel_together_and_an_idle_pipe_sends_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker's loop (in-process, as in a worker process) sends a result at once when
    nothing went out for ``BATCH_S``; results finishing within it of the last message (in
    different loop turns) go together in the next one."""
    from core import workers
    from core.probes.base import ProbeContext

    released = {name: asyncio.Event() for name in ("a", "b", "c")}

    class Held:
        def __init__(self, target: Target, context: ProbeContext) -> None:
            self.target = target
            self.context = context

        async def run(self) -> ProbeResult:
            await released[self.target.name].wait()
            return ProbeResult(self.target.name, "tcp", True, 1.0, self.context.clock.now())

    monkeypatch.setattr(workers, "make_probe", Held)
    monkeypatch.setattr(workers, "BATCH_S", 0.5)
    targets = [Target(name=name, kind="tcp", host="127.0.0.1", port=1) for name in released]
    parent, child = multiprocessing.Pipe(duplex=True)
    serving = asyncio.ensure_future(workers._serve(child, targets, 3.0))

    async def message() -> list[str]:
        _cpu, batch = await asyncio.to_thread(parent.recv)
        return [_decode(fields).target for _rid, fields in batch]

    try:
        async with asyncio.timeout(10):
            await message()  # started
            parent.send([(1, "a"), (2, "b"), (3, "c")])
            released["a"].set()
            assert await message() == ["a"]  # nothing sent for a while: at once
            released["b"].set()
            for _ in range(3):
                await asyncio.sleep(0)  # "b" is done, in a loop turn of its own
            released["c"].set()
            assert await message() == ["b", "c"]  # within the window: together
            parent.send(None)
            await serving
    finally:
        serving.cancel()
        parent.close()
        child.close()
