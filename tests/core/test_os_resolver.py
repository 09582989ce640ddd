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


async def test_a_lookup_not_answered_in_time_times_out_and_its_late_answer_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The timeout is the lookup's own (TimeoutError, as ``asyncio.timeout`` raised); the
    thread's answer that comes after it goes nowhere, and the next lookup gets its own."""
    import threading

    from core.errors import ErrorKind
    from core.probes.dns import resolve_os

    release = threading.Event()
    answered = threading.Event()
    real = socket.getaddrinfo

    def slow(host: str, *args: object) -> object:
        if host == "slow.test":
            release.wait(5)
            answered.set()
            return real("localhost", *args)  # type: ignore[arg-type]
        return real(host, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    try:
        with pytest.raises(TimeoutError, match=r"getaddrinfo did not answer within 0\.05s"):
            await getaddrinfo("slow.test", 80, timeout=0.05)
        answer = await resolve_os("slow.test", 80, timeout=0.05)
        assert (answer.ok, answer.error_kind) == (False, ErrorKind.TIMEOUT)
        assert answer.error == "TimeoutError: getaddrinfo did not answer within 0.05s"
    finally:
        release.set()
    await asyncio.to_thread(answered.wait, 5)
    assert await getaddrinfo("localhost", 80, type=socket.SOCK_STREAM, timeout=2.0) == real(
        "localhost", 80, type=socket.SOCK_STREAM)
