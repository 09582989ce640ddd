"""``netmon config``: where the config is, check it, write the defaults."""

from __future__ import annotations

import argparse

from ..config import config_path, default_config_text
from .common import UsageError, load


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("config", help="show, check or create the configuration")
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    actions.add_parser("path", help="print where the config file is read from").set_defaults(
        handler=run_path)
    actions.add_parser("validate", help="check the config file; exit 3 if it is broken"
                       ).set_defaults(handler=run_validate)
    init = actions.add_parser("init", help="write the default config file (commented)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(handler=run_init)


def run_path(args: argparse.Namespace) -> int:
    print(config_path(args.config))
    return 0


def run_validate(args: argparse.Namespace) -> int:
    config = load(args)
    where = config.source or "built-in defaults (no config file)"
    print(f"OK: {where}: {len(config.targets)} target(s)")
    return 0


def run_init(args: argparse.Namespace) -> int:
    where = config_path(args.config)
    if where.exists() and not args.force:
        raise UsageError(f"{where} exists; use --force to overwrite it")
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text(default_config_text(), encoding="utf-8")
    print(f"wrote {where}")
    return 0
