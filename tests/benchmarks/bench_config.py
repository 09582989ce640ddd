#!/usr/bin/env python
"""Time to validate a config with many targets (parse_config: TOML parse + validation).

Run:  python tests/benchmarks/bench_config.py [--targets 10000] [--rounds 5] [--profile]

The document mixes every target kind (dns, tcp, http, postgres with a DSN, supabase) with
a few optional fields set, so every validation path runs. Prints the TOML-parse time
alone, the whole ``parse_config`` time (median and best of the rounds), the per-target
cost and the difference (the validation itself);
with ``--profile`` a cProfile of one run, top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.config import parse_config

_KINDS = (
    'kind = "dns"\nhost = "svc{i}.example.test"\nnameservers = ["127.0.0.1:5353"]\n',
    'kind = "tcp"\nhost = "127.0.0.1"\nport = {port}\n',
    'kind = "http"\nurl = "http://127.0.0.1:{port}/health?x={i}"\nexpect_status = [200, 204]\n',
    'kind = "postgres"\ndsn = "postgresql://app@127.0.0.1:{port}/app{i}"\n'
    'password_keyring = "netmon/db"\n',
    'kind = "supabase"\nurl = "http://127.0.0.1:{port}"\napikey_env = "NETMON_APIKEY"\n',
)


def document(n: int) -> str:
    """A config with ``n`` targets of every kind."""
    parts = ["[monitor]\ninterval_s = 30\n"]
    for i in range(n):
        body = _KINDS[i % len(_KINDS)].format(i=i, port=1024 + i % 60000)
        parts.append(f'[[targets]]\nname = "t{i}"\n{body}timeout_s = 5\n')
    return "\n".join(parts)


def timed(fn: object, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    text = document(args.targets)
    config = parse_config(text)
    assert len(config.targets) == args.targets
    toml = timed(lambda: tomllib.loads(text), args.rounds)
    whole = timed(lambda: parse_config(text), args.rounds)
    print(f"{args.targets} targets, {len(text) / 1e6:.2f} MB of TOML, {args.rounds} rounds")
    print(f"  tomllib.loads alone : median {statistics.median(toml):.3f} s, "
          f"best {min(toml):.3f} s")
    print(f"  parse_config        : median {statistics.median(whole):.3f} s, "
          f"best {min(whole):.3f} s "
          f"({statistics.median(whole) / args.targets * 1e6:.1f} us/target)")
    print(f"  validation alone    : ~{statistics.median(whole) - statistics.median(toml):.3f} s "
          "(parse_config minus tomllib, medians)")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(parse_config, text)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(15)
        print(out.getvalue())


if __name__ == "__main__":
    main()
