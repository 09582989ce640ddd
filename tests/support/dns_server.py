"""A real DNS server on 127.0.0.1 (UDP plus TCP on the same port) with scriptable faults.

Example::

    async with DnsServer() as srv:
        srv.add_a("svc.test", "10.1.2.3", ttl=60)
        srv.add_cname("alias.test", "svc.test")
        srv.set_behaviour("bad.test", "servfail")
        resolver.nameservers = [srv.address]
        resolver.port = srv.port

Behaviours (per name, see :data:`Behaviour`): ``"answer"`` (the records that were added),
``"nxdomain"``, ``"servfail"``, ``"refused"``, ``"nodata"`` (NOERROR, empty answer),
``"silent"`` (never reply), ``"truncate"`` (TC bit over UDP, the full answer over TCP) and
``"garbage"`` (a reply that carries the query id but cannot be parsed). Names without records
or behaviour get :attr:`DnsServer.default_behaviour` (``"nxdomain"``).
"""

from __future__ import annotations

import asyncio
import errno
from typing import Literal, cast, get_args

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Behaviour = Literal[
    "answer", "nxdomain", "servfail", "refused", "nodata", "silent", "truncate", "garbage"
]
_BEHAVIOURS: frozenset[str] = frozenset(get_args(Behaviour))
_RCODES = {
    "nxdomain": dns.rcode.NXDOMAIN,
    "servfail": dns.rcode.SERVFAIL,
    "refused": dns.rcode.REFUSED,
    "nodata": dns.rcode.NOERROR,
}
_MAX_CNAME_CHAIN = 16


