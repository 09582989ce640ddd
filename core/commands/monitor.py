"""``netmon monitor``: run the monitor, one line per result, history written."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from typing import Any

from ..config import Config
from ..history import HistoryStore
from ..log import ascii_safe, setup_logging
from ..monitor import HealthMonitor
from ..probes.base import ProbeResult
from ..render import format_ms
from ..status import build, exit_code_for
from .common import UsageError, command


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("monitor", help="probe targets on their schedule until stopped")
    parser.add_argument("--duration", type=float, metavar="SECONDS",
                        help="stop after this long (default: until Ctrl+C)")
    parser.add_argument("--jsonl", action="store_true", help="one JSON object per result")
    parser.add_argument("--no-history", action="store_true", help="do not write history")
    command(parser, run)


def run(args: argparse.Namespace, config: Config) -> int:
    if not any(t.enabled for t in config.targets):
        raise UsageError(f"no enabled targets in {config.source or 'the default config'}")
    if args.duration is not None and args.duration <= 0:
        raise UsageError("--duration must be positive")
    setup_logging(config.logging.level, to_file=config.logging.file)
    try:
        status = asyncio.run(_monitor(config, args))
    except KeyboardInterrupt:
        return 0
    return exit_code_for(status)


async def _monitor(config: Config, args: argparse.Namespace) -> str:
    history = None
    if config.history.enabled and not args.no_history:
        history = HistoryStore(config.history.path or None)
        await history.start()
    monitor = HealthMonitor(config, history=history)
    reader_gone = asyncio.Event()
    monitor.result_recorded.connect(_printer(args.jsonl, reader_gone))
    try:
        await monitor.start()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.duration):
                await reader_gone.wait()  # until the duration ends, Ctrl+C or `| head` exits
        return str(build(monitor=monitor)["status"])
    finally:
        await monitor.stop()
        if history is not None:
            await history.close()


def _printer(jsonl: bool, reader_gone: asyncio.Event) -> Any:
    def show(result: ProbeResult) -> None:
        if reader_gone.is_set():
            return
        if jsonl:
            line = json.dumps(result.as_dict(), ensure_ascii=True)
        else:
            state = "ok  " if result.ok else ("WARN" if result.degraded else "FAIL")
            detail = "" if result.ok else f" {result.error_kind}: {result.error}"
            line = ascii_safe(f"{result.checked_at:%H:%M:%S} {state} {result.target} "
                              f"{format_ms(result.latency_ms)}{detail}")
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # the reader (e.g. `| head`) has gone: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            reader_gone.set()

    return show
