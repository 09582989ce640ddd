"""``netmon diagnose HOST[:PORT]``: the layered answer to "why can't I reach it?"."""

from __future__ import annotations

import argparse

from .common import UsageError, config_free_command, print_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "diagnose", help="find which layer fails for HOST[:PORT] (hosts, DNS, TCP, proxy, gateway,"
                         " path)")
    parser.add_argument("target", metavar="HOST[:PORT]", help="name or URL to diagnose")
    parser.add_argument("--nameserver", action="append", default=[], metavar="IP[:PORT]",
                        help="also ask this DNS server directly (repeatable)")
    parser.add_argument("--no-system-nameservers", action="store_true",
                        help="do not ask this machine's configured DNS servers directly")
    parser.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                        help="bound on each step (default 3)")
    parser.add_argument("--network", action="store_true",
                        help="also check that the default gateway and DNS servers answer "
                             "(ICMP where allowed, else TCP/UDP; says which)")
    parser.add_argument("--trace", action="store_true",
                        help="also trace the path to the target, stopping at the first "
                             "silent hop")
    parser.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    config_free_command(parser, run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from ..diagnose import diagnose, exit_code

    if not 0 < args.timeout <= 120:
        raise UsageError("--timeout must be between 0 and 120 seconds")
    try:
        result = asyncio.run(diagnose(
            args.target, nameservers=tuple(args.nameserver),
            include_system=not args.no_system_nameservers, timeout=args.timeout,
            network=args.network, trace=args.trace,
        ))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print_json(result.as_dict())
    else:
        print(result.render_text())
    return exit_code(result)