def _name(name: str | dns.name.Name) -> dns.name.Name:
    return name if isinstance(name, dns.name.Name) else dns.name.from_text(name)


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self._server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (the selector loop's datagram transport does not subclass DatagramTransport)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._server._on_udp(data, addr)


class DnsServer:
    """Authoritative-looking, recursion-available DNS server for tests (UDP + TCP)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        default_behaviour: Behaviour = "nxdomain",
        negative_ttl: int = 30,
    ) -> None:
        self.address = host
        self.port = 0
        self.default_behaviour: Behaviour = default_behaviour
        self.negative_ttl = negative_ttl
        #: every query received, in order: ``(name without final dot, lower case; "A")``
        self.queries: list[tuple[str, str]] = []
        #: the subset of :attr:`queries` that came over TCP
        self.tcp_queries: list[tuple[str, str]] = []
        self._records: dict[dns.name.Name, dict[dns.rdatatype.RdataType, tuple[int, list[str]]]]
        self._records = {}
        self._cnames: dict[dns.name.Name, tuple[dns.name.Name, int]] = {}
        self._behaviours: dict[dns.name.Name, Behaviour] = {}
        self._delays: dict[dns.name.Name, float] = {}
        self._udp: _Udp | None = None
        self._tcp: asyncio.Server | None = None
        self._tcp_tasks: set[asyncio.Task[None]] = set()
        self._tcp_writers: set[asyncio.StreamWriter] = set()
        self._timers: set[asyncio.TimerHandle] = set()

    # ------------------------------------------------------------------ configuration
    def add_records(self, name: str, rdtype: str, *rdatas: str, ttl: int = 300) -> None:
        """Add records of any type in zone-file text (``"10 mx.test."`` for MX...)."""
        key = _name(name)
        self._cnames.pop(key, None)
        rtype = dns.rdatatype.from_text(rdtype)
        by_type = self._records.setdefault(key, {})
        _, existing = by_type.get(rtype, (ttl, []))
        by_type[rtype] = (ttl, [*existing, *rdatas])

    def add_a(self, name: str, *addresses: str, ttl: int = 300) -> None:
        """Answer ``name`` IN A with ``addresses`` (appended to earlier ones; TTL replaced)."""
        self.add_records(name, "A", *addresses, ttl=ttl)

    def add_aaaa(self, name: str, *addresses: str, ttl: int = 300) -> None:
        """Answer ``name`` IN AAAA with ``addresses``."""
        self.add_records(name, "AAAA", *addresses, ttl=ttl)

    def add_cname(self, name: str, target: str, *, ttl: int = 300) -> None:
        """Make ``name`` a CNAME to ``target``; answers include the whole chain."""
        key = _name(name)
        self._records.pop(key, None)
        self._cnames[key] = (_name(target), ttl)

    def set_behaviour(self, name: str, behaviour: Behaviour) -> None:
        """Force a behaviour for ``name``; ``"answer"`` restores normal answers."""
        if behaviour not in _BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; expected one of {_BEHAVIOURS}")
        self._behaviours[_name(name)] = behaviour

    def set_delay(self, name: str, seconds: float) -> None:
        """Delay every reply about ``name`` by ``seconds`` (0 removes the delay)."""
        self._delays[_name(name)] = seconds

    def remove(self, name: str) -> None:
        """Forget records, CNAME, behaviour and delay of ``name``."""
        key = _name(name)
        self._records.pop(key, None)
        self._cnames.pop(key, None)
        self._behaviours.pop(key, None)
        self._delays.pop(key, None)

    def query_count(self, name: str | None = None, rdtype: str | None = None) -> int:
        """Number of queries received, optionally only for ``name`` and/or ``rdtype``."""
        wanted = None if name is None else _text(_name(name))
        return sum(
            1
            for qname, qtype in self.queries
            if (wanted is None or qname == wanted) and (rdtype is None or qtype == rdtype.upper())
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Bind UDP on a random free port, then TCP on the same port number."""
        loop = asyncio.get_running_loop()
        for _ in range(50):
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(self.address, 0)
            )
            port = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._accept_tcp, self.address, port)
            except OSError as exc:
                transport.close()
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue
            self._udp, self.port = protocol, port
            return
        raise OSError(errno.EADDRINUSE, "no port free for both UDP and TCP")

    async def close(self) -> None:
        """Stop listening, drop pending delayed replies and TCP connections."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        self._udp = None
        if self._tcp is not None:
            self._tcp.close()
        for writer in self._tcp_writers:
            writer.transport.abort()
        tasks = list(self._tcp_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._tcp is not None:
            await self._tcp.wait_closed()
            self._tcp = None

    async def __aenter__(self) -> DnsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ protocol
    def _on_udp(self, data: bytes, addr: tuple[str, int]) -> None:
        udp = self._udp
        if udp is None or udp.transport is None:
            return
        transport = udp.transport
        reply, delay = self._handle(data, tcp=False)
        if reply is None:
            return
        if delay <= 0:
            transport.sendto(reply, addr)
            return

        def send() -> None:
            self._timers.discard(timer)
            if not transport.is_closing():
                transport.sendto(reply, addr)

        timer = asyncio.get_running_loop().call_later(delay, send)
        self._timers.add(timer)

    def _accept_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback running our own task: Python 3.11's start_server logs an error
        # when the task it creates for a coroutine callback is cancelled.
        task = asyncio.get_running_loop().create_task(self._on_tcp(reader, writer))
        self._tcp_tasks.add(task)
        task.add_done_callback(self._tcp_tasks.discard)

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tcp_writers.add(writer)
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(2), "big")
                reply, delay = self._handle(await reader.readexactly(size), tcp=True)
                if reply is None:  # silent: keep the connection open, never answer
                    await asyncio.Event().wait()
                    continue
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tcp_writers.discard(writer)
            writer.transport.abort()

    def _handle(self, data: bytes, *, tcp: bool) -> tuple[bytes | None, float]:
        """Return (wire reply or None for no reply, delay in seconds)."""
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return None, 0.0
        if not query.question:
            return None, 0.0
        question = query.question[0]
        record = (_text(question.name), dns.rdatatype.to_text(question.rdtype))
        self.queries.append(record)
        if tcp:
            self.tcp_queries.append(record)
        return self._respond(query, tcp=tcp), self._delays.get(question.name, 0.0)

    def _behaviour_of(self, name: dns.name.Name) -> Behaviour:
        forced = self._behaviours.get(name)
        if forced is not None:
            return forced
        if name in self._records or name in self._cnames:
            return "answer"
        return self.default_behaviour

    def _respond(self, query: dns.message.Message, *, tcp: bool) -> bytes | None:
        question = query.question[0]
        qname, rdtype = question.name, question.rdtype
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        name = qname
        for _ in range(_MAX_CNAME_CHAIN):
            behaviour = self._behaviour_of(name)
            if behaviour == "silent":
                return None
            if behaviour == "garbage":
                # Right id and QR bit, then a header claiming 1 question followed by a
                # compression pointer out of the message: unparseable.
                return (
                    query.id.to_bytes(2, "big")
                    + b"\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00\xff\xfe"
                )
            if behaviour == "truncate" and not tcp:
                response.answer.clear()
                response.flags |= dns.flags.TC
                return response.to_wire()
            if behaviour in _RCODES:
                response.set_rcode(_RCODES[behaviour])
                if behaviour in ("nxdomain", "nodata"):
                    self._add_soa(response, name)
                return response.to_wire()
            cname = self._cnames.get(name)
            if cname is None or rdtype == dns.rdatatype.CNAME:
                break
            target, ttl = cname
            response.answer.append(
                dns.rrset.from_text(
                    name, ttl, dns.rdataclass.IN, dns.rdatatype.CNAME, target.to_text()
                )
            )
            name = target
        if name in self._cnames and rdtype == dns.rdatatype.CNAME:
            target, ttl = self._cnames[name]
            response.answer.append(
                dns.rrset.from_text(
                    name, ttl, dns.rdataclass.IN, dns.rdatatype.CNAME, target.to_text()
                )
            )
        elif name not in self._records:
            response.set_rcode(dns.rcode.NXDOMAIN)
            self._add_soa(response, name)
        elif rdtype in self._records[name]:
            ttl, rdatas = self._records[name][rdtype]
            response.answer.append(
                dns.rrset.from_text_list(name, ttl, dns.rdataclass.IN, rdtype, rdatas)
            )
        else:
            self._add_soa(response, name)  # NODATA
        return response.to_wire()

    def _add_soa(self, response: dns.message.Message, name: dns.name.Name) -> None:
        """Negative answers carry an SOA, as real servers do (negative caching TTL)."""
        zone = dns.name.Name(name.labels[-2:]) if len(name.labels) >= 2 else dns.name.root
        mname = dns.name.Name(("ns", *zone.labels))
        rname = dns.name.Name(("hostmaster", *zone.labels))
        soa = f"{mname} {rname} 1 3600 600 86400 {self.negative_ttl}"
        response.authority.append(
            dns.rrset.from_text(zone, self.negative_ttl, dns.rdataclass.IN, dns.rdatatype.SOA, soa)
        )
