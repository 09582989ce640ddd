"""Small socket helpers shared by the loopback test servers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import sys


def reset_transport(transport: asyncio.BaseTransport) -> None:
    """Close ``transport`` with a TCP RST (SO_LINGER on, timeout 0), not a FIN."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # struct linger is two ints on POSIX, two u_shorts on Windows.
        linger = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    if isinstance(transport, asyncio.WriteTransport):
        transport.abort()
    else:
        transport.close()


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the usual race applies: retry on EADDRINUSE)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
