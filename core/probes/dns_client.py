"""Direct DNS queries over one long-lived connected UDP socket per nameserver.

dnspython's resolver opens a socket and an asyncio endpoint for every query; a monitor
that asks the same nameservers every second keeps one connected socket per nameserver
instead (:class:`DnsClient`, owned by the probes' context). Queries are built and parsed
with dnspython's message module, each with a random id, matched to replies by id and
question, each with its own deadline. What the probe reports is what dnspython's resolver
reports for the same exchange (its answer and exception types, so the error kinds and
texts stay the same): a truncated reply is asked again over TCP, a REFUSED or SERVFAIL is
``NoNameservers``, a silent server a ``LifetimeTimeout``. One thing differs, and truly: a
connected socket hears the ICMP port-unreachable of a closed port, so the pending queries
to that nameserver fail with "Connection refused" at once instead of timing out; the
socket is then re-created for the next query. The source port changes every
:data:`ROTATE_AFTER` queries.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import os
import time
import weakref
from typing import Any, cast

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver

__all__ = ["ROTATE_AFTER", "DnsClient"]

#: a query in flight: the query (any id), its question section on the wire, its future
_Pending = tuple[dns.message.Message, bytes, "asyncio.Future[dns.message.Message]"]
#: built queries kept per (name, type); the oldest go past this many
_KEEP_QUERIES = 4096
#: queries sent from one source port before the next ones go from a new socket. A kept
#: port leaves an off-path forger only the 16-bit id (and the question) to guess, where
#: dnspython's fresh port per query adds the port; a new port every this many queries
#: bounds how long a learned port is worth, for one socket set-up per that many queries
ROTATE_AFTER = 256


class _Link(asyncio.DatagramProtocol):
    """One connected UDP socket to one nameserver and the queries awaiting its replies."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, _Pending] = {}
        self.broken = False
        self.sent = 0
        self.retiring = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (the selector loop's datagram transport does not subclass DatagramTransport)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        entry = self.pending.get(int.from_bytes(data[:2], "big")) if len(data) >= 12 else None
        if entry is None:
            return  # late (its query timed out) or not ours
        request, question, future = entry
        # a response (QR set, opcode QUERY) that echoes the question byte for byte is the
        # answer; anything else (a name in other case, an error without the question) is
        # left to dnspython's own check
        echoed = data[2] & 0xF8 == 0x80 and data[12:12 + len(question)] == question
        try:
            response = dns.message.from_wire(data, raise_on_truncation=True)
        except dns.message.Truncated as truncated:
            # the TC bit sends the query to TCP
            response = truncated.message()  # type: ignore[no-untyped-call]
        except Exception:  # a reply that cannot be parsed is not the answer
            return
        if not echoed and not _with_id(request, response.id).is_response(response):
            return  # same id, other question: not the answer to this query
        del self.pending[response.id]
        if not future.done():
            future.set_result(response)

    def error_received(self, exc: Exception) -> None:
        """An ICMP error on the socket: true of this nameserver, so every query waiting on
        it fails; the next one opens a new socket. Port unreachable is ECONNREFUSED, and on
        Windows WSAECONNRESET (10054), which on a UDP socket means the same: said as
        refused on every platform."""
        if isinstance(exc, ConnectionResetError):
            exc = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionAbortedError("the DNS socket was closed"))

    def _fail(self, exc: Exception) -> None:
        self.broken = True
        pending, self.pending = self.pending, {}
        for _, _, future in pending.values():
            if not future.done():
                future.set_exception(exc)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    async def ask(self, request: dns.message.Message, wire: bytes,
                  deadline: float) -> dns.message.Message:
        """Send ``wire`` (``request`` with any id) under a fresh random id and wait for its
        reply until ``deadline`` (loop time)."""
        assert self.transport is not None
        qid = _random_id()
        while qid in self.pending:  # two in flight must differ
            qid = _random_id()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dns.message.Message] = loop.create_future()
        self.pending[qid] = (request, wire[12:], future)
        expiry = loop.call_at(deadline, _expire, future)
        self.sent += 1
        try:
            self.transport.sendto(qid.to_bytes(2, "big") + wire[2:])
            return await future
        finally:
            expiry.cancel()
            if self.pending.get(qid, (None, None, None))[2] is future:
                del self.pending[qid]
            if self.retiring and not self.pending:
                self.transport.close()

    def retire(self) -> None:
        """Send nothing more; close once the queries in flight are answered or expire."""
        self.retiring = True
        if not self.pending and self.transport is not None:
            self.transport.close()


def _random_id() -> int:
    return int.from_bytes(os.urandom(2), "big")


def _with_id(request: dns.message.Message, qid: int) -> dns.message.Message:
    """A copy of the query ``request`` carrying id ``qid``."""
    question = request.question[0]
    copy = dns.message.make_query(question.name, question.rdtype)
    copy.id = qid
    return copy


def _expire(future: asyncio.Future[dns.message.Message]) -> None:
    if not future.done():
        future.set_exception(dns.exception.Timeout())  # type: ignore[no-untyped-call]


