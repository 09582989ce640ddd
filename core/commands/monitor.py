"""``netmon monitor``: run the monitor, one line per result, history written.

Ctrl+C, SIGTERM and (on Windows) Ctrl+Break or closing the console window all stop it the
same way: the monitor stops, pending history is written, and the exit code is 0. A second
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
    from types import FrameType

    from ..config import Config
    from ..probes.base import ProbeResult


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("monitor", help="probe targets on their schedule until stopped")
    parser.add_argument("--duration", type=float, metavar="SECONDS",
                        help="stop after this long (default: until Ctrl+C)")
    parser.add_argument("--jsonl", action="store_true", help="one JSON object per result")
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

    from ..history import HistoryStore, Retention
    from ..monitor import HealthMonitor
    from ..status import build

    history = None
    if config.history.enabled and not args.no_history:
        history = HistoryStore(config.history.path or None,
                               retention=Retention.from_settings(config.history))
        await history.start()
    monitor = HealthMonitor(config, history=history)
    if history is not None:
        await monitor.seed_from(history)
    stop, signalled = asyncio.Event(), asyncio.Event()
    monitor.result_recorded.connect(_printer(args.jsonl, stop))
    try:
        with _stop_on_signals(stop, signalled):
            await monitor.start()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.duration):
                    await stop.wait()  # until the duration ends, a signal or `| head` exits
        return None if signalled.is_set() else str(build(monitor=monitor)["status"])
    finally:
        await monitor.stop()
        if history is not None:
            await history.close()


def _printer(jsonl: bool, reader_gone: asyncio.Event) -> Any:
    from ..log import redact, redact_data
    from ..render import format_ms, shown

    def show(result: ProbeResult) -> None:
        if reader_gone.is_set():
            return
        # details carry URLs (a redirect's final_url) and error texts: redact them all
        if jsonl:
            line = json.dumps(redact_data(result.as_dict()), ensure_ascii=True)
        else:
            state = "ok  " if result.ok else ("WARN" if result.degraded else "FAIL")
            detail = "" if result.ok else f" {result.error_kind}: {result.error}"
            line = redact(shown(f"{result.checked_at:%H:%M:%S} {state} {result.target} "
                                f"{format_ms(result.latency_ms)}{detail}"))
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # the reader (e.g. `| head`) has gone: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            reader_gone.set()

    return show
