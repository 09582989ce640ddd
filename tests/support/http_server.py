"""A real HTTP/1.1 server (optionally HTTPS) on 127.0.0.1 built on asyncio streams.

Example::

    async with HttpServer() as srv:
        srv.route("/health", body={"status": "ok"})
        srv.route("/slow", delay=0.2)
        srv.route("/down", status=503)
        srv.route("/boom", fault="reset")
        async with httpx.AsyncClient(base_url=srv.url) as client:
            await client.get("/health")
        assert srv.requests[0].path == "/health"

Keep-alive aware (HTTP/1.1 default, ``Connection: close`` honoured), Content-Length framing for
responses, Content-Length or chunked request bodies. Unknown paths answer 404, a known path
with a method that has no route answers 405.

Faults per route (:data:`Fault`): ``"reset"`` (read the request, then RST, no response),
``"reset_mid_body"`` (headers and half the body, then RST), ``"hang"`` (never answer) and
``"html_502"`` (a 502 with an HTML page, as a reverse proxy sends).
"""

from __future__ import annotations

import asyncio
import http
import inspect
import json
import shutil
import ssl
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from tests.support.netutil import reset_transport

Fault = Literal["reset", "reset_mid_body", "hang", "html_502"]
Body = bytes | str | dict[str, Any] | list[Any] | None

HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class Headers(Mapping[str, str]):
    """Case-insensitive, order-keeping header mapping (last value wins on lookup)."""

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self.items_list: list[tuple[str, str]] = list(items or [])

    def __getitem__(self, key: str) -> str:
        wanted = key.lower()
        for name, value in reversed(self.items_list):
            if name.lower() == wanted:
                return value
        raise KeyError(key)

    def get_all(self, key: str) -> list[str]:
        """All values of ``key`` in order."""
        return [v for n, v in self.items_list if n.lower() == key.lower()]

    def __iter__(self) -> Iterator[str]:
        seen: dict[str, str] = {}
        for name, _ in self.items_list:
            seen.setdefault(name.lower(), name)
        return iter(seen.values())

    def __len__(self) -> int:
        return len({name.lower() for name, _ in self.items_list})

    def __repr__(self) -> str:
        return f"Headers({self.items_list!r})"


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    query_string: str
    headers: Headers
    body: bytes
    http_version: str
    connection_id: int

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


@dataclass
class Response:
    """What a handler returns. ``body``: bytes, str (text/plain) or dict/list (JSON)."""

    status: int = 200
    body: Body = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response] | Response]


@dataclass
class Route:
    """A registered route; ``hits`` counts the requests it served."""

    path: str
    method: str | None = None
    status: int = 200
    body: Body = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    handler: Handler | None = None
    fault: Fault | None = None
    hits: int = 0


