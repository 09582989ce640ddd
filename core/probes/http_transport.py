"""HTTP/1.1 for the probes' clients: h11 over asyncio streams, keep-alive per origin.

httpx's default transport (httpcore's pool over anyio streams) cost ~1.0-1.2 ms of CPU per
keep-alive GET here, the wall for 1,000 targets a second on two cores; h11 over asyncio
streams does the same exchange for about half. ``ProbeTransport`` keeps what the probe
relies on: httpcore's trace events (``connection.connect_tcp.*``, ``connection.start_tls.*``,
``http11.send_request_headers.started``, ``http11.receive_response_headers.complete``, only
those) so ``fetch()`` times phases alike through a proxy (httpx's own transports) and
through this one, and httpx's exception classes chained from the socket or ``ssl`` error
so ``classify`` gives the same kinds.

TCP is connected first (``loop.sock_connect``, each address in turn) and TLS is started
on the connected stream with ``StreamWriter.start_tls`` (3.11+): two timed steps, public
asyncio APIs that the selector and the proactor (Windows) loops both implement, and one
code path for http and https. The connect timeout applies to each step, as in httpcore.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, SupportsIndex, cast

import h11
import httpx

from ..deadlines import Deadlines
from .os_resolver import getaddrinfo

__all__ = ["ProbeCookies", "ProbeTransport"]

Trace = Callable[[str, dict[str, Any]], Awaitable[None]]
Origin = tuple[str, str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_READ_SIZE = 64 * 1024
_WRITE_CHUNK = 64 * 1024
_MAX_INCOMPLETE_EVENT_SIZE = 100 * 1024  # as httpcore: a header block larger than this fails
#: Methods sent again on a fresh connection when a reused one was closed under them.
_RETRY_METHODS = frozenset({"GET", "HEAD"})
#: Request heads kept per transport (a target's own client sends one).
_KEEP_HEADS = 64
_DISCONNECTED = "Server disconnected without sending a response."  # httpcore's words


class ProbeCookies(httpx.Cookies):
    """A client's cookies that look at a response only when it sets one.

    httpx hands every response to ``http.cookiejar`` (an ``email`` message of its headers
    and a ``urllib`` request are built for it: ~45 us per response, measured), which does
    nothing when no ``Set-Cookie`` (or ``Set-Cookie2``) header came; here such a response
    is not handed over at all. Cookies that are set are stored and sent as before."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


