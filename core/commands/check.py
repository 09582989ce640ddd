"""``netmon check`` (probes only) and ``netmon status`` (the whole core): one snapshot.

Like every command module, it imports what a run needs inside the run, so ``netmon --help``
stays cheap.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .common import UsageError, command, print_json
from .remote_cli import add_remote_options, backend_for, print_problems, report_failure

if TYPE_CHECKING:
    from ..config import Config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = sub.add_parser("check", help="probe every enabled target once")
    check.add_argument("--json", action="store_true", help="print the status snapshot as JSON")
    check.add_argument("--only", action="append", metavar="NAME", default=[],
                       help="probe only this target (repeatable)")
    command(check, run_check)
    status = sub.add_parser("status", help="one snapshot of the whole core with suggestions")
    status.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    add_remote_options(status)
    status.set_defaults(only=[])
    command(status, run_status)


def run_check(args: argparse.Namespace, config: Config) -> int:
    return _report(args, config, with_database=False)


def run_status(args: argparse.Namespace, config: Config) -> int:
    import asyncio

    if args.remote or args.token_env:
        return asyncio.run(_remote_status(args, config))
    return _report(args, config, with_database=True)


async def _remote_status(args: argparse.Namespace, config: Config) -> int:
    from ..render import status_table
    from ..status import exit_code_for

    async with backend_for(config, args) as backend:
        result = await backend.status()
    if not result.ok:
        return report_failure(backend, result)
    print_problems(result)
    snapshot = result.data
    if args.json:
        print_json(snapshot)
    else:
        print(status_table(snapshot))
    return exit_code_for(str(snapshot.get("status")))


def _report(args: argparse.Namespace, config: Config, *, with_database: bool) -> int:
    import asyncio

    from ..render import status_table
    from ..status import exit_code_for

    config = one_shot(config, args.only)
    snapshot = asyncio.run(snapshot_once(config, with_database=with_database))
    if args.json:
        print_json(snapshot)
    else:
        print(status_table(snapshot))
    return exit_code_for(snapshot["status"])


def one_shot(config: Config, only: list[str]) -> Config:
    """``config`` for one probe of each target (``only`` those named): a failure is down."""
    if only:
        known = {t.name for t in config.targets}
        unknown = [n for n in only if n not in known]
        if unknown:
            raise UsageError(f"--only: no target named {', '.join(map(repr, unknown))}; "
                             f"configured: {', '.join(sorted(known)) or 'none'}")
        config = replace(config, targets=[replace(t, enabled=True) for t in config.targets
                                          if t.name in only])
    if not any(t.enabled for t in config.targets):
        raise UsageError(f"no enabled targets in {config.source or 'the default config'}; "
                         "add [[targets]] tables (see `netmon config init`)")
    # One probe is the whole evidence here: a failure is down, a success is up.
    return replace(config, monitor=replace(config.monitor, down_after=1, up_after=1))


async def snapshot_once(config: Config, *, with_database: bool) -> dict[str, Any]:
    """Start the core without scheduling, probe everything once while the database layer
    connects, snapshot, stop."""
    import asyncio

    from ..runtime import NetmonCore

    core = NetmonCore(config, with_history=False, with_database=with_database)
    try:
        await core.start(schedule=False)
        await asyncio.gather(core.monitor.run_once(), core.ready())
        return core.status()
    finally:
        await core.stop()
