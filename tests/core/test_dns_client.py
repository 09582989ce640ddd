"""Direct DNS queries on one long-lived socket per nameserver, against real loopback
servers: the test DNS server, and a raw UDP responder where a reply must be wrong on
purpose (another id, another question)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import dns.message
import dns.rcode
import dns.resolver
import dns.rrset
import pytest

from core.errors import ErrorKind
from core.probes.dns import resolve_direct
from core.probes.dns_client import DnsClient
from tests.support.dns_server import DnsServer

K = ErrorKind


@pytest.fixture
async def client() -> AsyncIterator[DnsClient]:
    dns_client = DnsClient()
    yield dns_client
    dns_client.close()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Responder(asyncio.DatagramProtocol):
    """A raw UDP nameserver: answers every query with the replies ``script`` makes of it
    (a list of wire messages), and remembers who asked from where."""

    def __init__(self, script: Callable[[dns.message.Message], list[bytes]]) -> None:
        self.script = script
        self.sources: list[tuple[str, int]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sources.append(addr)
        query = dns.message.from_wire(data)
        assert self.transport is not None
        for wire in self.script(query):
            self.transport.sendto(wire, addr)


def answer(query: dns.message.Message, address: str) -> bytes:
    reply = dns.message.make_response(query)
    reply.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", address))
    return reply.to_wire()


async def start(responder: Responder, port: int = 0) -> tuple[asyncio.BaseTransport, int]:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: responder, local_addr=("127.0.0.1", port))
    return transport, int(transport.get_extra_info("sockname")[1])


async def test_concurrent_queries_share_one_socket_and_each_gets_its_own_answer(
    client: DnsClient,
) -> None:
    responder = Responder(lambda q: [answer(q, f"10.0.0.{int(str(q.question[0].name)[1:-1])}")])
    transport, port = await start(responder)
    try:
        answers = await asyncio.gather(*(
            resolve_direct(f"n{i}", f"127.0.0.1:{port}", timeout=2.0, record_types=("A",),
                           client=client) for i in range(1, 101)))
        assert [a.addresses for a in answers] == [(f"10.0.0.{i}",) for i in range(1, 101)]
        again = await resolve_direct("n7", f"127.0.0.1:{port}", timeout=2.0,
                                     record_types=("A",), client=client)
        assert again.addresses == ("10.0.0.7",)
        assert len(set(responder.sources)) == 1  # 101 queries, one source port
    finally:
        transport.close()


async def test_a_reply_with_another_id_or_question_is_ignored(client: DnsClient) -> None:
    def script(query: dns.message.Message) -> list[bytes]:
        wrong_id = dns.message.make_response(query)
        wrong_id.id = (query.id + 1) % 65536
        wrong_id.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A",
                                                   "10.6.6.6"))
        other = dns.message.make_query("other.invalid", "A")
        other.id = query.id
        wrong_question = answer(other, "10.6.6.7")
        return [wrong_id.to_wire(), wrong_question, b"\x00", answer(query, "10.1.1.1")]

    transport, port = await start(Responder(script))
    try:
        got = await resolve_direct("svc.invalid", f"127.0.0.1:{port}", timeout=2.0,
                                   record_types=("A",), client=client)
        assert got.ok
        assert got.addresses == ("10.1.1.1",)
    finally:
        transport.close()


async def test_a_server_that_stops_answering_gives_timeouts_then_answers_again(
    client: DnsClient, dns_server: DnsServer
) -> None:
    ns = f"127.0.0.1:{dns_server.port}"
    dns_server.add_a("svc.invalid", "10.2.2.2")
    first = await resolve_direct("svc.invalid", ns, timeout=2.0, client=client)
    assert first.ok
    dns_server.set_behaviour("svc.invalid", "silent")
    silent = await resolve_direct("svc.invalid", ns, timeout=0.2, client=client)
    assert not silent.ok
    assert silent.error_kind is K.DNS_TIMEOUT
    assert "timed out" in (silent.error or "")
    dns_server.set_behaviour("svc.invalid", "answer")
    back = await resolve_direct("svc.invalid", ns, timeout=2.0, client=client)
    assert back.addresses == ("10.2.2.2",)


async def test_a_closed_port_is_refused_and_the_socket_is_opened_again(
    client: DnsClient,
) -> None:
    port = free_udp_port()  # nothing listens: the kernel answers ICMP port unreachable
    refused = await resolve_direct("svc.invalid", f"127.0.0.1:{port}", timeout=2.0,
                                   record_types=("A",), client=client)
    assert not refused.ok
    assert refused.error_kind is K.CONNECTION_REFUSED
    assert "Connection refused" in (refused.error or "")
    assert refused.latency_ms < 1000  # said at once, not after the timeout
    transport, _ = await start(Responder(lambda q: [answer(q, "10.3.3.3")]), port)
    try:
        later = await resolve_direct("svc.invalid", f"127.0.0.1:{port}", timeout=2.0,
                                     record_types=("A",), client=client)
        assert later.addresses == ("10.3.3.3",)
    finally:
        transport.close()


async def test_rcodes_keep_the_kinds_and_texts_of_dnspython(
    client: DnsClient, dns_server: DnsServer
) -> None:
    ns = f"127.0.0.1:{dns_server.port}"
    for name in ("servfail", "refused", "nxdomain"):
        dns_server.set_behaviour(f"{name}.invalid", name)  # type: ignore[arg-type]
    servfail = await resolve_direct("servfail.invalid", ns, timeout=2.0, client=client)
    assert (servfail.error_kind, servfail.rcode) == (K.DNS_TEMPORARY, "SERVFAIL")
    assert servfail.error == ("NoNameservers: All nameservers failed to answer the query "
                              f"servfail.invalid. IN A: Server Do53:{dns_server.address}@"
                              f"{dns_server.port} answered SERVFAIL")
    refused = await resolve_direct("refused.invalid", ns, timeout=2.0, client=client)
    assert (refused.error_kind, refused.rcode) == (K.DNS_FAILURE, "REFUSED")
    nxdomain = await resolve_direct("nxdomain.invalid", ns, timeout=2.0, client=client)
    assert (nxdomain.error_kind, nxdomain.rcode) == (K.DNS_NOT_FOUND, "NXDOMAIN")
    assert nxdomain.error == ("NXDOMAIN: The DNS query name does not exist: "
                              "nxdomain.invalid.")


async def test_a_truncated_answer_is_asked_again_over_tcp(
    client: DnsClient, dns_server: DnsServer
) -> None:
    dns_server.add_a("big.invalid", *[f"10.0.1.{i}" for i in range(1, 40)])
    dns_server.set_behaviour("big.invalid", "truncate")
    got = await resolve_direct("big.invalid", f"127.0.0.1:{dns_server.port}", timeout=2.0,
                               record_types=("A",), client=client)
    assert len(got.addresses) == 39
    assert dns_server.tcp_queries == [("big.invalid", "A")]


async def test_a_nameserver_on_a_closed_port_is_refused_not_timed_out() -> None:
    """dnspython's unconnected socket never hears the ICMP port unreachable, so a dead
    nameserver port used to look like a silent one (a timeout after the whole timeout)."""
    got = await resolve_direct("svc.invalid", f"127.0.0.1:{free_udp_port()}", timeout=1.0)
    assert got.error_kind is K.CONNECTION_REFUSED
    assert got.error is not None
    assert "Connection refused" in got.error


async def test_a_reply_in_other_case_or_an_error_without_question_is_the_answer(
    client: DnsClient,
) -> None:
    """Not byte-for-byte echoes, yet answers by dnspython's rules: names compare without
    case, and an error reply (REFUSED...) may leave the question out."""
    def script(query: dns.message.Message) -> list[bytes]:
        name = str(query.question[0].name)
        if name.startswith("refuse"):
            reply = dns.message.make_response(query)
            reply.set_rcode(dns.rcode.REFUSED)
            reply.question = []
            return [reply.to_wire()]
        upper = dns.message.make_query(name.upper(), "A")
        upper.id = query.id
        return [answer(upper, "10.4.4.4")]

    transport, port = await start(Responder(script))
    try:
        upper = await resolve_direct("svc.invalid", f"127.0.0.1:{port}", timeout=2.0,
                                     record_types=("A",), client=client)
        assert upper.addresses == ("10.4.4.4",)
        refused = await resolve_direct("refuse.invalid", f"127.0.0.1:{port}", timeout=2.0,
                                       record_types=("A",), client=client)
        assert (refused.error_kind, refused.rcode) == (K.DNS_FAILURE, "REFUSED")
    finally:
        transport.close()


async def test_windows_port_unreachable_on_udp_is_said_as_refused(
    client: DnsClient, dns_server: DnsServer
) -> None:
    """Windows reports an ICMP port unreachable on a UDP socket as WSAECONNRESET (10054);
    that errno cannot happen here, so the socket's report is handed to the link by hand."""
    dns_server.set_behaviour("svc.invalid", "silent")
    asking = asyncio.ensure_future(resolve_direct(
        "svc.invalid", f"127.0.0.1:{dns_server.port}", timeout=2.0, record_types=("A",),
        client=client))
    while not dns_server.queries:
        await asyncio.sleep(0.005)
    link = client._links[("127.0.0.1", dns_server.port)]
    link.error_received(ConnectionResetError(
        10054, "An existing connection was forcibly closed by the remote host"))
    got = await asking
    assert got.error_kind is K.CONNECTION_REFUSED
    assert "Connection refused" in (got.error or "")


