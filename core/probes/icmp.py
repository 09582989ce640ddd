"""Is a host there at all? ICMP echo where the OS allows it without privileges, else TCP/UDP.

* Linux: an unprivileged ICMP datagram socket (``SOCK_DGRAM, IPPROTO_ICMP``); the kernel
  allows it to the groups in ``net.ipv4.ping_group_range``, fills in the identifier and
  the checksum.
* Windows: ``IcmpSendEcho`` from iphlpapi.dll (no administrator rights needed).
* Elsewhere, or when ICMP is not permitted or not answered: a fallback that any host
  answers: a TCP connect (an accept *or a refusal* proves the host is there) or, for a
  DNS server, a UDP DNS query (an answer or an ICMP port-unreachable proves it).

``reach`` says which method gave the answer. ``IcmpProbe`` runs it for the monitor's
``icmp`` targets and for ``gateway`` targets (the current default gateway).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any

from ..errors import ErrorKind, classify
from .base import ProbeResult, TargetProbe, describe
from .dns import is_ip_literal, resolve_os

__all__ = ["IcmpNotPermittedError", "IcmpProbe", "Reach", "echo", "reach"]

K = ErrorKind
_ECHO_V4, _REPLY_V4, _ECHO_V6, _REPLY_V6 = 8, 0, 128, 129
_PAYLOAD = b"netmon-reach-0123456789abcdef"
#: Fallbacks: ("tcp", port) connects; ("udp", 53) sends a DNS query.
Fallback = tuple[str, int]


class IcmpNotPermittedError(OSError):
    """This process may not send ICMP echo without privileges (says why)."""


@dataclass(frozen=True, slots=True)
class Reach:
    """Whether ``address`` answered, and how: ``method`` is ``icmp``, ``tcp:PORT``,
    ``udp:PORT`` or ``none``; ``note`` says why a fallback was used."""

    address: str
    ok: bool
    method: str
    latency_ms: float | None = None
    error_kind: ErrorKind | None = None
    error: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"address": self.address, "ok": self.ok, "method": self.method,
                "latency_ms": round(self.latency_ms, 3) if self.latency_ms is not None else None,
                "error_kind": str(self.error_kind) if self.error_kind else None,
                "error": self.error, "note": self.note}


# --------------------------------------------------------------------------- ICMP echo
async def echo(address: str, *, timeout: float, seq: int = 1) -> float:
    """One ICMP echo to ``address``; the round trip in ms.

    Raises IcmpNotPermittedError when unprivileged ICMP is not available here, TimeoutError
    when no reply came within ``timeout``, OSError for an ICMP error (unreachable).
    """
    if sys.platform == "win32":
        return await asyncio.to_thread(_echo_windows, address, timeout)
    if sys.platform != "linux":
        raise IcmpNotPermittedError(f"unprivileged ICMP is not implemented on {sys.platform}")
    return await _echo_linux(address, timeout, seq)


def _open_icmp(v6: bool) -> socket.socket:
    family = socket.AF_INET6 if v6 else socket.AF_INET
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    try:
        return socket.socket(family, socket.SOCK_DGRAM, proto)
    except PermissionError:
        raise IcmpNotPermittedError(
            "unprivileged ICMP is not permitted for this user (Linux: sysctl "
            "net.ipv4.ping_group_range does not include its group)") from None
    except OSError as exc:  # EPROTONOSUPPORT / EAFNOSUPPORT: no ping sockets in this kernel
        raise IcmpNotPermittedError(f"no unprivileged ICMP sockets here: {describe(exc)}") from None


async def _echo_linux(address: str, timeout: float, seq: int) -> float:
    v6 = ipaddress.ip_address(address).version == 6
    sock = _open_icmp(v6)
    loop = asyncio.get_running_loop()
    try:
        sock.setblocking(False)
        # identifier 0: the kernel puts the socket's own; the checksum is the kernel's too
        packet = struct.pack("!BBHHH", _ECHO_V6 if v6 else _ECHO_V4, 0, 0, 0, seq) + _PAYLOAD
        started = time.perf_counter()
        sock.connect((address, 0))  # a datagram connect: no I/O, no name lookup
        async with asyncio.timeout(timeout):
            await loop.sock_sendall(sock, packet)
            while True:
                data = await loop.sock_recv(sock, 2048)
                if len(data) >= 8 and data[0] == (_REPLY_V6 if v6 else _REPLY_V4) \
                        and struct.unpack("!H", data[6:8])[0] == seq:
                    return (time.perf_counter() - started) * 1000
    finally:
        sock.close()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import ctypes
    from ctypes import wintypes

    class _IpOptionInformation(ctypes.Structure):
        _fields_ = [("Ttl", ctypes.c_ubyte), ("Tos", ctypes.c_ubyte),
                    ("Flags", ctypes.c_ubyte), ("OptionsSize", ctypes.c_ubyte),
                    ("OptionsData", ctypes.c_void_p)]

    class _IcmpEchoReply(ctypes.Structure):
        _fields_ = [("Address", wintypes.ULONG), ("Status", wintypes.ULONG),
                    ("RoundTripTime", wintypes.ULONG), ("DataSize", wintypes.USHORT),
                    ("Reserved", wintypes.USHORT), ("Data", ctypes.c_void_p),
                    ("Options", _IpOptionInformation)]

    #: IP_STATUS values (ipexport.h) that the echo and the path trace tell apart.
    IP_SUCCESS, IP_REQ_TIMED_OUT, IP_TTL_EXPIRED_TRANSIT = 0, 11010, 11013

    def icmp_send_echo(address: str, timeout: float, ttl: int | None = None,
                       ) -> tuple[int, str, int]:
        """IcmpSendEcho (IPv4): (IP_STATUS, replying address, round trip in ms)."""
        iphlpapi = ctypes.WinDLL("iphlpapi.dll", use_last_error=True)
        iphlpapi.IcmpCreateFile.restype = wintypes.HANDLE
        iphlpapi.IcmpSendEcho.argtypes = [
            wintypes.HANDLE, wintypes.ULONG, ctypes.c_void_p, wintypes.WORD, ctypes.c_void_p,
            ctypes.c_void_p, wintypes.DWORD, wintypes.DWORD]
        iphlpapi.IcmpCloseHandle.argtypes = [wintypes.HANDLE]
        handle = iphlpapi.IcmpCreateFile()
        if handle in (None, wintypes.HANDLE(-1).value):
            raise IcmpNotPermittedError(f"IcmpCreateFile failed ({ctypes.get_last_error()})")
        try:
            dest = struct.unpack("<L", socket.inet_aton(address))[0]  # network byte order
            options = _IpOptionInformation(Ttl=ttl or 128)
            size = ctypes.sizeof(_IcmpEchoReply) + len(_PAYLOAD) + 8 + 64
            buffer = ctypes.create_string_buffer(size)
            data = ctypes.create_string_buffer(_PAYLOAD)
            count = iphlpapi.IcmpSendEcho(handle, dest, data, len(_PAYLOAD),
                                          ctypes.byref(options), buffer, size,
                                          max(1, int(timeout * 1000)))
            reply = _IcmpEchoReply.from_buffer_copy(buffer)
            if count == 0 and reply.Status == 0:
                return IP_REQ_TIMED_OUT, "", 0
            replier = socket.inet_ntoa(struct.pack("<L", reply.Address))
            return int(reply.Status), replier, int(reply.RoundTripTime)
        finally:
            iphlpapi.IcmpCloseHandle(handle)

    def _echo_windows(address: str, timeout: float) -> float:
        if ipaddress.ip_address(address).version == 6:
            raise IcmpNotPermittedError("ICMPv6 echo (Icmp6SendEcho2) is not implemented")
        status, _, rtt = icmp_send_echo(address, timeout)
        if status == IP_SUCCESS:
            return float(rtt)
        if status == IP_REQ_TIMED_OUT:
            raise TimeoutError(f"no ICMP echo reply within {timeout:g} s")
        raise OSError(f"ICMP echo failed: IP_STATUS {status}")
else:
    def _echo_windows(address: str, timeout: float) -> float:
        raise IcmpNotPermittedError("IcmpSendEcho exists on Windows only")


# --------------------------------------------------------------------------- fallbacks
async def _tcp(address: str, port: int, timeout: float) -> float:
    """Connect time in ms; a refusal counts as an answer (the host sent a reset)."""
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        try:
            async with asyncio.timeout(timeout):
                await loop.sock_connect(sock, (address, port))
        except ConnectionRefusedError:
            pass
    return (time.perf_counter() - started) * 1000


async def _udp_dns(address: str, port: int, timeout: float) -> float:
    """A DNS query for the root's NS; an answer or a port-unreachable counts."""
    import dns.message

    query = dns.message.make_query(".", "NS").to_wire()
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            sock.connect((address, port))
            async with asyncio.timeout(timeout):
                await loop.sock_sendall(sock, query)
                await loop.sock_recv(sock, 4096)
        except ConnectionRefusedError:
            pass
    return (time.perf_counter() - started) * 1000


