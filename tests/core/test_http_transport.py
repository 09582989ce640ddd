"""The probes' HTTP/1.1 transport against real loopback servers: error kinds, keep-alive
pool, TLS, timeouts, cancellation, bodies."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from core.config import Target
from core.errors import ErrorKind, classify
from core.probes import ProbeContext, make_probe
from core.probes.base import ProbeResult
from core.probes.http import MAX_BODY
from core.probes.http_transport import ProbeTransport, connect_first
from tests.support.fixtures import FaultProxyFactory
from tests.support.http_server import HttpServer, Request, Response
from tests.support.netutil import free_tcp_port

K = ErrorKind
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext(default_timeout_s=2.0)
    yield context
    await context.aclose()


async def probe(ctx: ProbeContext, url: str, **kw: object) -> ProbeResult:
    target = Target(name="web", kind="http", url=url, **kw)  # type: ignore[arg-type]
    return await make_probe(target, ctx).run()


class RawServer:
    """A TCP server on 127.0.0.1 running ``handler(reader, writer, connection_number)``:
    for answers the HTTP test server will not give (garbage, closing without a word)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self.handler(reader, writer, self.connections)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


# --- error kinds and messages (pinned on the httpcore transport, kept on ours) -----------
async def test_refused_is_connection_refused(ctx: ProbeContext) -> None:
    result = await probe(ctx, f"http://127.0.0.1:{free_tcp_port()}/")
    assert result.error_kind is K.CONNECTION_REFUSED
    assert (result.error or "").startswith("ConnectError: ")


async def test_refused_on_every_address_of_a_name_is_connection_refused(
    ctx: ProbeContext,
) -> None:
    result = await probe(ctx, f"http://localhost:{free_tcp_port()}/")
    assert result.error_kind is K.CONNECTION_REFUSED
    assert (result.error or "").startswith("ConnectError: ")


async def test_untrusted_certificate_is_tls_error(
    ctx: ProbeContext, tls_http_server: HttpServer,
) -> None:
    tls_http_server.route("/", body="ok")
    result = await probe(ctx, tls_http_server.url + "/")
    assert result.error_kind is K.TLS_ERROR
    assert (result.error or "").startswith(
        "ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")


async def test_reset_before_the_response_is_connection_reset(
    ctx: ProbeContext, http_server: HttpServer,
) -> None:
    http_server.fault("/reset", "reset")
    result = await probe(ctx, http_server.url + "/reset")
    assert result.error_kind is K.CONNECTION_RESET
    assert (result.error or "").startswith("ReadError: ")
    assert "[Errno 104]" in (result.error or "") or "10054" in (result.error or "")


async def test_reset_mid_body_is_connection_reset(
    ctx: ProbeContext, http_server: HttpServer,
) -> None:
    http_server.fault("/mid", "reset_mid_body")
    result = await probe(ctx, http_server.url + "/mid")
    assert result.error_kind is K.CONNECTION_RESET
    assert (result.error or "").startswith("ReadError: ")


