"""A TCP proxy on 127.0.0.1 whose failure mode can be switched while tests run.

Example::

    async with HttpServer() as srv, FaultProxy("127.0.0.1", srv.port) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/"
        await proxy.set_mode("refuse")   # connects now get ECONNREFUSED
        await proxy.set_mode("pass")     # listening again, same port

Modes (:data:`Mode`), applied to new connections when they are accepted:

* ``"pass"``: forward both ways (half-closes are forwarded too);
* ``"delay"``: sleep ``delay_s`` before connecting upstream and before forwarding each chunk;
* ``"reset"``: accept, then close at once with a RST;
* ``"blackhole"``: accept, read and discard, never answer, never close;
* ``"refuse"``: stop listening (connects get ECONNREFUSED); any other mode listens again on
  the same port.

Established connections keep flowing through ``"reset"`` and ``"refuse"``, but chunks they
carry are delayed in ``"delay"`` and dropped in ``"blackhole"``; :meth:`FaultProxy.cut`
resets them all (both sides) with SO_LINGER 0.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Literal, get_args

from tests.support.netutil import reset_transport

Mode = Literal["pass", "delay", "reset", "blackhole", "refuse"]
_MODES: frozenset[str] = frozenset(get_args(Mode))
_CHUNK = 65536


@dataclass(eq=False)
class _Conn:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class FaultProxy:
    """TCP proxy to ``target_host:target_port`` with a run-time switchable fault mode."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        mode: Mode = "pass",
        delay_s: float = 0.0,
        host: str = "127.0.0.1",
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.port = 0
        self.mode: Mode = mode
        self.delay_s = delay_s
        #: connections accepted since start (also those reset or blackholed)
        self.connections_total = 0
        self._server: asyncio.Server | None = None
        self._conns: set[_Conn] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def connections_active(self) -> int:
        """Client connections currently open through the proxy."""
        return len(self._conns)

    @property
    def listening(self) -> bool:
        """Whether the listening socket is open (False in ``"refuse"`` mode)."""
        return self._server is not None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Pick a random free port (kept for the proxy's lifetime) and apply the mode."""
        await self._listen()
        if self.mode == "refuse":
            self._unlisten()

    async def close(self) -> None:
        """Close the listener and every connection; cancel and await all tasks."""
        self._unlisten()
        for conn in list(self._conns):
            self._reset(conn)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._conns.clear()
        self._tasks.clear()

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def set_mode(self, mode: Mode, *, delay_s: float | None = None) -> None:
        """Switch mode (and ``delay_s``); ``"refuse"`` closes the listener, others reopen it."""
        if mode not in _MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if delay_s is not None:
            self.delay_s = delay_s
        self.mode = mode
        if mode == "refuse":
            self._unlisten()
        elif self._server is None and self.port:
            await self._listen()

    async def cut(self) -> int:
        """RST every open connection (client and upstream side); return how many."""
        conns = list(self._conns)
        for conn in conns:
            self._reset(conn)
        tasks = [task for conn in conns for task in conn.tasks]
        await asyncio.gather(*tasks, return_exceptions=True)
        return len(conns)

    # ------------------------------------------------------------------ internals
    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def _unlisten(self) -> None:
        # Server.close() closes the listening socket synchronously: later connects are refused.
        # (Not awaiting wait_closed(): from 3.12 on it waits for every connection to end.)
        if self._server is not None:
            self._server.close()
            self._server = None

    def _track(self, conn: _Conn, task: asyncio.Task[None]) -> None:
        conn.tasks.add(task)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(conn.tasks.discard)

    @staticmethod
    def _reset(conn: _Conn) -> None:
        reset_transport(conn.client.transport)
        if conn.upstream is not None:
            reset_transport(conn.upstream.transport)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback running our own task: Python 3.11's start_server logs an error
        # when the task it creates for a coroutine callback is cancelled.
        conn = _Conn(writer)
        self._conns.add(conn)
        self.connections_total += 1
        self._track(conn, asyncio.get_running_loop().create_task(self._serve(conn, reader)))

    async def _serve(self, conn: _Conn, reader: asyncio.StreamReader) -> None:
        writer = conn.client
        try:
            mode = self.mode
            if mode in ("reset", "refuse"):  # "refuse": accepted just before the switch
                reset_transport(writer.transport)
                return
            if mode == "blackhole":
                while await reader.read(_CHUNK):
                    pass
                return
            if mode == "delay" and self.delay_s > 0:
                await asyncio.sleep(self.delay_s)
            try:
                up_reader, conn.upstream = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                reset_transport(writer.transport)  # upstream down: the client sees a reset
                return
            upstream = conn.upstream
            pipes = [
                asyncio.create_task(self._pipe(reader, upstream, writer)),
                asyncio.create_task(self._pipe(up_reader, writer, upstream)),
            ]
            for pipe in pipes:
                self._track(conn, pipe)
            await asyncio.gather(*pipes)
        except ConnectionError:
            pass
        finally:
            self._conns.discard(conn)
            for side in (writer, conn.upstream):
                if side is not None and not side.transport.is_closing():
                    side.transport.close()

    async def _pipe(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        src_writer: asyncio.StreamWriter,
    ) -> None:
        """Copy src to dst; a reset on either side resets the other one too."""
        try:
            while data := await src.read(_CHUNK):
                if self.mode == "blackhole":
                    continue
                if self.mode == "delay" and self.delay_s > 0:
                    await asyncio.sleep(self.delay_s)
                dst.write(data)
                await dst.drain()
            if self.mode != "blackhole" and dst.can_write_eof():
                with contextlib.suppress(OSError):
                    dst.write_eof()
        except (ConnectionError, OSError):
            reset_transport(dst.transport)
            reset_transport(src_writer.transport)
