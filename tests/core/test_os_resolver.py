"""The OS resolver on dedicated threads: real getaddrinfo answers and failures."""

from __future__ import annotations

import asyncio
import socket

import pytest

from core.probes.os_resolver import getaddrinfo


async def test_answers_as_socket_getaddrinfo_does() -> None:
    got = await getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)
    assert sorted(got) == sorted(socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM))


async def test_a_failure_is_the_os_resolvers_own_error() -> None:
    with pytest.raises(socket.gaierror) as failed:
        await getaddrinfo("nowhere.invalid", 80)
    assert failed.value.errno == socket.EAI_NONAME


async def test_many_at_once_each_get_their_own_answer() -> None:
    hosts = ["localhost", "127.0.0.1", "nowhere.invalid", "::1"] * 50
    got = await asyncio.gather(*(getaddrinfo(h, 80, type=socket.SOCK_STREAM) for h in hosts),
                               return_exceptions=True)
    for host, answer in zip(hosts, got, strict=True):
        if host == "nowhere.invalid":
            assert isinstance(answer, socket.gaierror)
        else:
            assert isinstance(answer, list)
            assert answer == socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)


async def test_an_abandoned_lookup_does_not_disturb_the_next() -> None:
    waiting = asyncio.ensure_future(getaddrinfo("localhost", 80))
    waiting.cancel()  # its answer arrives for a cancelled future: dropped
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await getaddrinfo("127.0.0.1", 443, type=socket.SOCK_STREAM) == socket.getaddrinfo(
        "127.0.0.1", 443, type=socket.SOCK_STREAM)
