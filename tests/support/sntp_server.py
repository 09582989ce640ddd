"""A real SNTP responder on 127.0.0.1 (a random UDP port) whose clock is off by a chosen
offset, in a thread so in-process tests and CLI subprocesses can both ask it.

Example::

    with SntpServer(offset=600.0) as srv:      # answers 10 minutes ahead of this machine
        check = await query_sntp(srv.address)

``behaviour``: ``"answer"``, ``"silent"`` (never replies), ``"short"`` (12 bytes of junk),
``"kiss"`` (stratum 0, refid ``RATE``), ``"wrong_origin"`` (does not echo our timestamp).
Written from RFC 4330 independently of ``core.environment.sntp``.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from types import TracebackType

_DELTA = 2_208_988_800


def _ntp(unix: float) -> int:
    return int((unix + _DELTA) * 2**32) & 0xFFFF_FFFF_FFFF_FFFF


class SntpServer:
    """Answers each request once, ``offset`` seconds away from ``time.time()``."""

    def __init__(self, offset: float = 0.0, *, behaviour: str = "answer",
                 delay: float = 0.0) -> None:
        self.offset = offset
        self.behaviour = behaviour
        self.delay = delay
        self.requests: list[bytes] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT`` for ``--time-server``."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> SntpServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(512)
            except TimeoutError:
                continue
            received = time.time() + self.offset
            self.requests.append(data)
            if self.behaviour == "silent":
                continue
            if self.behaviour == "short":
                self._sock.sendto(b"\x24junk-bytes!", peer)
                continue
            origin = struct.unpack("!Q", data[40:48])[0]
            if self.behaviour == "wrong_origin":
                origin ^= 0x1234
            stratum, refid = (0, b"RATE") if self.behaviour == "kiss" else (2, b"\x7f\0\0\x01")
            time.sleep(self.delay)
            sent = time.time() + self.offset
            first = (0 << 6) | (4 << 3) | 4  # no leap warning, version 4, server mode
            self._sock.sendto(struct.pack("!BBbbII4sQQQQ", first, stratum, 6, -20, 0, 0, refid,
                                          _ntp(sent), origin, _ntp(received), _ntp(sent)),
                              peer)