class _CountingReader(asyncio.StreamReader):
    """A ``StreamReader`` that knows how many bytes it holds that nobody has read yet
    (``_read`` counts what it takes), so a pooled connection with bytes waiting is seen."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.fed = 0
        self.taken = 0

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:  # the transport's bytes
        self.fed += len(cast(bytes, data))
        super().feed_data(data)

    @property
    def unread(self) -> int:
        """Bytes received and not yet read."""
        return self.fed - self.taken


class _Connection:
    """One HTTP/1.1 connection: streams, h11 state, and whether the current response has
    sent any byte yet."""

    __slots__ = ("h11", "idle_since", "origin", "reader", "received", "writer")

    def __init__(self, origin: Origin, reader: _CountingReader,
                 writer: asyncio.StreamWriter) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT,
                                  max_incomplete_event_size=_MAX_INCOMPLETE_EVENT_SIZE)
        self.received = False
        self.idle_since = 0.0

    def reusable(self) -> bool:
        """Whether it can carry the next request: the peer has not closed it (EOF seen,
        error, transport closing) and sent nothing since the last answer (a ``408`` as it
        closes an idle connection, stray bytes: they would be read as the next answer)."""
        reader = self.reader
        return not (reader.unread or reader.at_eof() or reader.exception() is not None
                    or self.writer.transport.is_closing())

    def close(self, *, abort: bool) -> None:
        """Close: ``abort`` at once (mid-exchange: nothing left to say, and a TLS close
        would wait for the peer's close_notify), else politely."""
        if abort:
            self.writer.transport.abort()
        else:
            self.writer.close()


class ProbeTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over h11 and asyncio streams with a keep-alive pool per origin.

    At most ``max_idle`` idle connections are kept per (scheme, host, port), each for at
    most ``keepalive_expiry`` seconds (httpx's default, 5 s: a connection idle longer may
    have been dropped silently by a NAT or firewall); concurrent requests each get their
    own connection. A connection is kept only after its response was read to the end and
    h11 is ready for the next cycle; a partial read, an error or a cancellation closes it.
    A GET or HEAD whose reused connection fails before any byte of the answer arrived
    (the server closed it while idle) is sent once more on a new connection.
    """

    def __init__(self, ssl_context: ssl.SSLContext, *, max_idle: int = 1,
                 keepalive_expiry: float = 5.0) -> None:
        ssl_context.set_alpn_protocols(["http/1.1"])  # as httpcore does on every connect
        self._ssl_context = ssl_context
        self._max_idle = max_idle
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[Origin, list[_Connection]] = {}
        self._connections: set[_Connection] = set()
        #: the read and write timeouts (one loop timer per delay, not one per read)
        self._deadlines = Deadlines()
        #: h11's request events by (method, target, headers): h11 validates every header
        #: as it builds one (~25 us per request, measured), and a probe sends the same
        #: request every interval; an event is immutable, so one serves every send
        self._heads: dict[tuple[bytes, bytes, tuple[tuple[bytes, bytes], ...]], h11.Request] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        default_port = _DEFAULT_PORTS.get(scheme)
        if default_port is None:
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{scheme}://'.")
        origin = (scheme, url.host, url.port or default_port)
        timeouts: dict[str, float | None] = request.extensions.get("timeout") or {}
        trace: Trace | None = request.extensions.get("trace")
        conn = self._idle_connection(origin)
        if conn is not None:
            try:
                return await self._exchange(conn, request, timeouts, trace)
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
                if conn.received or request.method not in _RETRY_METHODS:
                    raise
            # The server closed the idle connection as it was reused: not the target's
            # failure. A fresh connection's failure is.
        conn = await self._connect(origin, timeouts.get("connect"), trace)
        return await self._exchange(conn, request, timeouts, trace)

    async def aclose(self) -> None:
        """Close every connection, idle or in use."""
        self._idle.clear()
        connections, self._connections = self._connections, set()
        for conn in connections:
            conn.close(abort=False)

    # ------------------------------------------------------------------ pool
    def _idle_connection(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.reusable() and now - conn.idle_since < self._keepalive_expiry:
                return conn
            self._discard(conn, abort=False)
        return None

    def _release(self, conn: _Connection, complete: bool) -> None:
        """Back to the pool when the exchange ended cleanly and h11 can start another."""
        state = conn.h11
        if (complete and state.our_state is h11.DONE and state.their_state is h11.DONE
                and state.trailing_data == (b"", False)):  # nothing after the answer
            idle = self._idle.setdefault(conn.origin, [])
            if len(idle) < self._max_idle and conn.reusable():
                state.start_next_cycle()
                conn.idle_since = time.monotonic()
                idle.append(conn)
                return
        self._discard(conn, abort=not complete)

    def _discard(self, conn: _Connection, *, abort: bool = True) -> None:
        conn.close(abort=abort)
        self._connections.discard(conn)

    # ------------------------------------------------------------------ connecting
    async def _connect(self, origin: Origin, timeout: float | None,
                       trace: Trace | None) -> _Connection:
        scheme, host, port = origin
        if trace is not None:
            await trace("connection.connect_tcp.started", {
                "host": host, "port": port, "local_address": None, "timeout": timeout,
                "socket_options": None})
        try:
            async with asyncio.timeout(timeout):
                sock = await _open_socket(host, port)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout("timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(str(exc)) from exc
        try:
            reader, writer = await _open_streams(sock)
        except BaseException:
            sock.close()
            raise
        conn = _Connection(origin, reader, writer)
        self._connections.add(conn)
        try:
            if trace is not None:
                await trace("connection.connect_tcp.complete", {"return_value": writer})
            if scheme == "https":
                await self._start_tls(writer, host, timeout, trace)
        except BaseException:
            self._discard(conn)
            raise
        return conn

    async def _start_tls(self, writer: asyncio.StreamWriter, host: str,
                         timeout: float | None, trace: Trace | None) -> None:
        if trace is not None:
            await trace("connection.start_tls.started", {
                "ssl_context": self._ssl_context, "server_hostname": host, "timeout": timeout})
        try:
            async with asyncio.timeout(timeout):
                await writer.start_tls(self._ssl_context, server_hostname=host)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout("timed out") from exc
        except OSError as exc:  # ssl.SSLError is one; httpcore raises ConnectError too
            raise httpx.ConnectError(str(exc)) from exc
        if trace is not None:
            await trace("connection.start_tls.complete", {"return_value": writer})

    # ------------------------------------------------------------------ one exchange
    async def _exchange(self, conn: _Connection, request: httpx.Request,
                        timeouts: dict[str, float | None], trace: Trace | None,
                        ) -> httpx.Response:
        conn.received = False
        read_timeout = timeouts.get("read")
        try:
            if trace is not None:
                await trace("http11.send_request_headers.started", {"request": request})
            # as httpcore: the server may have answered before closing; read that answer
            with contextlib.suppress(httpx.WriteError):
                await self._send(conn, self._head(request), request, timeouts.get("write"))
            while True:
                event = await self._next_event(conn, read_timeout)
                if isinstance(event, h11.Response):
                    break
            http_version = b"HTTP/" + event.http_version
            headers = event.headers.raw_items()
            if trace is not None:
                await trace("http11.receive_response_headers.complete", {
                    "return_value": (http_version, event.status_code, event.reason, headers)})
        except BaseException:
            self._discard(conn)
            raise
        return httpx.Response(
            event.status_code, headers=headers, stream=_ResponseBody(self, conn, read_timeout),
            extensions={"http_version": http_version, "reason_phrase": event.reason},
        )

    def _head(self, request: httpx.Request) -> h11.Request:
        """The h11 event of ``request``'s request line and headers (built once per
        distinct request, at most :data:`_KEEP_HEADS` kept)."""
        method = request.method.encode("ascii")
        target = request.url.raw_path
        headers = tuple(request.headers.raw)
        key = (method, target, headers)
        head = self._heads.get(key)
        if head is None:
            if len(self._heads) >= _KEEP_HEADS:
                del self._heads[next(iter(self._heads))]
            head = self._heads[key] = h11.Request(method=method, target=target,
                                                  headers=list(headers))
        return head

    async def _send(self, conn: _Connection, head: h11.Request, request: httpx.Request,
                    timeout: float | None) -> None:
        state = conn.h11
        data = state.send(head) or b""
        stream = request.stream
        if not isinstance(stream, httpx.AsyncByteStream):
            raise RuntimeError("ProbeTransport needs an async request stream")
        async for chunk in stream:
            if chunk:
                data += state.send(h11.Data(data=chunk)) or b""
                if len(data) >= _WRITE_CHUNK:
                    await _write(conn.writer, data, timeout, self._deadlines)
                    data = b""
        data += state.send(h11.EndOfMessage()) or b""
        await _write(conn.writer, data, timeout, self._deadlines)

    async def _next_event(self, conn: _Connection, timeout: float | None) -> Any:
        """The next h11 event of the response, reading as needed (h11's own event types
        are a union it does not export, hence ``Any``)."""
        state = conn.h11
        while True:
            try:
                event = state.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event
            data = await _read(conn.reader, timeout, self._deadlines)
            if data:
                conn.received = True
            elif state.their_state is h11.SEND_RESPONSE:
                raise httpx.RemoteProtocolError(_DISCONNECTED)
            state.receive_data(data)


class _ResponseBody(httpx.AsyncByteStream):
    """The response body as h11 ``Data``; closing it returns the connection to the pool
    when it was read to the end, else closes it."""

    def __init__(self, transport: ProbeTransport, conn: _Connection,
                 timeout: float | None) -> None:
        self._transport = transport
        self._conn: _Connection | None = conn
        self._timeout = timeout
        self._complete = False
        self._failed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            raise httpx.StreamClosed()
        try:
            while True:
                event = await self._transport._next_event(conn, self._timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    self._complete = True
                    return
        except BaseException:
            self._failed = True
            raise

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            complete = self._complete or (not self._failed and _rest_is_buffered(conn.h11))
            self._transport._release(conn, complete)


def _rest_is_buffered(state: h11.Connection) -> bool:
    """Whether the rest of the response is already in h11's buffer (a HEAD answer, an
    empty body, a body not iterated but fully received): then it is read to its end now,
    without waiting for anything."""
    try:
        while True:
            event = state.next_event()
            if isinstance(event, h11.EndOfMessage):
                return True
            if not isinstance(event, h11.Data):
                return False  # NEED_DATA: more to come, so the connection is closed
    except h11.ProtocolError:
        return False


# ---------------------------------------------------------------------- socket helpers
AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]
#: anyio's (httpcore's) delay before the next address is tried alongside (RFC 8305).
HAPPY_EYEBALLS_DELAY = 0.25


async def _open_socket(host: str, port: int) -> socket.socket:
    """A TCP socket connected to ``host`` (an IP literal, v4 or v6, or a name)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_NUMERICHOST)  # a literal: no lookup
    except socket.gaierror:  # a name: on the probes' resolver threads
        infos = await getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return await connect_first(_ipv6_first(infos))


