"""The probes' HTTP/1.1 transport against real loopback servers: error kinds, keep-alive
pool, TLS, timeouts, cancellation, bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from core.config import Target
from core.errors import ErrorKind
from core.probes import ProbeContext, make_probe
from core.probes.base import ProbeResult
from tests.support.fixtures import FaultProxyFactory
from tests.support.http_server import HttpServer
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

