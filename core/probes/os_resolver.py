"""The OS resolver (``getaddrinfo``) off the event loop, on dedicated threads that hand
their answers back in batches.

``loop.getaddrinfo`` goes through the loop's default executor: per call a concurrent
future, an asyncio future chained to it and one wake-up of the loop from the thread.
Measured in a probe worker at 500 probes a second on a loaded 2-core machine, that
thread side was 185-265 us of CPU per probe for a ~25 us hosts-file lookup. Here every
request goes on one queue; a thread that finishes an answer wakes the loop only when no
wake-up is already pending, so answers finishing together cost one wake-up (126-161 us
per probe on the threads in the same runs, and less on the loop). Threads are
started as requests find none idle, up to :data:`MAX_THREADS` (the default executor's
limit on a 2-core machine is 6, so one slow lookup blocks no more than it did).
"""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
from typing import Any

__all__ = ["MAX_THREADS", "getaddrinfo"]

#: most resolver threads (a lookup stuck on a dead nameserver holds one for seconds)
MAX_THREADS = 32

_AddrInfo = list[tuple[Any, ...]]
_Request = tuple[asyncio.AbstractEventLoop, "asyncio.Future[_AddrInfo]", tuple[Any, ...]]
_Done = tuple["asyncio.Future[_AddrInfo]", _AddrInfo | None, BaseException | None]


class _Resolvers:
    """The process's resolver threads (daemons, started on demand, idle on a queue)."""

    def __init__(self, max_threads: int) -> None:
        self._queue: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._max = max_threads
        self._threads = 0
        #: threads waiting on the queue minus requests queued for them: a request is
        #: counted against a free thread when it is submitted, not when a thread wakes
        #: (requests submitted in one turn would otherwise all count the same idle thread
        #: and queue behind one slow lookup)
        self._free = 0
        self._outboxes: dict[asyncio.AbstractEventLoop, list[_Done]] = {}

    def submit(self, loop: asyncio.AbstractEventLoop,
               args: tuple[Any, ...]) -> asyncio.Future[_AddrInfo]:
        future: asyncio.Future[_AddrInfo] = loop.create_future()
        with self._lock:
            self._free -= 1
            start = self._free < 0 and self._threads < self._max
            if start:
                self._threads += 1
                self._free += 1  # the new thread takes this request
                name = f"netmon-resolver-{self._threads}"
        if start:
            try:
                threading.Thread(target=self._serve, daemon=True, name=name).start()
            except BaseException:  # no thread, and the request is not queued either
                with self._lock:
                    self._threads -= 1
                raise
        self._queue.put((loop, future, args))
        return future

    def _serve(self) -> None:
        while True:
            loop, future, args = self._queue.get()
            try:
                done: _Done = (future, socket.getaddrinfo(*args), None)
            except BaseException as exc:  # gaierror, UnicodeError...: the caller's to see
                done = (future, None, exc)
            with self._lock:
                self._free += 1
                outbox = self._outboxes.get(loop)
                wake = outbox is None
                if outbox is None:
                    outbox = self._outboxes[loop] = []
                outbox.append(done)
            if wake:
                try:
                    loop.call_soon_threadsafe(self._deliver, loop)
                except RuntimeError:  # the loop was closed meanwhile: nobody waits
                    with self._lock:
                        self._outboxes.pop(loop, None)

    def _deliver(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            outbox = self._outboxes.pop(loop, [])
        for future, infos, exc in outbox:
            if future.done():  # timed out or cancelled meanwhile
                continue
            if exc is not None:
                future.set_exception(exc)
            else:
                assert infos is not None
                future.set_result(infos)


_RESOLVERS = _Resolvers(MAX_THREADS)


async def getaddrinfo(host: str, port: int | str | None, *,
                      type: int = 0, timeout: float | None = None) -> _AddrInfo:
    """``socket.getaddrinfo(host, port, type=type)`` on a resolver thread; raises
    ``TimeoutError`` when no answer came within ``timeout`` seconds (the answer's own
    timer: a lookup is one future, no ``asyncio.timeout`` and task cancellation needed)."""
    loop = asyncio.get_running_loop()
    future = _RESOLVERS.submit(loop, (host, port, 0, type))
    if timeout is None:
        return await future
    expiry = loop.call_later(timeout, _expire, future, timeout)
    try:
        return await future
    finally:
        expiry.cancel()


def _expire(future: asyncio.Future[_AddrInfo], timeout: float) -> None:
    if not future.done():  # the thread's answer, when it comes, is dropped
        future.set_exception(TimeoutError(f"getaddrinfo did not answer within {timeout:g}s"))