async def _fallback(address: str, fallback: Fallback, timeout: float, note: str) -> Reach:
    proto, port = fallback
    method = f"{proto}:{port}"
    try:
        if proto == "udp":
            latency = await _udp_dns(address, port, timeout)
        else:
            latency = await _tcp(address, port, timeout)
    except TimeoutError:
        return Reach(address, False, method, None, K.TIMEOUT,
                     f"no answer within {timeout:g} s", note)
    except OSError as exc:
        return Reach(address, False, method, None, classify(exc), describe(exc), note)
    return Reach(address, True, method, latency, note=note)


async def reach(address: str, *, timeout: float = 2.0, fallback: Fallback | None = ("tcp", 53),
                icmp: bool = True) -> Reach:
    """Does ``address`` (an IP literal) answer? ICMP echo first, then ``fallback``.

    A fallback runs when ICMP is not permitted or goes unanswered (many hosts drop it);
    ``note`` says so. Never raises for network outcomes; each step is bounded by ``timeout``.
    """
    note = None
    if icmp:
        try:
            latency = await echo(address, timeout=timeout)
            return Reach(address, True, "icmp", latency)
        except IcmpNotPermittedError as exc:
            note = f"ICMP not used: {exc}"
            failed = Reach(address, False, "none", None, K.UNKNOWN, str(exc))
        except TimeoutError:
            note = f"no ICMP echo reply within {timeout:g} s"
            failed = Reach(address, False, "icmp", None, K.TIMEOUT, note)
        except OSError as exc:
            note = f"ICMP echo failed: {describe(exc)}"
            failed = Reach(address, False, "icmp", None, classify(exc), describe(exc))
        if fallback is None:
            return failed
    if fallback is None:
        return Reach(address, False, "none", error="no method allowed")
    return await _fallback(address, fallback, timeout, note or "ICMP not asked for")


