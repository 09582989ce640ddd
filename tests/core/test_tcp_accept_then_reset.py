"""A TCP target whose listener accepts and then at once resets or closes (a load balancer
with no healthy backend, a proxy whose upstream is gone) is failing, not up: the chaos
soak found the TCP probe calling it up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.config import Target
from core.errors import ErrorKind
from core.probes.base import ProbeContext
from core.probes.registry import make_probe
from core.testing import FakeClock
from tests.support.fixtures import FaultProxyFactory
from tests.support.http_server import HttpServer


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext(clock=FakeClock(), default_timeout_s=2.0)
    yield context
    await context.aclose()


async def test_accept_then_reset_is_a_reset_and_a_waiting_server_is_up(
    ctx: ProbeContext, http_server: HttpServer, fault_proxy_factory: FaultProxyFactory
) -> None:
    proxy = await fault_proxy_factory("127.0.0.1", http_server.port)
    target = Target(name="t", kind="tcp", host="127.0.0.1", port=proxy.port)
    ok = await make_probe(target, ctx).run()
    assert ok.ok, ok.error  # HTTP waits for the request: silence after accept is fine
    await proxy.set_mode("reset")
    reset = await make_probe(target, ctx).run()
    assert not reset.ok
    assert reset.error_kind is ErrorKind.CONNECTION_RESET
    assert "right after accepting" in (reset.error or "")


async def test_accept_then_close_is_failing_but_a_banner_is_up(ctx: ProbeContext) -> None:
    async def close_at_once(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def banner(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 ready\r\n")  # SMTP-like: speaks first, then closes
        await writer.drain()
        writer.close()

    closing = await asyncio.start_server(close_at_once, "127.0.0.1", 0)
    greeting = await asyncio.start_server(banner, "127.0.0.1", 0)
    async with closing, greeting:
        closed = await make_probe(Target(name="c", kind="tcp", host="127.0.0.1",
                                         port=closing.sockets[0].getsockname()[1]), ctx).run()
        assert not closed.ok
        assert closed.error_kind is ErrorKind.CONNECTION_RESET
        spoke = await make_probe(Target(name="b", kind="tcp", host="127.0.0.1",
                                        port=greeting.sockets[0].getsockname()[1]), ctx).run()
        assert spoke.ok, spoke.error
