"""LocalEndpoints: the console serves ``core.service``'s router on 127.0.0.1 (opt-in).

Runs uvicorn inside the console's process and qasync loop, over the console's own core, so
``netmon status --remote local`` and ``netmon recover ... --remote local`` act on what the
console shows. The port is a free one, announced through ``core.discovery``.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from core.discovery import announce, withdraw
from core.runtime import NetmonCore

__all__ = ["LocalEndpoints"]

_log = logging.getLogger("netmon.gui")
START_TIMEOUT_S = 10.0


class LocalEndpoints:
    """``start()`` serves the endpoints and returns their URL; ``aclose()`` stops them."""

    def __init__(self, core: NetmonCore) -> None:
        self.core = core
        self.url: str | None = None
        self._server: object | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    async def start(self) -> str:
        """Bind a free loopback port, serve, announce; returns the URL."""
        import uvicorn
        from fastapi import FastAPI

        from core.service import create_router

        settings = self.core.config.service
        app = FastAPI(title="netmon console")
        app.include_router(create_router(self.core, required_role=settings.required_role or None,
                                         role_claim=settings.role_claim))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off",
                                               server_header=False))
        self._sock, self._server = sock, server
        self._task = asyncio.get_running_loop().create_task(
            server.serve(sockets=[sock]), name="gui-local-endpoints")
        async with asyncio.timeout(START_TIMEOUT_S):
            while not server.started:
                if self._task.done():
                    await self._task  # raises what stopped it
                    raise RuntimeError("the console's endpoints stopped while starting")
                await asyncio.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        announce(self.url)
        _log.info("RESILIENT: the console serves its endpoints on %s", self.url)
        return self.url

    async def aclose(self) -> None:
        """Stop serving and withdraw the announcement (idempotent)."""
        if self.url is not None:
            withdraw(self.url)
            self.url = None
        if self._server is not None and self._task is not None:
            self._server.should_exit = True  # type: ignore[attr-defined]
            await asyncio.gather(self._task, return_exceptions=True)
            self._server = self._task = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
