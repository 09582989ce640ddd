"""The ``netmon`` argument parser: global options, ``--version``, and one subcommand per
module in ``COMMANDS`` (built only when a command or ``--help`` needs it)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from typing import Any, NoReturn

from .common import UsageError

__all__ = ["COMMANDS", "build_parser"]

#: Modules under ``core.commands``, in the order ``--help`` lists their commands; each has
#: ``register(sub)`` and must not import heavy libraries at module level.
COMMANDS: tuple[str, ...] = (
    "check", "diagnose", "env", "monitor", "history", "recover", "serve", "token", "config",
    "bundle",
)


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


class _VersionAction(argparse.Action):
    """``--version`` in the parser: reads the version only when asked (not for ``--help``)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 help: str | None = None) -> None:
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> NoReturn:
        from ..cli import print_version

        parser.exit(print_version())


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
        importlib.import_module(f".{name}", __package__).register(sub)
    return parser
