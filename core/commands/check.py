"""``netmon check``: probe every enabled target once."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
from typing import Any

from ..config import Config
from ..monitor import HealthMonitor
from ..render import status_table
from ..status import build, exit_code_for
from .common import UsageError, load, print_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("check", help="probe every enabled target once")
    parser.add_argument("--json", action="store_true", help="print the status snapshot as JSON")
    parser.add_argument("--only", action="append", metavar="NAME", default=[],
                        help="probe only this target (repeatable)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = load(args)
    if args.only:
        known = {t.name for t in config.targets}
        unknown = [n for n in args.only if n not in known]
        if unknown:
            raise UsageError(f"--only: no target named {', '.join(map(repr, unknown))}; "
                             f"configured: {', '.join(sorted(known)) or 'none'}")
        config = replace(config, targets=[replace(t, enabled=True) for t in config.targets
                                          if t.name in args.only])
    if not any(t.enabled for t in config.targets):
        raise UsageError(f"no enabled targets in {config.source or 'the default config'}; "
                         "add [[targets]] tables (see `netmon config init`)")
    # One probe is the whole evidence here: a failure is down, a success is up.
    config = replace(config, monitor=replace(config.monitor, down_after=1, up_after=1))
    snapshot = asyncio.run(_check(config))
    if args.json:
        print_json(snapshot)
    else:
        print(status_table(snapshot))
    return exit_code_for(snapshot["status"])


async def _check(config: Config) -> dict[str, Any]:
    monitor = HealthMonitor(config)
    try:
        await monitor.run_once()
        return build(monitor=monitor)
    finally:
        await monitor.stop()
