"""``netmon config``: where the config is, check it, write the starter file."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .common import UsageError, command, config_free_command

if TYPE_CHECKING:
    from ..config import Config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("config", help="show, check or create the configuration")
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_free_command(actions.add_parser(
        "path", help="print where the config file is read from"), run_path)
    command(actions.add_parser(
        "validate", help="check the config file; exit 3 if it is broken"), run_validate)
    init = actions.add_parser(
        "init", help="write the starter config file (the built-in defaults, with examples) "
        "at --config, else $NETMON_CONFIG, else the per-user path")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    config_free_command(init, run_init)


def run_path(args: argparse.Namespace) -> int:
    from ..config import config_path

    print(config_path(args.config))
    return 0


def run_validate(args: argparse.Namespace, config: Config) -> int:
    where = config.source or "built-in defaults (no config file)"
    print(f"OK: {where}: {len(config.targets)} target(s)")
    return 0


def run_init(args: argparse.Namespace) -> int:
    from ..config import config_path, default_config_text

    where = config_path(args.config)
    if where.is_dir():
        raise ConfigError("is a folder; name the file to write, e.g. netmon.toml in it",
                          path=str(where))
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder: {exc.strerror or exc}",
                          path=str(where.parent)) from None
    try:
        with where.open("w" if args.force else "x", encoding="utf-8") as fh:
            fh.write(default_config_text())
    except FileExistsError:
        raise UsageError(f"{where} exists; use --force to overwrite it") from None
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror or exc}", path=str(where)) from None
    print(f"wrote {where}")
    return 0