def _ipv6_first(infos: Sequence[AddrInfo]) -> list[AddrInfo]:
    """anyio's order: the first IPv6 address, then the first IPv4 one, then the rest."""
    v6 = next((i for i in infos if i[0] == socket.AF_INET6), None)
    v4 = next((i for i in infos if i[0] == socket.AF_INET), None)
    first = [i for i in (v6, v4) if i is not None]
    return first + [i for i in infos if i not in first]


async def connect_first(infos: list[AddrInfo],
                        delay: float = HAPPY_EYEBALLS_DELAY) -> socket.socket:
    """The first of ``infos`` to connect, trying the next one alongside whenever ``delay``
    passes without an answer or an attempt fails (happy eyeballs, as anyio does: a host
    whose IPv6 path is black-holed is still reached over IPv4). The errors are kept as
    anyio keeps them: one is raised as is, several are grouped under "All connection
    attempts failed"."""
    if len(infos) == 1:
        return await _attempt(infos[0])
    attempts: list[asyncio.Task[socket.socket]] = []
    winner: socket.socket | None = None
    try:
        for info in infos:
            attempts.append(asyncio.ensure_future(_attempt(info)))
            winner = await _first_success(attempts, delay)
            if winner is not None:
                return winner
        winner = await _first_success(attempts, None)
        if winner is not None:
            return winner
    finally:
        for task in attempts:
            if not task.done():
                task.cancel()
            elif not task.cancelled() and task.exception() is None and task.result() is not winner:
                task.result().close()  # connected too, but later
    errors = [task.exception() for task in attempts]
    oserrors = [e for e in errors if isinstance(e, OSError)]
    raise OSError("All connection attempts failed") from ExceptionGroup(
        "multiple connection attempts failed", oserrors)


