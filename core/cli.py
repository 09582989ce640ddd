"""The ``netmon`` command.

Exit codes follow the monitoring-plugin convention: 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN (bad input, bad config, internal error). Errors are one readable line on
stderr, never a traceback (``NETMON_DEBUG=1`` shows it).

Start-up stays cheap: a top-level flag in ``EARLY_FLAGS`` is answered before any command
module is imported, and the command modules (``COMMANDS``) import what a run needs inside
the run, so ``--version`` and ``--help`` load no network library (tests/core/test_startup.py).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import Any, NoReturn

from .commands.common import UsageError
from .errors import NetmonError

__all__ = ["COMMANDS", "EARLY_FLAGS", "ExitCode", "build_parser", "main"]

#: Modules under ``core.commands``, in the order ``--help`` lists their commands; each has
#: ``register(sub)`` and must not import heavy libraries at module level.
COMMANDS: tuple[str, ...] = (
    "check", "diagnose", "env", "monitor", "history", "recover", "serve", "token", "config",
    "bundle",
)


class ExitCode(IntEnum):
    """Monitoring-plugin exit codes."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage, which would read as CRITICAL: exit 3 instead."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")


def _add_global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--config", metavar="PATH", default=default,
                        help="config file (default: $NETMON_CONFIG or the per-user file)")


class _CommandParser(_Parser):
    """A (sub)command's parser: it takes the global options too, so they may follow the
    command. Unset, they leave the value given before the command; given, they replace it
    (the later option wins, as with any repeated option)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _add_global_options(self, default=argparse.SUPPRESS)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("netmon")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def _print_version() -> int:
    print(f"netmon {_version()}")
    return ExitCode.OK


#: Top-level flags answered when given first, before the parser and any command module
#: are built (``--version`` also works anywhere argparse accepts it).
EARLY_FLAGS: dict[str, Callable[[], int]] = {"--version": _print_version}


class _VersionAction(argparse.Action):
    """``--version`` in the parser: reads the version only when asked (not for ``--help``)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 help: str | None = None) -> None:
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> NoReturn:
        parser.exit(_print_version())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(
        prog="netmon",
        description="Find out fast why a service cannot reach its dependencies.",
        epilog="Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    )
    parser.add_argument("--version", action=_VersionAction,
                        help="show the program's version number and exit")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation (loopback only), one line per check; "
                             "exit 0 when all pass, 1 otherwise")
    _add_global_options(parser, default=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    early = EARLY_FLAGS.get(arguments[0]) if arguments else None
    if early is not None:
        return early()
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
        if args.self_test:
            from . import selftest  # only when asked: it imports most of the core

            return selftest.main()
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return ExitCode.OK
        from .log import setup_logging

        setup_logging("WARNING", to_file=False)  # commands that want more set it up again
        if args.needs_config:
            from .config import load_config

            return int(handler(args, load_config(args.config)))  # the one load per command
        return int(handler(args))
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except NetmonError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted")
    except Exception as exc:  # an internal error is UNKNOWN, one line, traceback on demand
        if os.environ.get("NETMON_DEBUG"):
            import traceback

            traceback.print_exc()
        _fail(f"internal error: {type(exc).__name__}: {exc}")
    return ExitCode.UNKNOWN


def _fail(message: str) -> None:
    from .log import ascii_safe, printable, redact

    print(f"netmon: error: {ascii_safe(printable(redact(message)))}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