# --------------------------------------------------------------------------- monitor probe
class IcmpProbe(TargetProbe):
    """``icmp`` targets: is ``host`` there? ``gateway`` targets: is the default gateway?

    ``details`` carries the address, the method used and why a fallback was used.
    """

    async def run(self) -> ProbeResult:
        target = self.target
        checked_at = self.context.clock.now()
        started = time.perf_counter()
        fallback: Fallback = ("tcp", target.port or 53)
        if target.kind == "gateway":
            address = await _default_gateway()
            if address is None:
                return ProbeResult(target.name, target.kind, False, None, checked_at,
                                   error_kind=K.NETWORK_UNREACHABLE,
                                   error="no default gateway: no default route on this machine",
                                   details={"stage": "route"})
        else:
            host = target.host.strip("[]")
            if is_ip_literal(host):
                address = host
            else:
                answer = await resolve_os(host, None, timeout=self.timeout)
                if not answer.ok or not answer.addresses:
                    return ProbeResult(target.name, target.kind, False, answer.latency_ms,
                                       checked_at, error_kind=answer.error_kind,
                                       error=answer.error, details={"stage": "dns"})
                address = answer.addresses[0]
        found = await reach(address, timeout=self.timeout, fallback=fallback)
        details = {"address": address, "method": found.method, "note": found.note}
        if found.ok:
            return ProbeResult(target.name, target.kind, True, found.latency_ms, checked_at,
                               phases={"reach": round(found.latency_ms or 0.0, 3)},
                               details=details)
        return ProbeResult(target.name, target.kind, False,
                           (time.perf_counter() - started) * 1000, checked_at,
                           error_kind=found.error_kind, error=found.error, details=details)


async def _default_gateway() -> str | None:
    from ..environment import read_environment

    env = await asyncio.to_thread(read_environment)
    return next((r.gateway for r in env.default_routes if r.gateway), None)