async def _first_success(attempts: list[asyncio.Task[socket.socket]],
                         delay: float | None) -> socket.socket | None:
    """The socket of the first attempt to succeed within ``delay`` (None: until all end),
    or None when none did (all failed, or the delay passed)."""
    loop = asyncio.get_running_loop()
    deadline = None if delay is None else loop.time() + delay
    pending = {task for task in attempts if not task.done()}
    while pending:
        timeout = None if deadline is None else max(0.0, deadline - loop.time())
        done, pending = await asyncio.wait(pending, timeout=timeout,
                                           return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception() is None:
                return task.result()
        if not done:
            return None  # the delay passed: time to start the next attempt
    return None


async def _attempt(info: AddrInfo) -> socket.socket:
    family, kind, proto, _, address = info
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock


async def _open_streams(sock: socket.socket) -> tuple[_CountingReader, asyncio.StreamWriter]:
    """``asyncio.open_connection(sock=sock)`` with a ``_CountingReader``."""
    loop = asyncio.get_running_loop()
    reader = _CountingReader(_READ_SIZE, loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await loop.create_connection(lambda: protocol, sock=sock)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


async def _read(reader: _CountingReader, timeout: float | None,
                deadlines: Deadlines) -> bytes:
    try:
        with deadlines.after(timeout):
            data = await reader.read(_READ_SIZE)
        reader.taken += len(data)
        return data
    except TimeoutError as exc:
        raise httpx.ReadTimeout("timed out") from exc
    except OSError as exc:
        raise httpx.ReadError(str(exc)) from exc


async def _write(writer: asyncio.StreamWriter, data: bytes, timeout: float | None,
                 deadlines: Deadlines) -> None:
    try:
        writer.write(data)
        with deadlines.after(timeout):
            await writer.drain()
    except TimeoutError as exc:
        raise httpx.WriteTimeout("timed out") from exc
    except OSError as exc:
        raise httpx.WriteError(str(exc)) from exc
