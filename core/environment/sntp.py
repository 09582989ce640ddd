"""The system clock against a time source: one SNTP query (RFC 4330).

One 48-byte UDP request (version 4, mode 3, our transmit time in the transmit field); the
answer's four timestamps give the offset ``((T2 - T1) + (T3 - T4)) / 2`` (positive: this
machine is behind) and the round trip ``(T4 - T1) - (T3 - T2)``. The answer is checked as
RFC 4330 section 5 says: long enough, server mode, not a kiss-o'-death (stratum 0), not
unsynchronised (leap indicator 3), originate timestamp equal to what we sent, transmit
timestamp non-zero. Anything else is an error in words, never an exception.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["NTP_PORT", "ClockCheck", "query_sntp", "split_server"]

NTP_PORT = 123
_NTP_UNIX_DELTA = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
_ERA = 1 << 32
_PACKET = struct.Struct("!BBbbII4sQQQQ")  # 48 bytes: header, root delay/disp., refid, 4 ts
_MODE_CLIENT, _MODE_SERVER, _MODE_BROADCAST = 3, 4, 5
_VERSION = 4
_LI_ALARM = 3


@dataclass(frozen=True, slots=True)
class ClockCheck:
    """The clock check: ``offset_s`` is the time source minus this clock (positive: this
    machine is behind); ``source`` says where the server came from; ``error`` why there is
    no offset (no time source configured, timeout, a malformed answer)."""

    server: str | None
    offset_s: float | None = None
    round_trip_ms: float | None = None
    method: str = "sntp"
    error: str | None = None
    source: str = ""
    stratum: int | None = None

    @property
    def ok(self) -> bool:
        """True when the source answered with a usable time."""
        return self.offset_s is not None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the ``clock`` object of ``netmon env --json``)."""
        return {"server": self.server, "source": self.source, "method": self.method,
                "offset_s": None if self.offset_s is None else round(self.offset_s, 3),
                "round_trip_ms": None if self.round_trip_ms is None
                else round(self.round_trip_ms, 1),
                "stratum": self.stratum, "error": self.error}


def split_server(text: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or str(NTP_PORT)
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, str(NTP_PORT)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a time server: {text!r} (use HOST, HOST:PORT or [IPv6]:PORT)")
    return host, int(port)


def _to_ntp(unix: float) -> int:
    return int((unix + _NTP_UNIX_DELTA) * _ERA) % (_ERA * _ERA)


def _from_ntp(value: int) -> float:
    seconds, fraction = divmod(value, _ERA)
    if not seconds & 0x8000_0000:  # RFC 4330 section 3: MSB 0 means era 1 (2036 onwards)
        seconds += _ERA
    return seconds - _NTP_UNIX_DELTA + fraction / _ERA


def _request(t1: float) -> tuple[bytes, int]:
    """The 48-byte client request sent at unix time ``t1``, and its transmit field."""
    stamp = _to_ntp(t1)
    return _PACKET.pack((_VERSION << 3) | _MODE_CLIENT, 0, 0, 0, 0, 0, b"\0" * 4,
                        0, 0, 0, stamp), stamp


def _parse_answer(data: bytes, sent: int, t1: float, t4: float,
                 ) -> tuple[float, float, int] | str:
    """(offset seconds, round trip ms, stratum), or why the answer is unusable."""
    if len(data) < _PACKET.size:
        return f"malformed answer: {len(data)} bytes, an SNTP answer has at least 48"
    first, stratum, _, _, _, _, refid, _, originate, receive, transmit = \
        _PACKET.unpack_from(data)
    leap, mode = first >> 6, first & 0x7
    if mode not in (_MODE_SERVER, _MODE_BROADCAST):
        return f"malformed answer: mode {mode}, a server answers with mode 4"
    if stratum == 0:
        code = refid.decode("ascii", "replace").strip("\0") or "?"
        return f"the server refused (kiss-o'-death {code})"
    if leap == _LI_ALARM:
        return "the server is not synchronised itself (leap indicator 3)"
    if originate != sent:
        return "malformed answer: it does not echo our request's timestamp"
    if transmit == 0:
        return "malformed answer: the transmit timestamp is zero"
    t2, t3 = _from_ntp(receive), _from_ntp(transmit)
    offset = ((t2 - t1) + (t3 - t4)) / 2
    round_trip = max((t4 - t1) - (t3 - t2), 0.0)
    return offset, round_trip * 1000, stratum


class _Answer(asyncio.DatagramProtocol):
    def __init__(self, wall: Callable[[], float]) -> None:
        self.wall = wall
        self.got: asyncio.Future[tuple[bytes, float]] = \
            asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if not self.got.done():
            self.got.set_result((data, self.wall()))

    def error_received(self, exc: Exception) -> None:
        if not self.got.done():
            self.got.set_exception(exc)


async def query_sntp(server: str, *, timeout: float = 2.0, source: str = "",
                     wall: Callable[[], float] = time.time) -> ClockCheck:
    """Ask ``server`` (``host[:port]``) for the time once; ``wall`` is the clock judged."""
    try:
        host, port = split_server(server)
    except ValueError as exc:
        return ClockCheck(server, error=str(exc), source=source)
    loop = asyncio.get_running_loop()
    transport = None
    try:
        async with asyncio.timeout(timeout):
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: _Answer(wall), remote_addr=(host, port))
            t1 = wall()
            packet, sent = _request(t1)
            transport.sendto(packet)
            data, t4 = await protocol.got
    except TimeoutError:
        return ClockCheck(server, error=f"no answer within {timeout:g} s", source=source)
    except OSError as exc:
        return ClockCheck(server, error=f"{type(exc).__name__}: {exc.strerror or exc}",
                          source=source)
    finally:
        if transport is not None:
            transport.close()
    found = _parse_answer(data, sent, t1, t4)
    if isinstance(found, str):
        return ClockCheck(server, error=found, source=source)
    offset, round_trip_ms, stratum = found
    return ClockCheck(server, offset, round_trip_ms, error=None, source=source,
                      stratum=stratum)