async def test_server_closing_without_a_response_is_connection_reset(
    ctx: ProbeContext,
) -> None:
    async def close_at_once(reader: asyncio.StreamReader, _w: asyncio.StreamWriter,
                            _n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")

    async with RawServer(close_at_once) as server:
        result = await probe(ctx, server.url)
    assert result.error_kind is K.CONNECTION_RESET
    assert result.error == "RemoteProtocolError: Server disconnected without sending a response."
    assert server.connections == 1  # a fresh connection's failure is the target's: no retry


async def test_garbage_status_line_is_protocol_error(ctx: ProbeContext) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      _n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HELLO WORLD\r\n\r\n")
        await writer.drain()

    async with RawServer(garbage) as server:
        result = await probe(ctx, server.url)
    assert result.error_kind is K.PROTOCOL_ERROR
    assert result.error == "RemoteProtocolError: illegal status line: bytearray(b'HELLO WORLD')"


async def test_body_cut_short_is_connection_reset(ctx: ProbeContext) -> None:
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    _n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()

    async with RawServer(short) as server:
        result = await probe(ctx, server.url)
    assert result.error_kind is K.CONNECTION_RESET
    assert result.error == ("RemoteProtocolError: peer closed connection without sending "
                            "complete message body (received 3 bytes, expected 10)")


async def test_blackholed_response_is_a_read_timeout(
    ctx: ProbeContext, http_server: HttpServer, fault_proxy_factory: FaultProxyFactory,
) -> None:
    proxy = await fault_proxy_factory("127.0.0.1", http_server.port, mode="blackhole")
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await probe(ctx, f"http://127.0.0.1:{proxy.port}/", timeout_s=0.2)
    assert loop.time() - started < 1.5
    assert result.error_kind is K.TIMEOUT
    assert (result.error or "").startswith("ReadTimeout")


async def test_tls_to_a_plain_server_that_never_answers_is_a_connect_timeout(
    ctx: ProbeContext, http_server: HttpServer,
) -> None:
    # The plain server waits for a request line that the TLS ClientHello never completes.
    result = await probe(ctx, f"https://127.0.0.1:{http_server.port}/", verify_tls=False,
                         timeout_s=0.2)
    assert result.error_kind is K.TIMEOUT
    assert (result.error or "").startswith("ConnectTimeout")


async def test_plain_http_to_a_tls_server_is_connection_reset(
    ctx: ProbeContext, tls_http_server: HttpServer,
) -> None:
    result = await probe(ctx, f"http://127.0.0.1:{tls_http_server.port}/")
    assert result.error_kind is K.CONNECTION_RESET
    assert result.error == "RemoteProtocolError: Server disconnected without sending a response."




async def test_connect_that_never_completes_is_a_connect_timeout(ctx: ProbeContext) -> None:
    silent, filler = socket.socket(), socket.socket()
    try:
        silent.bind(("127.0.0.1", 0))
        silent.listen(0)
        filler.settimeout(1.0)
        filler.connect(silent.getsockname())  # fills the queue: later SYNs are dropped
        result = await probe(ctx, f"http://127.0.0.1:{silent.getsockname()[1]}/",
                             timeout_s=0.2)
    finally:
        silent.close()
        filler.close()
    assert result.error_kind is K.TIMEOUT
    assert (result.error or "").startswith("ConnectTimeout")


async def test_a_peer_that_stops_reading_gives_a_write_timeout() -> None:
    async def never_read(_r: asyncio.StreamReader, _w: asyncio.StreamWriter, _n: int) -> None:
        await asyncio.Event().wait()

    async with RawServer(never_read) as server, httpx.AsyncClient(
            transport=ProbeTransport(ssl.create_default_context())) as client:
        with pytest.raises(httpx.WriteTimeout) as caught:
            await client.post(server.url, content=b"x" * 16_000_000, timeout=0.2)
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert classify(caught.value) is K.TIMEOUT

# --- keep-alive pool ---------------------------------------------------------------------
async def eventually(condition: Callable[[], bool], within: float = 2.0) -> None:
    """Poll ``condition`` (I/O of the other side landing), failing after ``within`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def test_sequential_probes_share_one_connection(
    ctx: ProbeContext, http_server: HttpServer,
) -> None:
    http_server.route("/health", body="ok")
    results = [await probe(ctx, http_server.url + "/health", body_contains="ok")
               for _ in range(5)]
    assert all(r.ok for r in results), [r.error for r in results]
    assert http_server.connections_accepted == 1
    assert {r.connection_id for r in http_server.requests} == {1}
    assert "connect" in results[0].phases
    assert "connect" not in results[1].phases  # reused: nothing was connected
    assert {"dns", "ttfb", "total"} <= set(results[1].phases)


async def test_idle_connection_closed_by_the_server_is_replaced_not_a_failure(
    ctx: ProbeContext,
) -> None:
    done: list[int] = []

    async def answer_once_then_close(reader: asyncio.StreamReader,
                                     writer: asyncio.StreamWriter, n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)  # keep-alive by default in HTTP/1.1, then closed while idle
        await writer.drain()
        done.append(n)

    async with RawServer(answer_once_then_close) as server:
        first = await probe(ctx, server.url)
        await eventually(lambda: done == [1])
        second = await probe(ctx, server.url)
    assert first.ok and second.ok, (first.error, second.error)
    assert server.connections == 2


async def test_reused_connection_closed_as_the_request_arrives_is_retried_once(
    ctx: ProbeContext,
) -> None:
    """The race a check before reuse cannot see: the server closes the idle connection
    just as the next request is sent (here: it reads that request and closes)."""
    async def one_answer_per_connection(reader: asyncio.StreamReader,
                                        writer: asyncio.StreamWriter, _n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the next request: closed unanswered

    async with RawServer(one_answer_per_connection) as server:
        results = [await probe(ctx, server.url) for _ in range(3)]
    assert all(r.ok for r in results), [r.error for r in results]
    assert server.connections == 3
    assert "connect" in results[1].phases  # the retry connected anew


async def test_an_answer_sent_on_an_idle_connection_is_not_the_next_probes(
    ctx: ProbeContext,
) -> None:
    """Some servers and load balancers say ``408 Request Timeout`` as they close an idle
    keep-alive connection: that answer (and the close) must not become the next probe's
    result; the next probe goes on a new connection."""
    said: list[int] = []

    async def answer_then_408_when_idle(reader: asyncio.StreamReader,
                                        writer: asyncio.StreamWriter, n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        writer.write(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                     b"Content-Length: 0\r\n\r\n")
        await writer.drain()
        said.append(n)

    async with RawServer(answer_then_408_when_idle) as server:
        results = []
        for turn in range(1, 4):
            results.append(await probe(ctx, server.url))
            await eventually(lambda turn=turn: len(said) == turn)  # type: ignore[misc]
    assert all(r.ok for r in results), [r.error for r in results]
    assert server.connections == 3


async def test_stray_bytes_after_an_answer_are_not_read_as_the_next_answer(
    ctx: ProbeContext,
) -> None:
    """A server that writes a stray CRLF after each answer: the connection is not reused
    with those bytes waiting (they would be parsed as the next status line)."""
    sent: list[int] = []

    async def answer_then_crlf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                               _n: int) -> None:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(OK)
            await writer.drain()
            await asyncio.sleep(0.01)  # after the client has read the answer
            writer.write(b"\r\n")
            await writer.drain()
            sent.append(1)

    async with RawServer(answer_then_crlf) as server:
        results = []
        for _ in range(3):
            results.append(await probe(ctx, server.url))
            await asyncio.sleep(0.05)  # the CRLF (sent 10 ms after the answer) arrives
    assert all(r.ok for r in results), [r.error for r in results]
    assert sent  # the server did write its stray bytes


async def test_a_retried_request_times_its_answer_from_the_retry(ctx: ProbeContext) -> None:
    """The reused connection is dropped under the request after a while; the retry on a
    new connection is answered at once: ttfb is the retry's, not the wait before it."""
    async def second_request_dropped_late(reader: asyncio.StreamReader,
                                          writer: asyncio.StreamWriter, n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        if n == 1:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(0.3)  # then closed, unanswered

    async with RawServer(second_request_dropped_late) as server:
        first = await probe(ctx, server.url)
        second = await probe(ctx, server.url)
    assert first.ok and second.ok, (first.error, second.error)
    assert server.connections == 2
    phases = second.phases
    assert phases["total"] >= 300  # the wait is the probe's time...
    assert phases["ttfb"] < phases["total"] - 250, phases  # ...not the retry's answer's


async def test_post_on_a_reused_connection_closed_by_the_server_is_not_retried() -> None:
    async def one_answer_per_connection(reader: asyncio.StreamReader,
                                        writer: asyncio.StreamWriter, _n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")

    async with RawServer(one_answer_per_connection) as server, httpx.AsyncClient(
            transport=ProbeTransport(ssl.create_default_context())) as client:
        assert (await client.post(server.url, content=b"a")).status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(server.url, content=b"b")  # may have had an effect: not resent
    assert server.connections == 1


async def test_a_partly_read_body_closes_the_connection(
    ctx: ProbeContext, http_server: HttpServer,
) -> None:
    http_server.route("/big", body=b"x" * (MAX_BODY + 200_000))
    http_server.route("/small", body="ok")
    big = await probe(ctx, http_server.url + "/big", body_contains="y")  # reads MAX_BODY only
    assert big.error_kind is K.PROTOCOL_ERROR
    drained = await probe(ctx, http_server.url + "/big")  # drains up to MAX_BODY, stops
    assert drained.ok
    small = await probe(ctx, http_server.url + "/small")
    assert small.ok
    assert http_server.connections_accepted == 3
    await eventually(lambda: http_server.connections_active == 1)  # the partly read closed


async def test_connection_close_and_http_1_0_answers_are_not_reused(ctx: ProbeContext) -> None:
    answers = [b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
               b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
               OK]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    n: int) -> None:
        while True:  # keeps the connection open whatever it answered: the client closes
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answers[min(n, 3) - 1])
            await writer.drain()

    async with RawServer(serve) as server:
        results = [await probe(ctx, server.url) for _ in range(4)]
    assert all(r.ok for r in results), [r.error for r in results]
    assert [r.details["http_version"] for r in results] == [
        "HTTP/1.1", "HTTP/1.0", "HTTP/1.1", "HTTP/1.1"]
    assert server.connections == 3  # the third connection served the last two


async def test_concurrent_probes_each_get_a_connection_and_one_stays_idle(
    ctx: ProbeContext, http_server: HttpServer,
) -> None:
    http_server.route("/slow", body="ok", delay=0.05)
    results = await asyncio.gather(*(probe(ctx, http_server.url + "/slow") for _ in range(4)))
    assert all(r.ok for r in results), [r.error for r in results]
    assert http_server.connections_accepted == 4
    await eventually(lambda: http_server.connections_active == 1)  # a target keeps 1 idle


async def test_shared_client_keeps_up_to_eight_idle_per_origin(http_server: HttpServer) -> None:
    http_server.route("/slow", body="ok", delay=0.05)
    context = ProbeContext()
    client = await context.http_client()  # the shared client: no owner
    try:
        answers = await asyncio.gather(*(client.get(http_server.url + "/slow")
                                         for _ in range(10)))
        assert [a.status_code for a in answers] == [200] * 10
        await eventually(lambda: http_server.connections_active == 8)
    finally:
        await context.aclose()
    await eventually(lambda: http_server.connections_active == 0)  # aclose closed them all


async def test_context_close_closes_every_connection(
    http_server: HttpServer,
) -> None:
    http_server.route("/", body="ok")
    context = ProbeContext(default_timeout_s=2.0)
    assert (await probe(context, http_server.url + "/")).ok
    assert http_server.connections_active == 1
    await context.aclose()
    await eventually(lambda: http_server.connections_active == 0)


# --- bodies ------------------------------------------------------------------------------
async def test_head_reads_no_body_and_keeps_the_connection(
    ctx: ProbeContext, http_server: HttpServer,
) -> None:
    http_server.route("/", body="a body HEAD must not wait for")
    results = [await probe(ctx, http_server.url + "/", method="HEAD") for _ in range(2)]
    assert all(r.ok for r in results), [r.error for r in results]
    assert [r.method for r in http_server.requests] == ["HEAD", "HEAD"]
    assert http_server.connections_accepted == 1


async def test_chunked_body_is_read_and_the_connection_kept(ctx: ProbeContext) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    _n: int) -> None:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(chunked)
            await writer.drain()

    async with RawServer(serve) as server:
        results = [await probe(ctx, server.url, body_contains="hello world") for _ in range(2)]
    assert all(r.ok for r in results), [r.error for r in results]
    assert server.connections == 1


