"""``netmon token inspect``: fingerprint, header, claims and a verdict, never the token."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from .common import UsageError, command, print_json

if TYPE_CHECKING:
    from ..config import Config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("token", help="inspect a JWT without printing it")
    actions = parser.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    inspect = actions.add_parser(
        "inspect", help="read a token from standard input or --token-env and judge it")
    inspect.add_argument("--token-env", metavar="VAR",
                         help="read the token from this environment variable")
    inspect.add_argument("--json", action="store_true", help="print the result as JSON")
    command(inspect, run_inspect)


def _read_token(args: argparse.Namespace) -> str:
    if args.token_env:
        value = os.environ.get(args.token_env, "")
        if not value:
            raise UsageError(f"environment variable {args.token_env} is empty or not set")
    else:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("pipe the token on standard input or use --token-env VAR "
                             "(tokens never go on the command line)")
        value = sys.stdin.read()
    token = value.strip().removeprefix("Bearer ").strip()
    if not token:
        raise UsageError("no token given")
    return token


def run_inspect(args: argparse.Namespace, config: Config) -> int:
    import asyncio

    token = _read_token(args)
    report = asyncio.run(_inspect(config, token))
    if args.json:
        print_json(report)
    else:
        print(_render(report))
    return 0 if report["verdict"]["valid"] else 2


async def _inspect(config: Config, token: str) -> dict[str, Any]:
    from ..auth import ResilientAuthService, inspect_token

    service = ResilientAuthService.from_settings(config.auth)
    try:
        return await inspect_token(token, service)
    finally:
        await service.aclose()


def _render(report: dict[str, Any]) -> str:
    from ..render import text_lines

    verdict = report["verdict"]
    lines = [f"fingerprint  sha256:{report['fingerprint']}..."]
    if report["header"] is not None:
        lines.append(f"header       {json.dumps(report['header'], sort_keys=True)}")
        lines.append("claims")
        for key, value in sorted(report["claims"].items()):
            lines.append(f"  {key:<12} {json.dumps(value, default=str)}")
    if verdict["valid"]:
        lines.append(f"verdict      VALID (checked {verdict['source']})")
    else:
        lines.append(f"verdict      REFUSED: {verdict['reason']}: {verdict['detail']}")
    return text_lines(lines)
