"""Pytest fixtures for the loopback test servers (import them into a conftest).

* ``dns_server`` -> started :class:`DnsServer` (function scope)
* ``http_server`` -> started plain-HTTP :class:`HttpServer` (function scope)
* ``tls_http_server`` -> started HTTPS :class:`HttpServer` with a throwaway CA (function scope)
* ``fault_proxy_factory`` -> ``await make(host, port, mode="pass", delay_s=0.0)`` returning a
  started :class:`FaultProxy`; all are closed at teardown (function scope)
* ``postgres_cluster`` -> running :class:`PostgresCluster` (session scope, sync); skipped when
  the server binaries are missing, failed instead when ``CI=true``
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import NoReturn

import pytest

from tests.support.dns_server import DnsServer
from tests.support.fault_proxy import FaultProxy, Mode
from tests.support.http_server import HttpServer
from tests.support.postgres import PostgresCluster, PostgresNotAvailableError, find_pg_bindir

FaultProxyFactory = Callable[..., Awaitable[FaultProxy]]


@pytest.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    """A DNS server on 127.0.0.1 (UDP + TCP), random port."""
    async with DnsServer() as server:
        yield server


@pytest.fixture
async def http_server() -> AsyncIterator[HttpServer]:
    """An HTTP/1.1 server on http://127.0.0.1:PORT."""
    async with HttpServer() as server:
        yield server


@pytest.fixture
async def tls_http_server() -> AsyncIterator[HttpServer]:
    """An HTTPS server on https://localhost:PORT; trust ``server.ca_pem_path``."""
    async with HttpServer(tls=True) as server:
        yield server


@pytest.fixture
async def fault_proxy_factory() -> AsyncIterator[FaultProxyFactory]:
    """``proxy = await fault_proxy_factory(host, port, mode=..., delay_s=...)``."""
    proxies: list[FaultProxy] = []

    async def make(
        target_host: str, target_port: int, *, mode: Mode = "pass", delay_s: float = 0.0
    ) -> FaultProxy:
        proxy = FaultProxy(target_host, target_port, mode=mode, delay_s=delay_s)
        await proxy.start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in reversed(proxies):
        await proxy.close()


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: PostgreSQL is required)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A running PostgreSQL cluster for the whole session (user/db ``netmon``, password)."""
    if find_pg_bindir() is None:
        _unavailable("PostgreSQL server binaries not found (set NETMON_PG_BINDIR)")
    try:
        cluster = PostgresCluster()
    except PostgresNotAvailableError as exc:
        _unavailable(str(exc))
    try:
        cluster.start()
    except PostgresNotAvailableError as exc:
        cluster.cleanup()
        _unavailable(str(exc))
    except BaseException:
        cluster.cleanup()
        raise
    try:
        yield cluster
    finally:
        cluster.cleanup()
