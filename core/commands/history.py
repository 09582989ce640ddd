"""``netmon history export``: probe history as CSV or JSON.

The history file is opened read-only: exporting never locks, creates, repairs or moves
it. When it cannot be read the command says why in one line and exits 3.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .common import UsageError, command

if TYPE_CHECKING:
    from datetime import datetime

    from ..config import Config, HistorySettings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("history", help="read the probe history")
    actions = parser.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write history as CSV or JSON")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--since", metavar="WHEN", help="e.g. 30m, 24h, 7d or an ISO time")
    export.add_argument("--until", metavar="WHEN", help="same forms as --since")
    export.add_argument("--target", metavar="NAME", help="only this target")
    export.add_argument("--resolution", choices=("auto", "raw", "1m", "1h"), default="auto")
    export.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    command(export, run_export)


def run_export(args: argparse.Namespace, config: Config) -> int:
    import asyncio

    from ..render import parse_since

    try:
        since = parse_since(args.since) if args.since else None
        until = parse_since(args.until) if args.until else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    count = asyncio.run(_export(config.history, args, since, until))
    print(f"exported {count} row(s)", file=sys.stderr)
    return 0


async def _export(settings: HistorySettings, args: argparse.Namespace,
                  since: datetime | None, until: datetime | None) -> int:
    import sqlite3

    from ..history import HistoryStore, HistoryUnavailableError, Retention

    store = HistoryStore(settings.path or None, read_only=True,
                         retention=Retention.from_settings(settings))
    try:
        await store.start()
        return await store.export(args.output or sys.stdout, args.format, target=args.target,
                                  since=since, until=until, resolution=args.resolution)
    except sqlite3.Error as exc:  # e.g. a page that went bad under the reader
        raise HistoryUnavailableError(f"cannot read history database {store.path}: {exc}"
                                      ) from None
    finally:
        await store.close()
