"""Build the bundle with build.spec, print its size report and build time, smoke-test it.

    python packaging/build.py [--onefile] [--no-smoke] [--timings N]

Needs PyInstaller in the environment (``python -m pip install pyinstaller``). The onedir
bundle is dist/netmon/; ``--onefile`` (or NETMON_ONEFILE=1) gives dist/netmon-gui and
dist/netmon instead. Exit 0 when the build and every smoke step passed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import smoke  # noqa: E402 (next to this file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--onefile", action="store_true")
    parser.add_argument("--no-smoke", action="store_true")
    parser.add_argument("--timings", type=int, metavar="N", default=0,
                        help="also print medians of N frozen starts")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.onefile:
        env["NETMON_ONEFILE"] = "1"
    onefile = env.get("NETMON_ONEFILE", "") not in ("", "0")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "PyInstaller", "build.spec", "--noconfirm",
                    "--log-level", "WARN"], cwd=ROOT, env=env, check=True)
    print(f"build time: {time.perf_counter() - started:.0f} s", flush=True)
    if args.no_smoke:
        return 0
    bundle = ROOT / "dist" / ("" if onefile else "netmon")
    return smoke.main([str(bundle), "--timings", str(args.timings)])


if __name__ == "__main__":
    sys.exit(main())
