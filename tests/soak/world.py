"""The soak's world: loopback servers, a fault proxy per TCP-level target, and the seeded
chaos driver, in a child process of their own (their CPU and their loop are not the
monitor's). Everything listens on 127.0.0.1.

- one DNS server (``t{i}.soak`` answers A 127.0.0.1; chaos makes a name SERVFAIL or silent);
- one HTTP server (``/health``), behind one fault proxy per HTTP and per TCP target;
- one throwaway PostgreSQL cluster, behind one fault proxy per PostgreSQL target.

Chaos: every ``gap`` seconds (seeded jitter) one target not in an outage (and not in its
cool-down) gets an outage of a seeded length: for HTTP and PostgreSQL targets ``refuse``
(cut), ``blackhole``, ``delay`` (longer than the probe timeout) or ``reset``, each also
cutting the established connections; for TCP targets ``refuse`` or ``reset`` (what a
connect can see); for DNS targets ``servfail`` or ``silent``. At most
``max_concurrent`` outages at once, so the monitor never sees every target silent.
Every outage is logged with wall-clock start and end (``time.time()``, comparable with
the monitor's process).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any

from tests.support.dns_server import DnsServer
from tests.support.fault_proxy import FaultProxy, Mode
from tests.support.http_server import HttpServer
from tests.support.postgres import PostgresCluster

PROXY_FAULTS: tuple[Mode, ...] = ("refuse", "blackhole", "delay", "reset")
#: A TCP probe only connects: a proxy that accepts and then blackholes or delays what
#: follows looks up to it, by design (tests/core/test_probes.py pins that), so TCP targets
#: get the faults a connect can see.
TCP_FAULTS: tuple[Mode, ...] = ("refuse", "reset")
DNS_FAULTS = ("servfail", "silent")
FAULTS = {"dns": DNS_FAULTS, "tcp": TCP_FAULTS, "http": PROXY_FAULTS,
          "postgres": PROXY_FAULTS}


@dataclass
class Outage:
    """One injected outage."""

    target: str
    kind: str
    fault: str
    start: float  # wall clock, time.time()
    end: float = 0.0


@dataclass
class Plan:
    """What the driver does (sent by the soak's main process)."""

    seed: int
    chaos_s: float          # inject for this long, then leave everything working
    gap_s: float            # mean time between two injections
    min_outage_s: float
    max_outage_s: float
    cooldown_s: float       # a target rests this long after an outage before another
    max_concurrent: int
    probe_timeout_s: float  # "delay" faults delay by three times this


def main(conn: Connection, per_kind: int) -> None:
    """Child process entry: build the world, report its ports, run the plan it is sent."""
    asyncio.run(_world(conn, per_kind))


async def _world(conn: Connection, per_kind: int) -> None:
    loop = asyncio.get_running_loop()
    cluster = PostgresCluster()
    await asyncio.to_thread(cluster.start)
    proxies: dict[str, FaultProxy] = {}
    try:
        async with DnsServer() as dns_srv, HttpServer() as http_srv:
            http_srv.route("/health", body="ok")
            for i in range(per_kind):
                dns_srv.add_a(f"t{i}.soak", "127.0.0.1", ttl=1)
            for kind, port in (("http", http_srv.port), ("tcp", http_srv.port),
                               ("postgres", cluster.port)):
                for i in range(per_kind):
                    proxy = FaultProxy("127.0.0.1", port)
                    await proxy.start()
                    proxies[f"{kind}-{i}"] = proxy
            conn.send({"dns_port": dns_srv.port,
                       "proxies": {name: p.port for name, p in proxies.items()},
                       "pg": {"user": cluster.user, "database": cluster.database,
                              "password": cluster.password}})
            plan: Plan = await loop.run_in_executor(None, conn.recv)
            outages = await _chaos(plan, per_kind, dns_srv, proxies)
            conn.send([asdict(o) for o in outages])
            await loop.run_in_executor(None, conn.recv)  # "stop"
    finally:
        for proxy in proxies.values():
            with contextlib.suppress(Exception):
                await proxy.close()
        await asyncio.to_thread(cluster.cleanup)


async def _chaos(plan: Plan, per_kind: int, dns_srv: DnsServer,
                 proxies: dict[str, FaultProxy]) -> list[Outage]:
    rng = random.Random(plan.seed)
    names = [f"dns-{i}" for i in range(per_kind)] + list(proxies)
    resting: dict[str, float] = {}  # target -> monotonic time it may be chosen again
    active: dict[str, tuple[Outage, float]] = {}  # target -> (outage, monotonic end)
    done: list[Outage] = []
    started = time.monotonic()
    next_at = started
    while True:
        now = time.monotonic()
        for name, (outage, ends) in list(active.items()):
            if now >= ends:
                await _restore(outage, dns_srv, proxies)
                outage.end = time.time()
                done.append(outage)
                del active[name]
                resting[name] = now + plan.cooldown_s
        if now - started >= plan.chaos_s:
            if not active:
                return done
        elif now >= next_at and len(active) < plan.max_concurrent:
            free = [n for n in names if n not in active and resting.get(n, 0.0) <= now]
            if free:
                name = rng.choice(free)
                kind = name.split("-")[0]
                fault = rng.choice(FAULTS[kind])
                outage = Outage(name, kind, fault, time.time())
                await _inject(outage, plan, dns_srv, proxies)
                active[name] = (outage, now + rng.uniform(plan.min_outage_s,
                                                          plan.max_outage_s))
            next_at = now + rng.expovariate(1 / plan.gap_s)
        await asyncio.sleep(0.05)


async def _inject(outage: Outage, plan: Plan, dns_srv: DnsServer,
                  proxies: dict[str, FaultProxy]) -> None:
    if outage.kind == "dns":
        dns_srv.set_behaviour(f"t{outage.target.split('-')[1]}.soak", outage.fault)  # type: ignore[arg-type]
        return
    proxy = proxies[outage.target]
    fault: Any = outage.fault
    await proxy.set_mode(fault, delay_s=plan.probe_timeout_s * 3)
    await proxy.cut()  # established (kept-alive) connections fail too


async def _restore(outage: Outage, dns_srv: DnsServer,
                   proxies: dict[str, FaultProxy]) -> None:
    if outage.kind == "dns":
        dns_srv.set_behaviour(f"t{outage.target.split('-')[1]}.soak", "answer")
        return
    proxy = proxies[outage.target]
    await proxy.set_mode("pass")
    await proxy.cut()  # connections stuck in a blackhole or delay start afresh
