"""The ``netmon`` command.

Exit codes follow the monitoring-plugin convention: 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN (bad input, bad config, internal error). Errors are one readable line on
stderr, never a traceback (``NETMON_DEBUG=1`` shows it).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from enum import IntEnum
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from .config import Config, config_path, default_config_text, load_config
from .errors import NetmonError
from .log import ascii_safe, redact

__all__ = ["ExitCode", "main"]


class ExitCode(IntEnum):
    """Monitoring-plugin exit codes."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


class UsageError(NetmonError):
    """Bad command-line input."""


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage, which would read as CRITICAL: exit 3 instead."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise UsageError(message)


def _version() -> str:
    try:
        return version("netmon")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(
        prog="netmon",
        description="Find out fast why a service cannot reach its dependencies.",
        epilog="Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    )
    parser.add_argument("--version", action="version", version=f"netmon {_version()}")
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $NETMON_CONFIG or the per-user file)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    cfg = sub.add_parser("config", help="show, check or create the configuration")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION", required=True,
                                 parser_class=_Parser)
    cfg_sub.add_parser("path", help="print where the config file is read from").set_defaults(
        handler=_config_path)
    cfg_sub.add_parser("validate", help="check the config file; exit 3 if it is broken"
                       ).set_defaults(handler=_config_validate)
    init = cfg_sub.add_parser("init", help="write the default config file (commented)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(handler=_config_init)
    return parser


def _config_path(args: argparse.Namespace) -> int:
    print(config_path(args.config))
    return ExitCode.OK


def _config_validate(args: argparse.Namespace) -> int:
    config = _load(args)
    where = config.source or "built-in defaults (no config file)"
    print(f"OK: {where}: {len(config.targets)} target(s)")
    return ExitCode.OK


def _config_init(args: argparse.Namespace) -> int:
    where = config_path(args.config)
    if where.exists() and not args.force:
        raise UsageError(f"{where} exists; use --force to overwrite it")
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text(default_config_text(), encoding="utf-8")
    print(f"wrote {where}")
    return ExitCode.OK


def _load(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.config is not None:
            load_config(args.config)  # a bad --config fails fast, whatever the command
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return ExitCode.OK
        return handler(args)
    except NetmonError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted")
    except Exception as exc:  # an internal error is UNKNOWN, one line, traceback on demand
        if os.environ.get("NETMON_DEBUG"):
            traceback.print_exc()
        _fail(f"internal error: {type(exc).__name__}: {exc}")
    return ExitCode.UNKNOWN


def _fail(message: str) -> None:
    print(f"netmon: error: {ascii_safe(redact(message))}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
