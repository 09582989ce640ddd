"""The ``--remote`` side of ``netmon status`` and ``netmon recover``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..errors import NETWORK_KINDS
from .common import UsageError

if TYPE_CHECKING:
    from ..config import Config
    from ..remote import RemoteBackend, RemoteResult

__all__ = ["add_remote_options", "backend_for", "print_problems", "report_failure"]


def add_remote_options(parser: argparse.ArgumentParser) -> None:
    """``--remote NAME_OR_URL`` and ``--token-env VAR``."""
    parser.add_argument("--remote", metavar="NAME_OR_URL",
                        help="ask a remote backend (a [[remotes]] name or a URL)")
    parser.add_argument("--token-env", metavar="VAR",
                        help="read the bearer token from this environment variable")


def backend_for(config: Config, args: argparse.Namespace) -> RemoteBackend:
    """The remote named on the command line."""
    from ..remote import resolve_remote

    if args.token_env and not args.remote:
        raise UsageError("--token-env goes with --remote")
    return resolve_remote(config, args.remote, args.token_env)


def report_failure(backend: RemoteBackend, result: RemoteResult) -> int:
    """Print a failed remote call as one line; exit 2 if unreachable, else 3."""
    from ..render import shown

    print(shown(f"netmon: error: remote {backend.name}: {result.error}"), file=sys.stderr)
    return 2 if result.error_kind in NETWORK_KINDS else 3


def print_problems(result: RemoteResult) -> None:
    """Shape warnings from a backend that is not quite ours, on stderr."""
    from ..render import shown

    for problem in result.problems:
        print(shown(f"netmon: note: {problem}"), file=sys.stderr)
