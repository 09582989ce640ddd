"""Lean loopback DNS and HTTP responders for the capacity ladder.

The monitor and these servers share the machine's cores, so every microsecond the servers
spend is taken from the monitor's budget (with ``tests.support``'s full servers it was a
quarter of two cores at 700 probes/s). These answer the benchmark's only questions with
canned bytes:

- DNS over UDP: each distinct query (its bytes after the 2-byte id) is answered once with
  dnspython's message module (``HOST`` IN A -> 127.0.0.1, another type of ``HOST``: no
  data, any other name NXDOMAIN; no SOA in negative answers, unlike
  ``tests.support.dns_server``), and the reply is kept; later copies of that query get the
  kept reply with their own id. No TCP: no reply is ever truncated.
- HTTP/1.1 keep-alive: every request head gets ``200 ok`` (a body even to a HEAD: only GET
  is benchmarked); ``/warm`` answers after 0.2 s (it holds a connection open, to fill a
  client's pool). Request bodies are not expected.

They count what they answered, as the full servers do, for the ``stats`` the ladder reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype

RESPONSE_OK = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
               b"\r\nok")
WARM_DELAY_S = 0.2


class LeanDns(asyncio.DatagramProtocol):
    """Answers ``host`` IN A with ``address`` (TTL 300); NXDOMAIN for any other question."""

    def __init__(self, host: str, address: str) -> None:
        self.host = dns.name.from_text(host)
        self.address = address
        self.queries = 0
        self._replies: dict[bytes, bytes] = {}  # query without its id -> reply without it
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 12 or self._transport is None:
            return
        self.queries += 1
        key = data[2:]
        reply = self._replies.get(key)
        if reply is None:
            reply = self._replies[key] = self._answer(data)[2:]
        self._transport.sendto(data[:2] + reply, addr)

    def _answer(self, data: bytes) -> bytes:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0] if query.question else None
        if question is None or question.name != self.host:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.A:
            rrset = response.find_rrset(response.answer, self.host, dns.rdataclass.IN,
                                        dns.rdatatype.A, create=True)
            rrset.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.A, self.address),
                      300)
        # another type of the name: NOERROR with no answer (the name exists)
        return response.to_wire()


class LeanHttp(asyncio.Protocol):
    """One keep-alive connection: a canned ``200 ok`` per request head."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self.counts["connections"] += 1

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data
        while (end := buffer.find(b"\r\n\r\n")) >= 0:
            head, buffer = buffer[:end], buffer[end + 4:]
            self.counts["requests"] += 1
            if head.startswith(b"GET /warm "):
                asyncio.get_running_loop().call_later(WARM_DELAY_S, self._send, RESPONSE_OK)
            else:
                self._send(RESPONSE_OK)
        self._buffer = buffer

    def _send(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)


async def start(host: str) -> tuple[LeanDns, int, dict[str, int], int, Callable[[], None]]:
    """Start both on 127.0.0.1: the DNS protocol and port, the HTTP counts and port, and
    a function that closes them."""
    loop = asyncio.get_running_loop()
    dns_transport, dns_protocol = await loop.create_datagram_endpoint(
        lambda: LeanDns(host, "127.0.0.1"), local_addr=("127.0.0.1", 0))
    counts = {"connections": 0, "requests": 0}
    server = await loop.create_server(lambda: LeanHttp(counts), "127.0.0.1", 0)
    dns_port = dns_transport.get_extra_info("sockname")[1]
    http_port = server.sockets[0].getsockname()[1]

    def close() -> None:
        dns_transport.close()
        server.close()

    return dns_protocol, dns_port, counts, http_port, close
