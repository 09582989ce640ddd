"""``netmon env``: this machine's network environment, judged."""

from __future__ import annotations

import argparse

from .common import UsageError, config_free_command, print_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "env", help="this machine's network environment: adapters, routes, DNS, NRPT, "
                    "proxies, hosts file, with the conditions that explain failures")
    parser.add_argument("--probe", action="store_true",
                        help="also check that the default gateway, DNS servers and NRPT "
                             "servers answer, and the clock against the configured NTP "
                             "server (sends packets to them)")
    parser.add_argument("--time-server", metavar="HOST[:PORT]",
                        help="check the clock (SNTP) against this server instead of the one "
                             "the OS is configured with; without --probe only the clock is "
                             "checked")
    parser.add_argument("--timeout", type=float, default=2.0, metavar="SECONDS",
                        help="bound on each reachability check (default 2)")
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON (schema netmon.env/1, see README)")
    config_free_command(parser, run)


def run(args: argparse.Namespace) -> int:
    if not 0 < args.timeout <= 60:
        raise UsageError("--timeout must be between 0 and 60 seconds")
    import asyncio

    from ..environment import collect_environment
    from ..environment.render import render_text
    from ..environment.sntp import split_server

    if args.time_server is not None:
        try:
            split_server(args.time_server)
        except ValueError as exc:
            raise UsageError(f"--time-server: {exc}") from None
    report = asyncio.run(collect_environment(probe=args.probe, timeout=args.timeout,
                                             time_server=args.time_server))
    if args.json:
        print_json(report.as_dict())
    else:
        print(render_text(report))
    return report.exit_code
