"""A self-contained demo: loopback servers and a configuration that probes them.

``netmon-gui --demo`` runs this so a new user sees live data with no setup and no internet:
every server binds to 127.0.0.1 on a free port and lives inside the process.

- ``web``: HTTP that always answers 200;
- ``local-dns``: ``localhost`` through the OS resolver and the demo DNS server;
- ``intranet-dns``: a name only the demo DNS server knows (the OS resolver does not), as with
  VPN split DNS, so the target is degraded with both answers side by side;
- ``checkout``: HTTP that flaps (503 for ``FLAP_DOWN_S`` of every ``FLAP_PERIOD_S``);
- ``orders-db``: a TCP port that stops listening for ``OUTAGE_S`` of every ``OUTAGE_PERIOD_S``
  (refused connections open its breaker; it half-opens and closes when the port is back);
- ``reports``: HTTP that answers slowly (degraded, "slow").

The phases are counted from ``start()`` so the first outage begins within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import cast

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from .config import (
    BreakerSettings,
    Config,
    HistorySettings,
    LoggingSettings,
    MonitorSettings,
    Target,
)

__all__ = ["DEMO_HOST", "Demo"]

_log = logging.getLogger("netmon.demo")

DEMO_HOST = "127.0.0.1"
INTRANET_NAME = "intranet.demo.invalid"  # .invalid: no public resolver knows it (RFC 6761)
INTRANET_ADDRESS = "192.0.2.10"  # TEST-NET-1: shown, never contacted
FLAP_PERIOD_S = 16.0
FLAP_DOWN_S = 6.0
OUTAGE_START_S = 6.0  # the first outage begins this long after start
OUTAGE_S = 24.0
OUTAGE_PERIOD_S = 60.0
SLOW_S = 0.45


class _DnsProtocol(asyncio.DatagramProtocol):
    """Answers A queries for the names in ``records``; NXDOMAIN for anything else."""

    def __init__(self, records: dict[str, str]) -> None:
        self.records = records
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except Exception:  # not DNS: ignore, as a real server would
            return
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        for question in query.question:
            name = question.name.to_text().rstrip(".").lower()
            address = self.records.get(name)
            if address is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.A:
                response.answer.append(
                    dns.rrset.from_text(question.name, 60, "IN", "A", address))
        if self.transport is not None:
            self.transport.sendto(response.to_wire(), addr)


class Demo:
    """The demo's servers (start/close them) and the ``config()`` that probes them."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started_at = 0.0
        self._http: asyncio.Server | None = None
        self._tcp: asyncio.Server | None = None
        self._dns: asyncio.DatagramTransport | None = None
        self._outages: asyncio.Task[None] | None = None
        self.http_port = 0
        self.tcp_port = 0
        self.dns_port = 0

    async def start(self) -> None:
        """Bind every server to a free loopback port and begin the outage schedule."""
        loop = asyncio.get_running_loop()
        self._started_at = self._clock()
        self._http = await asyncio.start_server(self._serve_http, DEMO_HOST, 0)
        self.http_port = self._http.sockets[0].getsockname()[1]
        self._tcp = await asyncio.start_server(self._serve_tcp, DEMO_HOST, 0)
        self.tcp_port = self._tcp.sockets[0].getsockname()[1]
        records = {"localhost": "127.0.0.1", INTRANET_NAME: INTRANET_ADDRESS}
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _DnsProtocol(records), local_addr=(DEMO_HOST, 0))
        self._dns = transport
        self.dns_port = transport.get_extra_info("sockname")[1]
        self._outages = loop.create_task(self._outage_schedule(), name="netmon-demo-outages")
        _log.info("demo servers on %s: http %d, tcp %d, dns %d",
                  DEMO_HOST, self.http_port, self.tcp_port, self.dns_port)

    async def close(self) -> None:
        """Stop the schedule and every server (idempotent)."""
        if self._outages is not None:
            self._outages.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._outages
            self._outages = None
        for server in (self._http, self._tcp):
            if server is not None:
                server.close()
                await server.wait_closed()
        self._http = self._tcp = None
        if self._dns is not None:
            self._dns.close()
            self._dns = None

    async def __aenter__(self) -> Demo:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def config(self) -> Config:
        """Six targets on the demo servers, probed every 2 s; nothing is written to disk."""
        base = f"http://{DEMO_HOST}:{self.http_port}"
        dns_server = f"{DEMO_HOST}:{self.dns_port}"
        return Config(
            monitor=MonitorSettings(interval_s=2.0, timeout_s=2.0, down_after=2, up_after=2,
                                    latency_threshold_ms=300.0),
            breaker=BreakerSettings(failure_threshold=3, reset_timeout_s=6.0),
            history=HistorySettings(enabled=False),
            logging=LoggingSettings(file=False),
            targets=[
                Target(name="web", kind="http", url=f"{base}/health", expect_status=[200]),
                Target(name="local-dns", kind="dns", host="localhost", record_types=["A"],
                       nameservers=[dns_server], system_nameservers=False),
                Target(name="intranet-dns", kind="dns", host=INTRANET_NAME,
                       record_types=["A"], nameservers=[dns_server],
                       system_nameservers=False),
                Target(name="checkout", kind="http", url=f"{base}/checkout"),
                Target(name="orders-db", kind="tcp", host=DEMO_HOST, port=self.tcp_port),
                Target(name="reports", kind="http", url=f"{base}/reports"),
            ],
        )

    # --- behaviour -----------------------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds since ``start()``."""
        return self._clock() - self._started_at

    def checkout_failing(self) -> bool:
        """Whether the flapping endpoint answers 503 now."""
        return self.elapsed() % FLAP_PERIOD_S >= FLAP_PERIOD_S - FLAP_DOWN_S

    def orders_down(self) -> bool:
        """Whether the TCP port is in its outage now."""
        phase = (self.elapsed() - OUTAGE_START_S) % OUTAGE_PERIOD_S
        return self.elapsed() >= OUTAGE_START_S and phase < OUTAGE_S

    async def _outage_schedule(self) -> None:
        while True:
            down = self.orders_down()
            if down and self._tcp is not None:
                self._tcp.close()
                await self._tcp.wait_closed()
                self._tcp = None
                _log.info("demo: orders-db port %d stops listening", self.tcp_port)
            elif not down and self._tcp is None:
                self._tcp = await asyncio.start_server(
                    self._serve_tcp, DEMO_HOST, self.tcp_port, reuse_address=True)
                _log.info("demo: orders-db port %d listens again", self.tcp_port)
            await asyncio.sleep(0.25)

    async def _serve_tcp(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        # Like a real service: wait for the client's request (or its close), not accept and
        # hang up at once, which the TCP probe rightly reports as a reset.
        with contextlib.suppress(OSError, TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(reader.read(1), 5.0)
        writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await writer.wait_closed()

    async def _serve_http(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            parts = head.split(b" ", 2)
            path = parts[1].decode("ascii", "replace") if len(parts) > 1 else "/"
            status, body = await self._answer(path.split("?", 1)[0])
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            payload = body.encode()
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload)
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # Shutting down mid-answer (the slow endpoint). Python 3.11's stream server
            # calls task.exception() on its handler task, which raises for a cancelled
            # task and prints a traceback: end this handler normally instead.
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _answer(self, path: str) -> tuple[int, str]:
        if path == "/health":
            return 200, "ok"
        if path == "/checkout":
            return (503, "maintenance") if self.checkout_failing() else (200, "ok")
        if path == "/reports":
            await asyncio.sleep(SLOW_S)
            return 200, "ok"
        return 404, "not found"
