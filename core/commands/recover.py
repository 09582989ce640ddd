"""``netmon recover``: run a recovery action and show the state before and after."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from .common import UsageError, command, print_json
from .remote_cli import add_remote_options, backend_for, print_problems, report_failure

if TYPE_CHECKING:
    from ..config import Config

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
        add_remote_options(action)
        command(action, run)


def run(args: argparse.Namespace, config: Config) -> int:
    import asyncio

    action = _ACTIONS[args.recover_command]
    if args.remote or args.token_env:
        return asyncio.run(_remote(config, args, action))
    result = asyncio.run(_local(config, action, getattr(args, "name", None)))
    if action in _IN_PROCESS and result.get("ok") is not False:
        _note_fresh_process()
    return _report(args, action, result)


#: Actions on state that lives inside one process (a fresh process has its own).
_IN_PROCESS = frozenset({"reset_breaker", "clear_auth_cache"})


def _note_fresh_process() -> None:
    """Say that a local action changed a fresh process, not a running console or service."""
    from ..discovery import LOCAL_NAME, find_console

    url = find_console()
    where = (f"a console serves its endpoints at {url}: add --remote {LOCAL_NAME}" if url
             else "add --remote NAME_OR_URL to act on a running console or service")
    print(f"netmon: note: this acted on a new netmon process, whose breakers and token "
          f"cache start empty; {where}", file=sys.stderr)


def _report(args: argparse.Namespace, action: str, result: dict[str, Any]) -> int:
    """Print the outcome; a failed action (``ok`` false, also from a remote backend) is
    one line on stderr and exit 2."""
    from ..render import shown

    failed = result.get("ok") is False
    if args.json:
        print_json(result)
    elif not failed:
        print(_render(action, result))
    if failed:
        print(f"netmon: {args.recover_command} failed: {shown(result.get('reason'))}",
              file=sys.stderr)
        return 2  # CRITICAL: the action did not achieve what it is for
    return 0


async def _remote(config: Config, args: argparse.Namespace, action: str) -> int:
    if action not in ("reset_breaker", "clear_auth_cache"):
        raise UsageError(f"{args.recover_command} has no remote endpoint; run it on the backend")
    async with backend_for(config, args) as backend:
        if action == "reset_breaker":
            result = await backend.reset_breaker(getattr(args, "name", None))
        else:
            result = await backend.clear_auth_cache()
    if not result.ok:
        return report_failure(backend, result)
    print_problems(result)
    return _report(args, action, result.data)


async def _local(config: Config, action: str, name: str | None) -> dict[str, Any]:
    from ..recovery import Origin
    from ..runtime import NetmonCore

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
    from ..render import shown, text_lines

    if action == "reset_breaker":
        rows = result.get("breakers") or []
        if not rows:
            return "no breakers configured"
        return text_lines(f"{r.get('name')}: {r.get('before')} -> {r.get('after')}" for r in rows)
    if action == "clear_auth_cache":
        cleared = result.get("cleared") or {}
        return shown(f"cleared {cleared.get('cached', '?')} cached and "
                     f"{cleared.get('failed', '?')} failed token(s)")
    if action == "probe_all":
        return text_lines(f"{name}: {result['before'].get(name)} -> {status}"
                          for name, status in result.get("after", {}).items())
    if action == "reconnect_database":
        after = result.get("after") or {}
        return shown(f"database {after.get('status')} ({after.get('mode')} mode)")
    return text_lines(f"{k}: {v}" for k, v in result.items() if k != "ok")