async def test_the_source_port_changes_every_rotate_after_queries(
    client: DnsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.probes.dns_client.ROTATE_AFTER", 5)
    responder = Responder(lambda q: [answer(q, "10.5.5.5")])
    transport, port = await start(responder)
    try:
        for _ in range(3):  # 15 queries, 5 at a time on the same socket
            got = await asyncio.gather(*(
                resolve_direct("svc.invalid", f"127.0.0.1:{port}", timeout=2.0,
                               record_types=("A",), client=client) for _ in range(5)))
            assert all(a.addresses == ("10.5.5.5",) for a in got)
        ports = [p for _, p in responder.sources]
        assert len(set(ports)) == 3
        assert ports == sorted(ports, key=ports.index)  # each port's queries together
    finally:
        transport.close()


async def test_close_while_the_socket_opens_sends_nothing_and_leaves_nothing_open(
    dns_server: DnsServer
) -> None:
    dns_server.add_a("svc.invalid", "10.3.3.3")
    dns_client = DnsClient()
    query = asyncio.ensure_future(
        dns_client.query("svc.invalid", "A", "127.0.0.1", dns_server.port, 2.0))
    await asyncio.sleep(0)  # the query is waiting for its socket to open
    dns_client.close()
    with pytest.raises(dns.resolver.NoNameservers, match="closed"):
        await query
    with pytest.raises(dns.resolver.NoNameservers, match="closed"):  # and so do later ones
        await dns_client.query("svc.invalid", "A", "127.0.0.1", dns_server.port, 2.0)
    fresh = DnsClient()  # a query sent by the closed client would have arrived first
    try:
        await fresh.query("svc.invalid", "A", "127.0.0.1", dns_server.port, 2.0)
    finally:
        fresh.close()
    assert dns_server.queries == [("svc.invalid", "A")]
