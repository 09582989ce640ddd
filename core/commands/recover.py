"""``netmon recover``: run a recovery action and show the state before and after."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ..config import Config
from ..recovery import Origin
from ..runtime import NetmonCore
from .common import UsageError, load, print_json

_ACTIONS = {
    "reset-breaker": "reset_breaker",
    "clear-auth-cache": "clear_auth_cache",
    "reconnect-db": "reconnect_database",
    "probe-all": "probe_all",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("recover", help="run a recovery action")
    actions = parser.add_subparsers(dest="recover_command", metavar="ACTION", required=True)
    reset = actions.add_parser("reset-breaker", help="close one breaker, or all")
    reset.add_argument("name", nargs="?", help="breaker name (default: all)")
    actions.add_parser("clear-auth-cache", help="forget cached and failed tokens")
    actions.add_parser("reconnect-db", help="close and reopen the database pool")
    actions.add_parser("probe-all", help="probe every target now")
    for action in actions.choices.values():
        action.add_argument("--json", action="store_true", help="print the result as JSON")
        action.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = load(args)
    action = _ACTIONS[args.recover_command]
    result = asyncio.run(_local(config, action, getattr(args, "name", None)))
    if args.json:
        print_json(result)
    else:
        print(_render(action, result))
    return 0


async def _local(config: Config, action: str, name: str | None) -> dict[str, Any]:
    core = NetmonCore(config, with_history=config.history.enabled,
                      with_database=action == "reconnect_database")
    try:
        await core.start(schedule=False)
        return await core.recovery.run(action, target=name, origin=Origin.LOCAL)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    finally:
        await core.stop()


def _render(action: str, result: dict[str, Any]) -> str:
    if action == "reset_breaker":
        rows = result["breakers"]
        if not rows:
            return "no breakers configured"
        return "\n".join(f"{r['name']}: {r['before']} -> {r['after']}" for r in rows)
    if action == "clear_auth_cache":
        cleared = result["cleared"]
        return f"cleared {cleared['cached']} cached and {cleared['failed']} failed token(s)"
    if action == "probe_all":
        return "\n".join(f"{name}: {result['before'].get(name)} -> {status}"
                         for name, status in result.get("after", {}).items()) or result["note"]
    return "\n".join(f"{k}: {v}" for k, v in result.items())