def _encode(body: Body, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    headers = dict(headers)
    names = {n.lower() for n in headers}
    if body is None:
        return b"", headers
    if isinstance(body, bytes):
        return body, headers
    if isinstance(body, str):
        if "content-type" not in names:
            headers["Content-Type"] = "text/plain; charset=utf-8"
        return body.encode(), headers
    if "content-type" not in names:
        headers["Content-Type"] = "application/json"
    return json.dumps(body).encode(), headers


class _StopConnectionError(Exception):
    """Internal: stop serving this connection."""


class HttpServer:
    """HTTP/1.1 test server; ``HttpServer(tls=True)`` serves HTTPS with a throwaway CA."""

    def __init__(self, *, tls: bool = False, host: str = "127.0.0.1") -> None:
        self.host = host
        self.tls = tls
        self.port = 0
        #: every request received (also those answered with a fault), in order
        self.requests: list[Request] = []
        #: exceptions raised by handlers (each was answered with a 500)
        self.errors: list[BaseException] = []
        self.connections_accepted = 0
        self.ca_pem_path: Path | None = None
        self._routes: dict[tuple[str, str | None], Route] = {}
        self._server: asyncio.Server | None = None
        self._conns: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._tmpdir: str | None = None
        self._ssl: ssl.SSLContext | None = None

    # ------------------------------------------------------------------ configuration
    def route(
        self,
        path: str,
        status: int = 200,
        body: Body = b"",
        *,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        method: str | None = None,
        handler: Handler | None = None,
        fault: Fault | None = None,
    ) -> Route:
        """Register (or replace) the route for ``path`` (and ``method``; None = any method).

        ``handler(request) -> Response`` (sync or async) overrides status/body/headers;
        ``delay`` is slept before answering; ``fault`` replaces the answer with a fault.
        """
        key = (path, method.upper() if method else None)
        route = Route(path, key[1], status, body, dict(headers or {}), delay, handler, fault)
        self._routes[key] = route
        return route

    def fault(self, path: str, fault: Fault, *, method: str | None = None) -> Route:
        """Shortcut: ``route(path, fault=fault, method=method)``."""
        return self.route(path, method=method, fault=fault)

    @property
    def url(self) -> str:
        """Base URL: ``http://127.0.0.1:PORT`` or ``https://localhost:PORT``."""
        if self.tls:
            return f"https://localhost:{self.port}"
        return f"http://{self.host}:{self.port}"

    def url_for(self, path: str) -> str:
        """Absolute URL of ``path``."""
        return self.url + path

    @property
    def connections_active(self) -> int:
        """Connections currently open."""
        return len(self._conns)

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context trusting this server's CA (httpx 0.28: ``verify=ctx``)."""
        if self.ca_pem_path is None:
            raise RuntimeError("not a TLS server or not started")
        return ssl.create_default_context(cafile=str(self.ca_pem_path))

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Listen on a random free port (making the CA and certificate when TLS)."""
        if self.tls and self._ssl is None:
            import trustme

            ca = trustme.CA()
            cert = ca.issue_cert("localhost", "127.0.0.1")
            self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(self._ssl)
            self._tmpdir = tempfile.mkdtemp(prefix="netmon-test-ca-")
            self.ca_pem_path = Path(self._tmpdir) / "ca.pem"
            ca.cert_pem.write_to_path(str(self.ca_pem_path))
        self._server = await asyncio.start_server(self._accept, self.host, self.port, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening, abort open connections, await their tasks, delete the CA file."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._conns)
        for task, writer in list(self._conns.items()):
            writer.transport.abort()
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    async def __aenter__(self) -> HttpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ protocol
    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback running our own task: Python 3.11's start_server logs an error
        # when the task it creates for a coroutine callback is cancelled.
        self.connections_accepted += 1
        task = asyncio.get_running_loop().create_task(
            self._serve(reader, writer, self.connections_accepted)
        )
        self._conns[task] = writer
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._conns.pop(task, None)
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            self.errors.append(exc)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn_id: int
    ) -> None:
        try:
            while await self._one_request(reader, writer, conn_id):
                pass
        except (
            _StopConnectionError,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ):
            pass
        finally:
            if not writer.transport.is_closing():
                writer.close()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn_id: int
    ) -> bool:
        """Serve one request; return whether the connection stays open."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # client closed between requests
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = Headers(
            [(n.strip(), v.strip()) for n, _, v in (ln.partition(":") for ln in lines[1:] if ln)]
        )
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await self._read_body(reader, headers)
        parts = urlsplit(target)
        request = Request(
            method=method.upper(),
            path=parts.path or "/",
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            query_string=parts.query,
            headers=headers,
            body=body,
            http_version=version,
            connection_id=conn_id,
        )
        self.requests.append(request)
        conn_header = headers.get("connection", "").lower()
        keep_alive = conn_header != "close" and (
            version == "HTTP/1.1" or conn_header == "keep-alive"
        )

        route = self._routes.get((request.path, request.method)) or self._routes.get(
            (request.path, None)
        )
        if route is None:
            known = any(path == request.path for path, _ in self._routes)
            status = 405 if known else 404
            return await self._send(
                writer, request, Response(status, http.HTTPStatus(status).phrase), keep_alive
            )
        route.hits += 1
        if route.delay > 0:
            await asyncio.sleep(route.delay)
        if route.fault == "hang":
            await asyncio.Event().wait()
        if route.fault == "reset":
            reset_transport(writer.transport)
            raise _StopConnectionError
        if route.fault == "reset_mid_body":
            payload, _ = _encode(route.body, {})
            payload = payload or b"x" * 4096
            partial = (
                f"{version} {route.status} {http.HTTPStatus(route.status).phrase}\r\n"
                "Content-Type: application/octet-stream\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            )
            writer.write(partial.encode() + payload[: len(payload) // 2])
            await writer.drain()
            await asyncio.sleep(0.05)  # let the client read the partial body first
            reset_transport(writer.transport)
            raise _StopConnectionError
        if route.fault == "html_502":
            response = Response(502, HTML_502, {"Content-Type": "text/html", "Server": "nginx"})
        elif route.handler is not None:
            try:
                result = route.handler(request)
                response = await result if inspect.isawaitable(result) else result
            except Exception as exc:
                self.errors.append(exc)
                response = Response(500, f"handler error: {exc!r}")
        else:
            response = Response(route.status, route.body, route.headers)
        return await self._send(writer, request, response, keep_alive)

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, headers: Headers) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    # skip trailers up to the blank line
                    while chunk != b"\r\n":
                        chunk = await reader.readuntil(b"\r\n")
                    return b"".join(chunks)
                chunks.append(chunk[:-2])
        length = int(headers.get("content-length", "0") or 0)
        return await reader.readexactly(length) if length else b""

    @staticmethod
    async def _send(
        writer: asyncio.StreamWriter, request: Request, response: Response, keep_alive: bool
    ) -> bool:
        payload, headers = _encode(response.body, response.headers)
        names = {n.lower() for n in headers}
        if any(v.lower() == "close" for n, v in headers.items() if n.lower() == "connection"):
            keep_alive = False
        headers.setdefault("Server", "netmon-test")
        headers["Content-Length"] = str(len(payload))
        if "connection" not in names:
            headers["Connection"] = "keep-alive" if keep_alive else "close"
        try:
            phrase = http.HTTPStatus(response.status).phrase
        except ValueError:
            phrase = "Unknown"
        head = f"HTTP/1.1 {response.status} {phrase}\r\n" + "".join(
            f"{n}: {v}\r\n" for n, v in headers.items()
        )
        writer.write(head.encode("latin-1") + b"\r\n")
        if request.method != "HEAD":
            writer.write(payload)
        await writer.drain()
        return keep_alive


__all__ = ["HTML_502", "Fault", "Handler", "Headers", "HttpServer", "Request", "Response", "Route"]
