"""``netmon serve`` routes uvicorn's loggers through netmon's handlers: a malformed chunked
request is one formatted, redacted line on stderr, never a raw traceback."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys
from pathlib import Path

from tests.core.test_cli_commands import write_config

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR)\s+\S+: ")
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNlY3JldA"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def send_raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    return answer


async def test_malformed_chunked_requests_are_one_formatted_line_each(tmp_path: Path) -> None:
    port = free_port()
    path = write_config(tmp_path, "[history]\nenabled = false\n[logging]\nfile = false\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "core", "--config", str(path), "serve", "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(30):
            while True:
                try:
                    await send_raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\n"
                                   b"Connection: close\r\n\r\n")
                    break
                except OSError:
                    await asyncio.sleep(0.1)
        answers = []
        for target, body in (("/api/v1/system/recovery/auth-cache/clear",
                              b"5\r\nhello\r\nzz-not-hex\r\n"),
                             ("/health", b"zz\r\n")):
            answers.append(await send_raw(port, (
                f"POST {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {BEARER}\r\n"
                f"Transfer-Encoding: chunked\r\n\r\n").encode() + body))
        proc.send_signal(signal.SIGINT)
        _, raw_err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    err = raw_err.decode()
    assert proc.returncode == 0, err
    assert all(a.startswith(b"HTTP/1.1 400") for a in answers), answers
    assert "Traceback (most recent call last)" not in err
    raw = [line for line in err.splitlines() if not LINE.match(line)]
    assert raw == [], "lines not formatted by netmon's handler"
    invalid = [line for line in err.splitlines() if "Invalid HTTP request received" in line]
    assert len(invalid) == 2
    assert all(" WARNING uvicorn.error: " in line for line in invalid)
    assert BEARER not in err
    crashes = [line for line in err.splitlines() if "Exception in ASGI application" in line]
    assert all(line.endswith("application: LocalProtocolError: can't handle event type "
                             "Response when role=SERVER and state=MUST_CLOSE")
               for line in crashes), crashes
