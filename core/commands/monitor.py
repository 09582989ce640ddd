"""``netmon monitor``: run the monitor, one line per result, history written.

It runs on ``NetmonCore`` like ``netmon serve`` and the console, so it decides and forwards
the same notices (``[notifications]``): each notice is a line (``NOTICE``; with ``--jsonl`` a
record ``"record": "notice"``), and so is what became of each forwarded one (``FORWARD``,
sent or failed with the reason; ``"record": "forward"``), as in the console's Events tab.
Probe results are ``"record": "result"``.

Ctrl+C, SIGTERM and (on Windows) Ctrl+Break or closing the console window all stop it the
same way: the monitor stops, notices being forwarded get up to ``forward_timeout_s`` to
finish (their results are printed), pending history is written, and the exit code is 0. A second
signal while stopping ends the process at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .common import UsageError, command

if TYPE_CHECKING:
    import asyncio
    from datetime import datetime
    from types import FrameType

    from ..config import Config
    from ..forward import ForwardResult
    from ..notify import Notice
    from ..probes.base import ProbeResult


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("monitor", help="probe targets on their schedule until stopped")
    parser.add_argument("--duration", type=float, metavar="SECONDS",
                        help="stop after this long (default: until Ctrl+C)")
    parser.add_argument("--jsonl", action="store_true",
                        help="one JSON object per result, notice and forward result")
    parser.add_argument("--no-history", action="store_true", help="do not write history")
    command(parser, run)


def run(args: argparse.Namespace, config: Config) -> int:
    import asyncio

    from ..log import setup_logging
    from ..status import exit_code_for

    if not any(t.enabled for t in config.targets):
        raise UsageError(f"no enabled targets in {config.source or 'the default config'}")
    if args.duration is not None and args.duration <= 0:
        raise UsageError("--duration must be positive")
    setup_logging(config.logging.level, to_file=config.logging.file)
    try:
        status = asyncio.run(_monitor(config, args))
    except KeyboardInterrupt:  # Ctrl+C before the handlers were in place
        return 0
    return 0 if status is None else exit_code_for(status)


#: Signals that mean "stop": SIGBREAK exists on Windows only (Ctrl+Break, console closed).
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGBREAK")
                      if hasattr(signal, name))


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event, signalled: asyncio.Event) -> Iterator[None]:
    """Set both events (from the loop) on the first stop signal; restore handlers after."""
    import asyncio

    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}

    def handle(signum: int, frame: FrameType | None) -> None:
        for sig, old in previous.items():  # a second signal acts as it did before
            signal.signal(sig, old)
        loop.call_soon_threadsafe(signalled.set)
        loop.call_soon_threadsafe(stop.set)

    for sig in _STOP_SIGNALS:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


async def _monitor(config: Config, args: argparse.Namespace) -> str | None:
    """Run until the duration ends, a stop signal arrives or stdout closes.

    Returns the final status, or None when stopped by a signal.
    """
    import asyncio

    from ..gc_settle import freeze_startup_objects
    from ..runtime import NetmonCore
    from ..status import build

    core = NetmonCore(config, with_history=not args.no_history, with_database=False)
    stop, signalled = asyncio.Event(), asyncio.Event()
    printer = _Printer(args.jsonl, stop)
    core.monitor.result_recorded.connect(printer.result)
    core.notices.published.connect(printer.notice)
    core.forwarder.sent.connect(printer.forward)
    try:
        with _stop_on_signals(stop, signalled):
            await core.start()
            freeze_startup_objects()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.duration):
                    await stop.wait()  # until the duration ends, a signal or `| head` exits
        return None if signalled.is_set() else str(build(monitor=core.monitor)["status"])
    finally:
        grace = config.notifications.forward_timeout_s
        if core.forwarder.busy:  # say why stopping takes a while, and how not to wait
            print(f"waiting up to {grace:g} s for notices being forwarded "
                  "(Ctrl+C again to quit now)", file=sys.stderr, flush=True)
        await core.stop(forward_grace_s=grace)


class _Printer:
    """Writes one line per probe result, notice and forward result to stdout (redacted)."""

    def __init__(self, jsonl: bool, reader_gone: asyncio.Event) -> None:
        self.jsonl = jsonl
        self.reader_gone = reader_gone

    def result(self, result: ProbeResult) -> None:
        from ..render import format_ms

        state = "ok  " if result.ok else ("WARN" if result.degraded else "FAIL")
        detail = "" if result.ok else f" {result.error_kind}: {result.error}"
        # details carry URLs (a redirect's final_url) and error texts: redact them all
        self._write("result", result.as_dict(), result.checked_at,
                    f"{state} {result.target} {format_ms(result.latency_ms)}{detail}")

    def notice(self, notice: Notice) -> None:
        self._write("notice", notice.as_dict(), notice.at,
                    f"NOTICE {notice.severity} {notice.title}: {notice.body}")

    def forward(self, result: ForwardResult) -> None:
        """As the Events tab shows it: destination (service), sent or failed, and why."""
        self._write("forward", result.as_dict(), result.at,
                    f"FORWARD {result.where} {'sent' if result.ok else 'failed'}: "
                    f"{result.detail}")

    def _write(self, record: str, data: dict[str, Any], at: datetime, text: str) -> None:
        from ..log import redact, redact_data
        from ..render import shown

        if self.reader_gone.is_set():
            return
        if self.jsonl:
            line = json.dumps(redact_data({"record": record, **data}), ensure_ascii=True)
        else:
            line = redact(shown(f"{at:%H:%M:%S} {text}"))
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # the reader (e.g. `| head`) has gone: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            self.reader_gone.set()
