"""Tests of the loopback test servers themselves (tests/support): real sockets, no mocks."""

from __future__ import annotations

import asyncio
import errno
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver
import httpx
import pytest

from tests.support.dns_server import DnsServer
from tests.support.fault_proxy import FaultProxy
from tests.support.fixtures import (
    FaultProxyFactory,
    dns_server,
    fault_proxy_factory,
    http_server,
    postgres_cluster,
    tls_http_server,
)
from tests.support.http_server import HttpServer, Request, Response
from tests.support.postgres import PostgresCluster

__all__ = [  # fixtures imported for their side effect of being registered here
    "dns_server",
    "fault_proxy_factory",
    "http_server",
    "postgres_cluster",
    "tls_http_server",
]


def _resolver(srv: DnsServer, lifetime: float = 2.0) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [srv.address]
    resolver.port = srv.port
    resolver.lifetime = lifetime
    return resolver


def _chain(exc: BaseException | None) -> list[BaseException]:
    """The exception and everything it was raised from / during."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


# ---------------------------------------------------------------------------------------- DNS
async def test_dns_a_and_aaaa_with_ttl(dns_server: DnsServer) -> None:
    dns_server.add_a("svc.test", "10.1.2.3", "10.1.2.4", ttl=60)
    dns_server.add_aaaa("svc.test", "fd00::1", ttl=120)
    resolver = _resolver(dns_server)

    a = await resolver.resolve("svc.test", "A")
    aaaa = await resolver.resolve("SVC.test", "AAAA")

    assert sorted(r.address for r in a) == ["10.1.2.3", "10.1.2.4"]
    assert a.rrset is not None and a.rrset.ttl == 60
    assert [r.address for r in aaaa] == ["fd00::1"]
    assert aaaa.rrset is not None and aaaa.rrset.ttl == 120
    assert dns_server.queries == [("svc.test", "A"), ("svc.test", "AAAA")]
    assert dns_server.query_count("svc.test", "a") == 1


async def test_dns_cname_chain_in_answer_section(dns_server: DnsServer) -> None:
    dns_server.add_a("svc.test", "10.1.2.3", ttl=60)
    dns_server.add_cname("alias.test", "svc.test", ttl=30)
    dns_server.add_cname("outer.test", "alias.test")

    answer = await _resolver(dns_server).resolve("outer.test", "A")

    assert [r.address for r in answer] == ["10.1.2.3"]
    assert answer.canonical_name.to_text() == "svc.test."
    sections = [
        (rr.name.to_text(), dns.rdatatype.to_text(rr.rdtype)) for rr in answer.response.answer
    ]
    assert sections == [("outer.test.", "CNAME"), ("alias.test.", "CNAME"), ("svc.test.", "A")]
    assert dns_server.queries == [("outer.test", "A")]  # one query: the server sent the chain


async def test_dns_unknown_and_forced_nxdomain(dns_server: DnsServer) -> None:
    dns_server.add_a("gone.test", "10.0.0.1")
    dns_server.set_behaviour("gone.test", "nxdomain")
    resolver = _resolver(dns_server)
    for name in ("nothing-here.test", "gone.test"):
        with pytest.raises(dns.resolver.NXDOMAIN):
            await resolver.resolve(name, "A")
    assert dns_server.query_count("nothing-here.test") == 1
    assert dns_server.query_count("gone.test") == 1


async def test_dns_nodata(dns_server: DnsServer) -> None:
    dns_server.add_a("v4only.test", "10.0.0.1")
    dns_server.set_behaviour("empty.test", "nodata")
    resolver = _resolver(dns_server)
    with pytest.raises(dns.resolver.NoAnswer):
        await resolver.resolve("v4only.test", "AAAA")  # name exists, no AAAA
    with pytest.raises(dns.resolver.NoAnswer):
        await resolver.resolve("empty.test", "A")


@pytest.mark.parametrize(("behaviour", "rcode"), [("servfail", "SERVFAIL"), ("refused", "REFUSED")])
async def test_dns_servfail_and_refused_raise_no_nameservers(
    dns_server: DnsServer, behaviour: Any, rcode: str
) -> None:
    dns_server.set_behaviour("bad.test", behaviour)
    with pytest.raises(dns.resolver.NoNameservers) as info:
        await _resolver(dns_server).resolve("bad.test", "A")
    # dnspython 2.9: NoNameservers.kwargs["errors"] is a list of 5-tuples
    #   (str(nameserver) e.g. "Do53:127.0.0.1@PORT", tcp_attempt: bool, port,
    #    error, response)
    # For SERVFAIL / REFUSED (the server did answer) `error` is NOT an exception but the rcode
    # text, "SERVFAIL" / "REFUSED", and `response` is the dns.message.Message. For transport
    # failures `error` is the exception and `response` None. With one nameserver and
    # retry_servfail False there is exactly one entry: the server is dropped after one answer.
    errors = info.value.kwargs["errors"]
    assert len(errors) == 1
    where, tcp, port, error, response = errors[0]
    assert (where, tcp, port, error) == (
        f"Do53:127.0.0.1@{dns_server.port}",
        False,
        dns_server.port,
        rcode,
    )
    assert isinstance(response, dns.message.Message)
    assert dns.rcode.to_text(response.rcode()) == rcode
    assert dns_server.query_count("bad.test") == 1


async def test_dns_silent_times_out(dns_server: DnsServer) -> None:
    dns_server.set_behaviour("quiet.test", "silent")
    started = time.monotonic()
    with pytest.raises(dns.resolver.LifetimeTimeout):
        await _resolver(dns_server, lifetime=0.5).resolve("quiet.test", "A")
    assert 0.45 <= time.monotonic() - started < 2.0
    assert dns_server.query_count("quiet.test") >= 1  # asked (maybe retried), never answered


async def test_dns_truncation_falls_back_to_tcp(dns_server: DnsServer) -> None:
    dns_server.add_a("big.test", "10.9.9.9", ttl=5)
    dns_server.set_behaviour("big.test", "truncate")
    answer = await _resolver(dns_server).resolve("big.test", "A")
    assert [r.address for r in answer] == ["10.9.9.9"]
    assert dns_server.queries == [("big.test", "A"), ("big.test", "A")]  # UDP, then TCP
    assert dns_server.tcp_queries == [("big.test", "A")]


async def test_dns_garbage_reply(dns_server: DnsServer) -> None:
    dns_server.set_behaviour("junk.test", "garbage")
    query = dns.message.make_query("junk.test", "A")
    # A raw query sees the unparseable reply (dnspython: dns.name.BadPointer, a FormError)...
    with pytest.raises(dns.exception.FormError):
        await dns.asyncquery.udp(query, dns_server.address, timeout=1.0, port=dns_server.port)
    # ...while the resolver ignores unparseable datagrams (ignore_errors=True) and times out.
    with pytest.raises(dns.resolver.LifetimeTimeout):
        await _resolver(dns_server, lifetime=0.5).resolve("junk.test", "A")


async def test_dns_delay(dns_server: DnsServer) -> None:
    dns_server.add_a("slow.test", "10.0.0.2")
    dns_server.set_delay("slow.test", 0.2)
    started = time.monotonic()
    await _resolver(dns_server).resolve("slow.test", "A")
    assert time.monotonic() - started >= 0.2


# --------------------------------------------------------------------------------------- HTTP
@pytest.mark.parametrize("status", [200, 500, 503])
async def test_http_status(http_server: HttpServer, status: int) -> None:
    http_server.route("/s", status=status, body=b"payload", headers={"X-Test": "1"})
    async with httpx.AsyncClient() as client:
        response = await client.get(http_server.url_for("/s?a=1&b=two"))
    assert response.status_code == status
    assert response.content == b"payload"
    assert response.headers["x-test"] == "1"
    (request,) = http_server.requests
    assert (request.method, request.path, request.query) == ("GET", "/s", {"a": "1", "b": "two"})


async def test_http_json_text_404_405(http_server: HttpServer) -> None:
    http_server.route("/json", body={"status": "ok", "n": [1, 2]})
    http_server.route("/text", body="héllo")
    http_server.route("/post-only", method="POST", status=201)
    async with httpx.AsyncClient(base_url=http_server.url) as client:
        json_response = await client.get("/json")
        text_response = await client.get("/text")
        missing = await client.get("/missing")
        wrong_method = await client.get("/post-only")
        created = await client.post("/post-only")
    assert json_response.json() == {"status": "ok", "n": [1, 2]}
    assert json_response.headers["content-type"] == "application/json"
    assert text_response.text == "héllo"
    assert text_response.headers["content-type"].startswith("text/plain")
    assert (missing.status_code, wrong_method.status_code, created.status_code) == (404, 405, 201)


async def test_http_handler_sees_the_request(http_server: HttpServer) -> None:
    async def handler(request: Request) -> Response:
        return Response(
            202,
            {"echo": request.json(), "auth": request.headers["AUTHORIZATION"], "q": request.query},
            {"X-Conn": str(request.connection_id)},
        )

    http_server.route("/echo", handler=handler, method="POST")
    async with httpx.AsyncClient(base_url=http_server.url) as client:
        response = await client.post(
            "/echo", params={"k": "v"}, json={"x": 1}, headers={"Authorization": "Bearer t"}
        )
    assert response.status_code == 202
    assert response.json() == {"echo": {"x": 1}, "auth": "Bearer t", "q": {"k": "v"}}
    assert http_server.requests[0].headers.get("content-type") == "application/json"


async def test_http_chunked_upload_and_head(http_server: HttpServer) -> None:
    http_server.route("/upload", handler=lambda req: Response(200, {"size": len(req.body)}))
    http_server.route("/doc", body=b"0123456789")

    async def parts() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"a" * 1000

    async with httpx.AsyncClient(base_url=http_server.url) as client:
        uploaded = await client.post("/upload", content=parts())
        head = await client.head("/doc")
    assert uploaded.json() == {"size": 3000}
    assert http_server.requests[0].headers["transfer-encoding"] == "chunked"
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "10", b"")


async def test_http_delay(http_server: HttpServer) -> None:
    http_server.route("/slow", delay=0.2)
    async with httpx.AsyncClient() as client:
        started = time.monotonic()
        response = await client.get(http_server.url_for("/slow"))
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed >= 0.2


async def test_http_reset_before_response(http_server: HttpServer) -> None:
    http_server.route("/reset", fault="reset")
    async with httpx.AsyncClient() as client:
        # Measured: the RST arrives while httpx waits for the response head -> ECONNRESET on
        # recv -> httpx.ReadError ("[Errno 104] Connection reset by peer"), not
        # RemoteProtocolError (that one is a clean FIN without a response).
        with pytest.raises(httpx.ReadError) as info:
            await client.get(http_server.url_for("/reset"))
    assert any(isinstance(e, ConnectionResetError) for e in _chain(info.value))
    assert [r.path for r in http_server.requests] == ["/reset"]  # the request did arrive


async def test_http_reset_mid_body(http_server: HttpServer) -> None:
    http_server.route("/partial", fault="reset_mid_body", body=b"y" * 10_000)
    async with httpx.AsyncClient() as client:
        # Headers arrive (200, Content-Length 10000), then the RST. Measured: httpx.ReadError
        # (ECONNRESET; str(exc) is empty). RemoteProtocolError ("peer closed connection
        # without sending complete message body") would be a FIN instead: accepted too.
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await client.get(http_server.url_for("/partial"))
        async with client.stream("GET", http_server.url_for("/partial")) as response:
            assert response.status_code == 200
            assert response.headers["content-length"] == "10000"
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
                await response.aread()


async def test_http_html_502_and_hang(http_server: HttpServer) -> None:
    http_server.route("/proxy", fault="html_502")
    http_server.route("/hang", fault="hang")
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=0.3)) as client:
        response = await client.get(http_server.url_for("/proxy"))
        assert response.status_code == 502
        assert response.headers["content-type"] == "text/html"
        assert b"502 Bad Gateway" in response.content
        with pytest.raises(httpx.ReadTimeout):
            await client.get(http_server.url_for("/hang"))


async def test_http_keep_alive_reuses_one_connection(http_server: HttpServer) -> None:
    http_server.route("/a", body=b"1")
    async with httpx.AsyncClient() as client:
        for _ in range(3):
            assert (await client.get(http_server.url_for("/a"))).content == b"1"
        assert http_server.connections_accepted == 1
        assert {r.connection_id for r in http_server.requests} == {1}
        await client.get(http_server.url_for("/a"), headers={"Connection": "close"})
        await client.get(http_server.url_for("/a"))
    assert http_server.connections_accepted == 2  # "Connection: close" was honoured


async def test_https_verified_with_the_test_ca(tls_http_server: HttpServer) -> None:
    tls_http_server.route("/secure", body={"tls": True})
    assert tls_http_server.url.startswith("https://localhost:")
    assert tls_http_server.ca_pem_path is not None and tls_http_server.ca_pem_path.is_file()
    context = ssl.create_default_context(cafile=str(tls_http_server.ca_pem_path))
    async with httpx.AsyncClient(verify=context) as client:
        response = await client.get(tls_http_server.url_for("/secure"))
        by_ip = await client.get(f"https://127.0.0.1:{tls_http_server.port}/secure")
    assert response.json() == {"tls": True}
    assert by_ip.status_code == 200  # the certificate also names 127.0.0.1


async def test_https_rejected_without_the_test_ca(tls_http_server: HttpServer) -> None:
    tls_http_server.route("/secure")
    async with httpx.AsyncClient() as client:  # system trust store only
        with pytest.raises(httpx.ConnectError) as info:
            await client.get(tls_http_server.url_for("/secure"))
    assert any(isinstance(e, ssl.SSLCertVerificationError) for e in _chain(info.value))
    assert tls_http_server.requests == []


# --------------------------------------------------------------------------------- FaultProxy
async def test_proxy_modes_in_front_of_http(
    http_server: HttpServer, fault_proxy_factory: FaultProxyFactory
) -> None:
    http_server.route("/", body=b"through")
    proxy = await fault_proxy_factory("127.0.0.1", http_server.port)
    url = f"http://127.0.0.1:{proxy.port}/"
    port = proxy.port
    timeout = httpx.Timeout(5.0, read=0.3)
    limits = httpx.Limits(max_keepalive_connections=0)  # a new connection per request
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        assert (await client.get(url)).content == b"through"

        await proxy.set_mode("refuse")
        assert not proxy.listening
        with pytest.raises(httpx.ConnectError) as refused:
            await client.get(url)
        assert any(
            isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED
            for e in _chain(refused.value)
        )

        await proxy.set_mode("reset")
        assert proxy.port == port
        # The RST beats the request: httpx.ReadError (ECONNRESET) or, rarely, WriteError.
        with pytest.raises((httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)):
            await client.get(url)

        await proxy.set_mode("blackhole")
        with pytest.raises(httpx.ReadTimeout):
            await client.get(url)

        await proxy.set_mode("pass")
        assert proxy.port == port
        assert (await client.get(url)).content == b"through"
    assert proxy.connections_total == 4  # refused connects never reached the proxy
    assert [r.path for r in http_server.requests] == ["/", "/"]


async def test_proxy_delay(http_server: HttpServer, fault_proxy_factory: FaultProxyFactory) -> None:
    http_server.route("/", body=b"late")
    proxy = await fault_proxy_factory("127.0.0.1", http_server.port, mode="delay", delay_s=0.1)
    async with httpx.AsyncClient() as client:
        started = time.monotonic()
        response = await client.get(f"http://127.0.0.1:{proxy.port}/")
        elapsed = time.monotonic() - started
    assert response.content == b"late"
    assert elapsed >= 0.3  # connect + request chunk + response chunk, 0.1 s each


async def test_proxy_cut_breaks_live_keep_alive_connection(
    http_server: HttpServer, fault_proxy_factory: FaultProxyFactory
) -> None:
    http_server.route("/fast", body=b"ok")
    http_server.route("/slow", body=b"never", delay=2.0)
    proxy = await fault_proxy_factory("127.0.0.1", http_server.port)
    base = f"http://127.0.0.1:{proxy.port}"
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/fast")).content == b"ok"
        assert proxy.connections_active == 1  # kept alive
        pending = asyncio.create_task(client.get("/slow"))  # same pooled connection
        while len(http_server.requests) < 2:
            await asyncio.sleep(0.01)
        assert await proxy.cut() == 1
        assert proxy.connections_active == 0
        # Measured: the in-flight request fails with httpx.ReadError (ECONNRESET).
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await pending
        assert (await client.get("/fast")).content == b"ok"  # a fresh connection works
    assert proxy.connections_total == 2
    assert {r.connection_id for r in http_server.requests} == {1, 2}


async def test_proxy_close_leaves_no_task_behind(http_server: HttpServer) -> None:
    http_server.route("/", body=b"x")
    baseline = asyncio.all_tasks()
    async with FaultProxy("127.0.0.1", http_server.port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        await proxy.set_mode("blackhole")
        r2, w2 = await asyncio.open_connection("127.0.0.1", proxy.port)
        w2.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await w2.drain()
        while proxy.connections_active < 2:
            await asyncio.sleep(0.01)
    leftover = asyncio.all_tasks() - baseline - {asyncio.current_task()}
    assert leftover == set()
    assert proxy.connections_active == 0
    # close() resets the connections it still holds (SO_LINGER 0), both sides.
    for r in (reader, r2):
        with pytest.raises(ConnectionResetError):
            await r.read()
    for w in (writer, w2):
        w.close()


async def test_servers_close_leaves_no_task_behind() -> None:
    baseline = asyncio.all_tasks()
    async with DnsServer() as dns_srv, HttpServer() as http_srv:
        dns_srv.set_behaviour("quiet.test", "silent")
        http_srv.route("/hang", fault="hang")
        # a DNS-over-TCP query that is never answered
        _, dns_writer = await asyncio.open_connection(dns_srv.address, dns_srv.port)
        wire = dns.message.make_query("quiet.test", "A").to_wire()
        dns_writer.write(len(wire).to_bytes(2, "big") + wire)
        # an HTTP request that is never answered
        _, http_writer = await asyncio.open_connection("127.0.0.1", http_srv.port)
        http_writer.write(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
        while not (dns_srv.tcp_queries and http_srv.requests):
            await asyncio.sleep(0.01)
        assert http_srv.connections_active == 1
    assert asyncio.all_tasks() - baseline - {asyncio.current_task()} == set()
    for writer in (dns_writer, http_writer):
        writer.close()


# --------------------------------------------------------------------------------- PostgreSQL
@pytest.mark.postgres
async def test_postgres_connects_with_the_right_password(
    postgres_cluster: PostgresCluster,
) -> None:
    assert postgres_cluster.dsn_without_password() == (
        f"postgresql://netmon@127.0.0.1:{postgres_cluster.port}/netmon"
    )
    conn = await asyncpg.connect(
        postgres_cluster.dsn_without_password(), password=postgres_cluster.password, timeout=5
    )
    try:
        assert await conn.fetchval("SELECT 1") == 1
        version = await conn.fetchval("SHOW server_version")
        assert int(version.split(".")[0]) >= 13
        assert await conn.fetchval("SELECT current_database()") == "netmon"
    finally:
        await conn.close()


@pytest.mark.postgres
async def test_postgres_wrong_password_fails(postgres_cluster: PostgresCluster) -> None:
    with pytest.raises(asyncpg.exceptions.InvalidPasswordError):
        await asyncpg.connect(postgres_cluster.dsn_without_password(), password="wrong", timeout=5)


@pytest.mark.postgres
async def test_postgres_through_fault_proxy(
    postgres_cluster: PostgresCluster, fault_proxy_factory: FaultProxyFactory
) -> None:
    proxy = await fault_proxy_factory(postgres_cluster.host, postgres_cluster.port, mode="reset")
    dsn = f"postgresql://netmon@127.0.0.1:{proxy.port}/netmon"
    # Measured: asyncpg raises the bare ConnectionResetError (ECONNRESET), not an asyncpg error.
    with pytest.raises((ConnectionError, asyncpg.exceptions.ConnectionDoesNotExistError)):
        await asyncpg.connect(dsn, password=postgres_cluster.password, timeout=5)
    await proxy.set_mode("pass")
    conn = await asyncpg.connect(dsn, password=postgres_cluster.password, timeout=5)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