async def test_body_read_until_the_server_closes(ctx: ProbeContext) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    _n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nno length, ends at close")
        await writer.drain()

    async with RawServer(serve) as server:
        results = [await probe(ctx, server.url, body_contains="ends at close")
                   for _ in range(2)]
    assert all(r.ok for r in results), [r.error for r in results]
    assert server.connections == 2


async def test_request_body_is_sent(http_server: HttpServer) -> None:
    seen: list[bytes] = []

    def echo(request: Request) -> Response:
        seen.append(request.body)
        return Response(200, request.body)

    http_server.route("/echo", handler=echo)

    async def streamed() -> AsyncIterator[bytes]:
        yield b"x" * 100_000
        yield b"y" * 100_000

    async with httpx.AsyncClient(transport=ProbeTransport(ssl.create_default_context())) as c:
        small = await c.post(http_server.url + "/echo", content=b"payload")
        large = await c.post(http_server.url + "/echo", content=streamed())  # chunked
    assert small.content == b"payload"
    assert large.content == b"x" * 100_000 + b"y" * 100_000
    assert seen == [b"payload", large.content]
    assert http_server.connections_accepted == 1


async def test_a_request_sent_again_is_sent_as_built_and_a_changed_one_as_changed(
    http_server: HttpServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """h11 validates a request's headers as it builds its event: the same request is built
    once, and any change (header, method, path) is a new one, sent as it now is."""
    import h11

    built: list[bytes] = []
    original = h11.Request.__init__

    def counting(self: h11.Request, **kw: object) -> None:
        built.append(bytes(kw["target"]))  # type: ignore[call-overload]
        original(self, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(h11.Request, "__init__", counting)
    http_server.route("/a", body="ok")
    http_server.route("/b", body="ok")
    async with httpx.AsyncClient(transport=ProbeTransport(ssl.create_default_context())) as c:
        for _ in range(3):
            assert (await c.get(http_server.url + "/a")).status_code == 200
        assert (await c.get(http_server.url + "/a", headers={"X-Try": "2"})).status_code == 200
        assert (await c.head(http_server.url + "/a")).status_code == 200
        assert (await c.get(http_server.url + "/b")).status_code == 200
        assert (await c.get(http_server.url + "/a")).status_code == 200
    assert built == [b"/a", b"/a", b"/a", b"/b"]
    sent = [(r.method, r.path, r.headers.get("x-try")) for r in http_server.requests]
    assert sent == [("GET", "/a", None)] * 3 + [("GET", "/a", "2"), ("HEAD", "/a", None),
                                               ("GET", "/b", None), ("GET", "/a", None)]


# --- TLS ---------------------------------------------------------------------------------
async def test_https_with_a_private_ca_times_tls_and_reads_the_certificate(
    ctx: ProbeContext, tls_http_server: HttpServer,
) -> None:
    tls_http_server.route("/", body="secure")
    url = tls_http_server.url + "/"
    ca = str(tls_http_server.ca_pem_path)
    first = await probe(ctx, url, ca_file=ca, body_contains="secure")
    second = await probe(ctx, url, ca_file=ca, body_contains="secure")
    assert first.ok and second.ok, (first.error, second.error)
    assert {"connect", "tls", "ttfb"} <= set(first.phases)
    assert first.phases["tls"] > 0
    assert first.details["tls_days_left"] > 1
    assert "tls" not in second.phases  # reused: no handshake
    assert "tls_days_left" not in second.details
    assert tls_http_server.connections_accepted == 1


async def test_trace_events_are_httpcore_names_only(tls_http_server: HttpServer) -> None:
    tls_http_server.route("/", body="ok")
    events: list[str] = []
    ssl_objects: list[object] = []

    async def trace(name: str, info: dict[str, object]) -> None:
        events.append(name)
        if name == "connection.start_tls.complete":
            stream = info["return_value"]
            ssl_objects.append(stream.get_extra_info("ssl_object"))  # type: ignore[attr-defined]

    transport = ProbeTransport(tls_http_server.client_ssl_context())
    async with httpx.AsyncClient(transport=transport) as client:
        answer = await client.get(tls_http_server.url + "/", extensions={"trace": trace})
        untraced = await client.get(tls_http_server.url + "/")
    assert answer.text == untraced.text == "ok"
    assert answer.http_version == "HTTP/1.1"
    assert answer.reason_phrase == "OK"
    assert events == ["connection.connect_tcp.started", "connection.connect_tcp.complete",
                      "connection.start_tls.started", "connection.start_tls.complete",
                      "http11.send_request_headers.started",
                      "http11.receive_response_headers.complete"]
    assert isinstance(ssl_objects[0], ssl.SSLObject)


async def test_ipv6_literal_over_http_and_https() -> None:
    """Skipped only when this machine has no ::1 to listen on."""
    if not _has_ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this machine")
    context = ProbeContext(default_timeout_s=2.0)
    try:
        async with HttpServer(host="::1") as plain, HttpServer(host="::1", tls=True) as tls:
            plain.route("/", body="v6")
            tls.route("/", body="v6s")
            http = await probe(context, f"http://[::1]:{plain.port}/", body_contains="v6")
            https = await probe(context, f"https://[::1]:{tls.port}/", verify_tls=False,
                                body_contains="v6s")
    finally:
        await context.aclose()
    assert http.ok, http.error
    assert https.ok, https.error
    assert https.details["tls_days_left"] > 1


# --- cancellation ------------------------------------------------------------------------
async def test_cancelling_a_probe_mid_exchange_closes_its_connection(
    ctx: ProbeContext,
) -> None:
    got_request = asyncio.Event()
    closed: list[int] = []

    async def stall_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                             n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if n == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
            await writer.drain()
            got_request.set()
            assert await reader.read() == b""  # the client closed
            closed.append(n)
        else:
            writer.write(OK)
            await writer.drain()

    async with RawServer(stall_mid_body) as server:
        task = asyncio.create_task(probe(ctx, server.url, body_contains="abc"))
        await got_request.wait()
        await asyncio.sleep(0.01)  # let the client read the partial body
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await eventually(lambda: closed == [1])
        after = await probe(ctx, server.url)
    assert after.ok, after.error
    assert server.connections == 2


# --- proxies -----------------------------------------------------------------------------
async def test_environment_proxy_is_used_and_no_proxy_hosts_go_direct(
    ctx: ProbeContext, http_server: HttpServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with HttpServer() as proxy_server:
        proxy_server.route("/health", body="via proxy")
        http_server.route("/health", body="direct")
        monkeypatch.setenv("HTTP_PROXY", proxy_server.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.delenv("no_proxy", raising=False)
        proxied = await probe(ctx, "http://svc.invalid/health", body_contains="via proxy")
        direct = await probe(ctx, http_server.url + "/health", body_contains="direct")
        assert proxied.ok and direct.ok, (proxied.error, direct.error)
        assert [r.headers["host"] for r in proxy_server.requests] == ["svc.invalid"]
        assert len(http_server.requests) == 1
        client = await ctx.http_client(owner="web")
        assert isinstance(client._transport_for_url(httpx.URL(http_server.url)), ProbeTransport)
        assert isinstance(client._transport_for_url(httpx.URL("http://svc.invalid/")),
                          httpx.AsyncHTTPTransport)


# --- connecting to a name with several addresses -----------------------------------------
def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


async def test_next_address_is_tried_when_the_first_does_not_answer() -> None:
    """Happy eyeballs: an address that never answers (a full accept queue drops the SYN)
    does not use up the connect timeout; the next one is tried after the delay."""
    if not _has_ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    silent = socket.socket(socket.AF_INET6)
    filler = socket.socket(socket.AF_INET6)
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    try:
        silent.bind(("::1", 0))
        silent.listen(0)
        filler.settimeout(1.0)
        filler.connect(silent.getsockname()[:2])  # fills the queue: later SYNs are dropped
        v4_port = server.sockets[0].getsockname()[1]
        infos = [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", silent.getsockname()),
                 (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", v4_port))]
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(2.0):
            sock = await connect_first(infos, delay=0.05)  # type: ignore[arg-type]
        with sock:
            assert sock.getpeername()[:2] == ("127.0.0.1", v4_port)
        assert loop.time() - started < 1.0
    finally:
        silent.close()
        filler.close()
        server.close()


async def test_every_address_refused_keeps_each_error() -> None:
    infos = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", free_tcp_port())),
             (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", free_tcp_port()))]
    with pytest.raises(OSError, match="All connection attempts failed") as caught:
        await connect_first(infos, delay=0.05)  # type: ignore[arg-type]
    assert isinstance(caught.value.__cause__, ExceptionGroup)
    assert len(caught.value.__cause__.exceptions) == 2
    assert classify(caught.value) is K.CONNECTION_REFUSED
