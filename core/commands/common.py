"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from ..errors import NetmonError

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["UsageError", "command", "config_free_command", "print_json"]

ConfigHandler: TypeAlias = "Callable[[argparse.Namespace, Config], int]"
PlainHandler: TypeAlias = Callable[[argparse.Namespace], int]


class UsageError(NetmonError):
    """Bad command-line input (exit 3)."""


def command(parser: argparse.ArgumentParser, run: ConfigHandler) -> None:
    """Make ``run`` the parser's handler; ``cli.main`` loads the config once and passes it."""
    parser.set_defaults(handler=run, needs_config=True)


def config_free_command(parser: argparse.ArgumentParser, run: PlainHandler) -> None:
    """Make ``run`` the parser's handler for a command that reads no config file
    (``diagnose``, and ``config path``/``config init``, which work on its location)."""
    parser.set_defaults(handler=run, needs_config=False)


def print_json(data: Any) -> None:
    """Pretty JSON on stdout, ASCII-escaped so any console prints it."""
    json.dump(data, sys.stdout, indent=2, ensure_ascii=True)
    sys.stdout.write("\n")