class DnsClient:
    """Direct queries to nameservers, one connected UDP socket per (address, port),
    opened on first use and kept until :meth:`close`; a new one after an error or after
    :data:`ROTATE_AFTER` queries."""

    def __init__(self) -> None:
        self._links: dict[tuple[str, int], _Link] = {}
        #: every socket still open, retired ones included (they close when their last
        #: query ends, or at close())
        self._open_links: weakref.WeakSet[_Link] = weakref.WeakSet()
        self._opening: dict[tuple[str, int], asyncio.Future[_Link]] = {}
        self._queries: dict[tuple[str, str], tuple[dns.message.Message, bytes]] = {}
        self._closed = False

    async def query(self, host: str, rdtype: str, ip: str, port: int,
                    timeout: float) -> dns.resolver.Answer:
        """Ask ``ip:port`` for ``rdtype`` of ``host`` (no search list, no cache); raises
        what dnspython's resolver raises (``NXDOMAIN``, ``NoNameservers``,
        ``LifetimeTimeout``...). Raises NotImplementedError on a loop without UDP."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        deadline = loop.time() + timeout
        request, wire = self._built(host, rdtype)
        server = f"Do53:{ip}@{port}"
        tcp = False
        try:
            link = await self._link(ip, port)
            response = await link.ask(request, wire, deadline)
            if response.flags & dns.flags.TC:
                tcp = True
                response = await dns.asyncquery.tcp(
                    _with_id(request, response.id), ip,
                    timeout=max(deadline - loop.time(), 0.001), port=port)
        except dns.exception.Timeout as exc:
            elapsed = time.perf_counter() - started
            timed_out = dns.exception.Timeout(timeout=elapsed)  # type: ignore[no-untyped-call]
            raise dns.resolver.LifetimeTimeout(  # type: ignore[no-untyped-call]
                timeout=elapsed, errors=[(server, tcp, port, timed_out, None)]) from exc
        except (OSError, EOFError, dns.exception.FormError) as exc:
            raise dns.resolver.NoNameservers(  # type: ignore[no-untyped-call]
                request=request, errors=[(server, tcp, port, exc, None)]) from exc
        return _verdict(request, response, server, tcp, ip, port)

    def _built(self, host: str, rdtype: str) -> tuple[dns.message.Message, bytes]:
        """The query for ``host``/``rdtype`` and its wire form, built once (a monitor asks
        the same questions every interval; each query only gets a new id)."""
        key = (host, rdtype)
        built = self._queries.get(key)
        if built is None:
            if len(self._queries) >= _KEEP_QUERIES:
                del self._queries[next(iter(self._queries))]
            request = dns.message.make_query(host, rdtype)
            built = self._queries[key] = (request, request.to_wire())
        return built

    async def _link(self, ip: str, port: int) -> _Link:
        if self._closed:
            raise ConnectionAbortedError("the DNS client was closed")
        key = (ip, port)
        link = self._links.get(key)
        if link is not None and not link.broken and link.sent < ROTATE_AFTER:
            return link
        opening = self._opening.get(key)
        if opening is None:  # the first of many probes starting together opens it
            opening = self._opening[key] = asyncio.ensure_future(self._open(ip, port))
            opening.add_done_callback(functools.partial(self._opened, key))
        return await asyncio.shield(opening)

    def _opened(self, key: tuple[str, int], opening: asyncio.Future[_Link]) -> None:
        self._opening.pop(key, None)
        if not opening.cancelled():
            opening.exception()  # seen by its waiters; not "never retrieved" if all left

    async def _open(self, ip: str, port: int) -> _Link:
        loop = asyncio.get_running_loop()
        _, link = await loop.create_datagram_endpoint(_Link, remote_addr=(ip, port))
        if self._closed:  # closed while this socket was opening: nothing goes out on it
            link._fail(ConnectionAbortedError("the DNS client was closed"))
            raise ConnectionAbortedError("the DNS client was closed")
        self._open_links.add(link)
        old = self._links.get((ip, port))
        if old is not None:
            old.retire()
        self._links[(ip, port)] = link
        return link

    def close(self) -> None:
        """Close every socket, retired ones and those still opening included (queries
        still waiting fail; later ones fail at once)."""
        self._closed = True
        self._links = {}
        for link in list(self._open_links):
            link._fail(ConnectionAbortedError("the DNS client was closed"))


def _verdict(request: dns.message.Message, response: dns.message.Message, server: str,
             tcp: bool, ip: str, port: int) -> dns.resolver.Answer:
    """The answer, or the exception dnspython's resolver raises for this response."""
    qname = request.question[0].name
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        if rcode == dns.rcode.YXDOMAIN:
            raise dns.resolver.YXDOMAIN
        raise dns.resolver.NoNameservers(  # type: ignore[no-untyped-call]
            request=request, errors=[(server, tcp, port, dns.rcode.to_text(rcode), response)])
    try:  # dnspython validates an NXDOMAIN by making an Answer of it too
        answer = dns.resolver.Answer(
            qname, request.question[0].rdtype if rcode == dns.rcode.NOERROR
            else dns.rdatatype.ANY, dns.rdataclass.IN,
            cast(dns.message.QueryMessage, response), ip, port)
    except Exception as exc:  # an answer that does not hang together (broken chain...)
        raise dns.resolver.NoNameservers(  # type: ignore[no-untyped-call]
            request=request, errors=[(server, tcp, port, exc, response)]) from exc
    if rcode == dns.rcode.NXDOMAIN:
        raise dns.resolver.NXDOMAIN(qnames=[qname], responses={qname: response})  # type: ignore[no-untyped-call]
    return answer
