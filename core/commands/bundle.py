"""``netmon bundle [-o FILE]``: one redacted zip for a support engineer."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .common import UsageError, command

if TYPE_CHECKING:
    from ..config import Config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "bundle", help="write a redacted support bundle (status, environment, history, "
                       "diagnoses, config, logs, versions) to one zip")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="where to write it (default netmon-bundle-YYYYmmdd-HHMMSS.zip)")
    parser.add_argument("--no-probe", action="store_true",
                        help="do not probe the targets (no status.json, no diagnoses)")
    parser.add_argument("--network", action="store_true",
                        help="also check that the gateway and DNS servers answer")
    parser.add_argument("--no-system-nameservers", action="store_true",
                        help="diagnoses do not ask this machine's DNS servers directly")
    parser.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                        help="bound on each diagnosis step (default 3)")
    command(parser, run)


def run(args: argparse.Namespace, config: Config) -> int:
    import asyncio
    from datetime import UTC, datetime
    from pathlib import Path

    from ..bundle import write_bundle
    from .check import one_shot, snapshot_once

    if not 0 < args.timeout <= 60:
        raise UsageError("--timeout must be between 0 and 60 seconds")
    out = Path(args.output or datetime.now(UTC).strftime("netmon-bundle-%Y%m%d-%H%M%S.zip"))
    if out.is_dir():
        raise UsageError(f"{out} is a folder: give a file name with -o")

    async def go() -> None:
        snapshot = None
        if not args.no_probe and any(t.enabled for t in config.targets):
            snapshot = await snapshot_once(one_shot(config, []), with_database=False)
        manifest = await write_bundle(
            out, config=config, snapshot=snapshot, probe=args.network,
            system_nameservers=not args.no_system_nameservers, timeout=args.timeout)
        print(f"wrote {out} ({len(manifest.files) + 1} files)")
        for name, why in manifest.left_out.items():
            print(f"  left out {name}: {why}")

    asyncio.run(go())
    return 0
