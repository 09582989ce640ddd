"""The path to a target, hop by hop, without privileges; it stops at the first silent hop.

* Linux: UDP datagrams with a rising TTL on a socket with ``IP_RECVERR`` (what
  ``tracepath`` does): the kernel queues each ICMP *time exceeded* and *unreachable* on
  the socket's error queue with the address that sent it. A *port unreachable* from the
  target itself means it was reached.
* Windows: ``IcmpSendEcho`` with a TTL in its options: ``IP_TTL_EXPIRED_TRANSIT`` names
  a hop, ``IP_SUCCESS`` the target.

Every probe is bounded by ``timeout`` and the whole trace by ``max_hops * probes``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import select
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Hop", "PathTrace", "trace_path"]

#: One probe's outcome: (replying address or None when silent, rtt ms, reached the target,
#: an unreachable code that ends the trace or None).
ProbeOutcome = tuple[str | None, float | None, bool, str | None]
Prober = Callable[[str, int, float], ProbeOutcome]

_BASE_PORT = 33434
_IP_RECVERR, _IPV6_RECVERR = 11, 25
_MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
_SO_EE_ORIGIN_ICMP, _SO_EE_ORIGIN_ICMP6 = 2, 3
_UNREACH_V4 = {0: "network unreachable", 1: "host unreachable", 3: "port unreachable",
               9: "network prohibited", 10: "host prohibited", 13: "administratively prohibited"}
_UNREACH_V6 = {0: "no route", 1: "administratively prohibited", 3: "address unreachable",
               4: "port unreachable"}


@dataclass(frozen=True, slots=True)
class Hop:
    """One TTL: who answered (None: silent), best round trip, probes sent and answered."""

    ttl: int
    address: str | None
    latency_ms: float | None
    sent: int
    received: int
    reached: bool = False

    @property
    def loss(self) -> float:
        """Fraction of probes unanswered (0.0 .. 1.0)."""
        return 1.0 - self.received / self.sent if self.sent else 1.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"ttl": self.ttl, "address": self.address,
                "latency_ms": round(self.latency_ms, 3) if self.latency_ms is not None else None,
                "sent": self.sent, "received": self.received, "loss": round(self.loss, 3),
                "reached": self.reached}


@dataclass(frozen=True, slots=True)
class PathTrace:
    """The hops towards ``address``; ``silent_hop`` is the TTL where it stopped unanswered,
    ``stopped`` says why it ended (``reached``, ``silent``, ``unreachable``, ``max_hops``,
    ``unsupported``)."""

    address: str
    method: str
    hops: tuple[Hop, ...] = ()
    reached: bool = False
    stopped: str = "max_hops"
    silent_hop: int | None = None
    note: str | None = None

    @property
    def last_answering(self) -> Hop | None:
        """The last hop that answered (the one before the silence)."""
        return next((h for h in reversed(self.hops) if h.address), None)

    def summary(self) -> str:
        """One line: where the path ends."""
        if self.stopped == "unsupported":
            return self.note or "path trace not supported here"
        if self.reached:
            return f"reached {self.address} in {len(self.hops)} hop(s)"
        last = self.last_answering
        after = f" after {last.address} (hop {last.ttl})" if last else " at the first hop"
        if self.stopped == "silent":
            return f"hop {self.silent_hop} is silent{after}: the path stops there"
        if self.stopped == "unreachable":
            return f"{self.note}{after}"
        return f"{self.address} not reached within {len(self.hops)} hops"

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"address": self.address, "method": self.method, "reached": self.reached,
                "stopped": self.stopped, "silent_hop": self.silent_hop, "note": self.note,
                "summary": self.summary(), "hops": [h.as_dict() for h in self.hops]}


async def trace_path(address: str, *, max_hops: int = 16, probes: int = 2,
                     timeout: float = 1.0, prober: Prober | None = None) -> PathTrace:
    """Trace the path to ``address`` (an IP literal) in a worker thread.

    ``prober`` replaces the platform's probe (tests on other platforms feed outcomes).
    """
    if prober is None:
        if sys.platform == "linux":
            prober, method = _probe_linux, "udp"
        elif sys.platform == "win32":
            prober, method = _probe_windows, "icmp"
        else:
            return PathTrace(address, "none", stopped="unsupported",
                             note=f"path trace is not implemented on {sys.platform}")
    else:
        method = "given"
    return await asyncio.to_thread(_trace, address, method, prober, max_hops, probes, timeout)


def _trace(address: str, method: str, prober: Prober, max_hops: int, probes: int,
           timeout: float) -> PathTrace:
    hops: list[Hop] = []
    for ttl in range(1, max_hops + 1):
        seen: str | None = None
        best: float | None = None
        received = 0
        reached = False
        stop_note: str | None = None
        for _ in range(probes):
            replier, rtt, done, unreachable = prober(address, ttl, timeout)
            if replier is None:
                continue
            received += 1
            seen = seen or replier
            best = rtt if best is None or (rtt is not None and rtt < best) else best
            reached = reached or done
            stop_note = stop_note or unreachable
        hops.append(Hop(ttl, seen, best, probes, received, reached))
        if reached:
            return PathTrace(address, method, tuple(hops), True, "reached")
        if stop_note:
            return PathTrace(address, method, tuple(hops), False, "unreachable",
                             note=f"{seen} answers {stop_note}")
        if received == 0:
            return PathTrace(address, method, tuple(hops), False, "silent", silent_hop=ttl)
    return PathTrace(address, method, tuple(hops), False, "max_hops")


def _probe_linux(address: str, ttl: int, timeout: float) -> ProbeOutcome:
    v6 = ipaddress.ip_address(address).version == 6
    family = socket.AF_INET6 if v6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        if v6:
            sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVERR, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
        else:
            sock.setsockopt(socket.IPPROTO_IP, _IP_RECVERR, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        sock.connect((address, _BASE_PORT + ttl))
        started = time.perf_counter()
        sock.send(b"netmon-path")
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLERR)
        deadline = started + timeout
        while (left := deadline - time.perf_counter()) > 0:
            if not poller.poll(left * 1000):
                break
            rtt = (time.perf_counter() - started) * 1000
            try:
                _, ancdata, _, _ = sock.recvmsg(512, 512, _MSG_ERRQUEUE)
            except BlockingIOError:  # an ordinary datagram came back: the target answered
                return address, rtt, True, None
            outcome = _error_queue(ancdata, v6, address, rtt)
            if outcome is not None:
                return outcome
    return None, None, False, None


def _error_queue(ancdata: list[tuple[int, int, bytes]], v6: bool, address: str,
                 rtt: float) -> ProbeOutcome | None:
    """Parse ``struct sock_extended_err`` and the offender address after it."""
    for _level, kind, data in ancdata:
        if kind != (_IPV6_RECVERR if v6 else _IP_RECVERR) or len(data) < 16:
            continue
        _errno, origin, icmp_type, code, _pad, _info, _data = struct.unpack("=IBBBBII", data[:16])
        if origin not in (_SO_EE_ORIGIN_ICMP, _SO_EE_ORIGIN_ICMP6):
            continue
        offender = _sockaddr(data[16:], v6)
        if v6:
            if icmp_type == 3:  # time exceeded
                return offender, rtt, False, None
            if icmp_type == 1:
                if code == 4:
                    return offender, rtt, offender == address, None
                return offender, rtt, False, _UNREACH_V6.get(code, f"unreachable code {code}")
        else:
            if icmp_type == 11:
                return offender, rtt, False, None
            if icmp_type == 3:
                if code == 3:
                    return offender, rtt, offender == address, None
                return offender, rtt, False, _UNREACH_V4.get(code, f"unreachable code {code}")
    return None


def _sockaddr(raw: bytes, v6: bool) -> str | None:
    if v6 and len(raw) >= 24:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24])
    if not v6 and len(raw) >= 8:
        return socket.inet_ntop(socket.AF_INET, raw[4:8])
    return None


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    from ..probes.icmp import IP_SUCCESS, IP_TTL_EXPIRED_TRANSIT, icmp_send_echo

    def _probe_windows(address: str, ttl: int, timeout: float) -> ProbeOutcome:
        status, replier, rtt = icmp_send_echo(address, timeout, ttl)
        if status == IP_SUCCESS:
            return replier, float(rtt), True, None
        if status == IP_TTL_EXPIRED_TRANSIT:
            return replier, float(rtt), False, None
        if replier:
            return replier, float(rtt), False, f"IP_STATUS {status}"
        return None, None, False, None
else:
    def _probe_windows(address: str, ttl: int, timeout: float) -> ProbeOutcome:
        raise OSError("IcmpSendEcho exists on Windows only")
