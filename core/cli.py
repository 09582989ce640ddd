"""The ``netmon`` command.

Exit codes follow the monitoring-plugin convention: 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN (bad input, bad config, internal error). Errors are one readable line on
stderr, never a traceback (``NETMON_DEBUG=1`` shows it).

Start-up stays cheap: a top-level flag in ``EARLY_FLAGS`` is answered before argparse or
any command module is imported, and the command modules (``commands.parser.COMMANDS``)
import what a run needs inside the run, so ``--version`` and ``--help`` load no network
library (tests/core/test_startup.py).
"""

from __future__ import annotations

import contextlib
import os
import sys
from enum import IntEnum

TYPE_CHECKING = False  # as in core/__init__.py: no typing import at start-up
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["EARLY_FLAGS", "ExitCode", "main", "print_version"]


class ExitCode(IntEnum):
    """Monitoring-plugin exit codes."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


def print_version() -> int:
    """Print ``netmon VERSION``; exit code 0."""
    from .version import __version__

    print(f"netmon {__version__}")
    return ExitCode.OK


#: Top-level flags answered when given first, before the parser and any command module
#: are built (``--version`` also works anywhere argparse accepts it).
EARLY_FLAGS: dict[str, Callable[[], int]] = {"--version": print_version}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    early = EARLY_FLAGS.get(arguments[0]) if arguments else None
    if early is not None:
        return early()
    from .commands.parser import build_parser
    from .errors import NetmonError

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
