#!/usr/bin/env python
"""CPU instructions per operation of the breaker's hot paths, counted by valgrind (callgrind).

Run:  python tests/benchmarks/bench_breaker_instructions.py [KEY ...]

Timings on a shared machine swing by 2x from run to run; instruction counts do not. Each
contender runs under ``valgrind --tool=callgrind`` twice, with N1 and N2 operations; the
difference of the two totals divided by N2 - N1 is the cost of one operation (start-up and
imports cancel out). Ratios use the same baselines as bench_breaker.py. Instructions are
not time (a cache miss costs more than an add), but a change that removes work shows here.
Needs the `valgrind` program; takes about 30 s per contender.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.breaker import CircuitBreaker  # noqa: E402
from core.errors import CircuitOpenError  # noqa: E402
from tests.benchmarks.bench_breaker import (  # noqa: E402 (the same floors and baselines)
    EmptyPlainCM,
    RejectedError,
    RejectingPlainCM,
    fn,
)

N1, N2 = 2_000, 12_000
# contender -> its baseline (None: a baseline itself)
BASELINES: dict[str, str | None] = {
    "bare": None,
    "floor_cm": "bare",
    "ours_cm": "bare",
    "floor_call": "bare",
    "ours_call": "bare",
    "r_bare": None,
    "r_floor_cm": "r_bare",
    "r_ours_cm_forced": "r_bare",
    "r_ours_cm_open": "r_bare",
    "r_floor_call": "r_bare",
    "r_ours_call_forced": "r_bare",
    "r_ours_call_open": "r_bare",
}
NOTES = {
    "floor_cm": "async with: plain-method CM, same awaitables as ours, no logic",
    "floor_call": "await wrap(fn): one coroutine around fn",
    "r_floor_cm": "async with: __aenter__ only raises",
    "r_floor_call": "await a coroutine that only raises",
}


async def wrap(f: Callable[[], Awaitable[int]]) -> int:
    return await f()


async def raiser() -> None:
    raise RejectedError()


async def refuse() -> None:
    raise ConnectionRefusedError(111, "Connection refused")


async def inner(key: str, n: int) -> None:
    """Run ``n`` operations of contender ``key`` (what runs under valgrind)."""
    logging.getLogger("netmon").addHandler(logging.NullHandler())
    logging.getLogger("netmon").propagate = False
    ours = CircuitBreaker("closed")
    async with ours:
        pass
    floor = EmptyPlainCM(ours.__aenter__(), ours.__aexit__(None, None, None))
    forced = CircuitBreaker("forced")
    forced.force_open()
    opened = CircuitBreaker("open", failure_threshold=1, reset_timeout=3600)
    with contextlib.suppress(ConnectionRefusedError):
        await opened.call(refuse)
    rejecting = RejectingPlainCM()

    async def cm(target: Any) -> None:
        for _ in range(n):
            async with target:
                await fn()

    async def reject_cm(target: Any, exc: type[BaseException]) -> None:
        for _ in range(n):
            try:
                async with target:
                    await fn()
            except exc:
                pass

    async def reject_call(breaker: CircuitBreaker) -> None:
        for _ in range(n):
            try:  # noqa: SIM105 - suppress() would add its own cost
                await breaker.call(fn)
            except CircuitOpenError:
                pass

    async def r_floor_call() -> None:
        for _ in range(n):
            try:  # noqa: SIM105 - suppress() would add its own cost
                await raiser()
            except RejectedError:
                pass

    async def bare() -> None:
        for _ in range(n):
            await fn()

    async def floor_call() -> None:
        for _ in range(n):
            await wrap(fn)

    async def ours_call() -> None:
        for _ in range(n):
            await ours.call(fn)

    async def r_bare() -> None:
        for _ in range(n):
            try:
                raise RejectedError()
            except RejectedError:
                pass

    runs: dict[str, Callable[[], Awaitable[None]]] = {
        "bare": bare,
        "floor_cm": lambda: cm(floor),
        "ours_cm": lambda: cm(ours),
        "floor_call": floor_call,
        "ours_call": ours_call,
        "r_bare": r_bare,
        "r_floor_cm": lambda: reject_cm(rejecting, RejectedError),
        "r_ours_cm_forced": lambda: reject_cm(forced, CircuitOpenError),
        "r_ours_cm_open": lambda: reject_cm(opened, CircuitOpenError),
        "r_floor_call": r_floor_call,
        "r_ours_call_forced": lambda: reject_call(forced),
        "r_ours_call_open": lambda: reject_call(opened),
    }
    await runs[key]()


def count(key: str, n: int) -> int:
    """Instructions of a whole interpreter run doing ``n`` operations of ``key``."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, "--inner", key, str(n)],
        capture_output=True, text=True, env=env, check=True,
    )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind for {key}:\n{proc.stderr}")
    return int(found.group(1))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--inner"]:
        asyncio.run(inner(argv[1], int(argv[2])))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 2
    keys = argv or list(BASELINES)
    unknown = [k for k in keys if k not in BASELINES]
    if unknown:
        print(f"unknown contender(s) {unknown}; known: {', '.join(BASELINES)}", file=sys.stderr)
        return 2
    needed = keys + [b for k in keys if (b := BASELINES[k]) and b not in keys]
    per_op = {k: (count(k, N2) - count(k, N1)) / (N2 - N1) for k in needed}
    print(f"{'contender':<20} {'instr/op':>9} {'ratio':>7}  baseline / note")
    for key in keys:
        base = BASELINES[key]
        ratio = f"{per_op[key] / per_op[base]:6.2f}x" if base else "  1.00x"
        print(f"{key:<20} {per_op[key]:>9.0f} {ratio:>7}  {base or ''} {NOTES.get(key, '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
