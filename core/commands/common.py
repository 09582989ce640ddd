"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..config import Config, load_config
from ..errors import NetmonError

__all__ = ["UsageError", "load", "print_json"]


class UsageError(NetmonError):
    """Bad command-line input (exit 3)."""


def load(args: argparse.Namespace) -> Config:
    """The config named by ``--config`` (or the default location)."""
    return load_config(args.config)


def print_json(data: Any) -> None:
    """Pretty JSON on stdout, ASCII-escaped so any console prints it."""
    json.dump(data, sys.stdout, indent=2, ensure_ascii=True)
    sys.stdout.write("\n")
