#!/usr/bin/env python
"""CPU instructions per console refresh cycle and per step, counted by valgrind (callgrind).

Run:  python tests/benchmarks/bench_refresh_instructions.py [--tree DIR] [--cycles 20]
      [--steps results,refresh,plot redraw,paint]

The cycle of ``bench_refresh.py`` (its ``console_cycle``: 50 targets x 720 results, the real
``MainWindow`` offscreen at 1600x1000): new results, ``window.refresh()``, the plot's
redraw, the paint.
On a shared 2-core machine its timings move by a third between runs of the same code;
instruction counts do not. The cycle runs under ``valgrind --tool=callgrind`` with
collection switched on only inside the measured calls (each made through
``operator.call``, which nothing else here calls); the first 5 cycles warm up uncounted.
One valgrind run for the whole cycle, then one per step. ``--tree`` measures another
checkout (e.g. ``git archive`` of an older commit) with this checkout's cycle and that
one's code, for a paired comparison. Instructions are not time (cache misses and blending
bandwidth are not in them), so read them next to ``bench_refresh.py``. Needs valgrind;
about 2.5 min a run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = ("results", "refresh", "plot redraw", "paint")
WARM_UP = 5

_CHILD = """
import importlib.util, operator, sys
tree, step, cycles, cycle_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, tree)
import core, netmon_gui, tests.benchmarks.bench_status  # the tree's: the cycle imports these
spec = importlib.util.spec_from_file_location("refresh_cycle", cycle_file)
module = sys.modules["refresh_cycle"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
cycle = module.console_cycle()
for i in range(cycles + WARM):
    cycle.advance()
    for name, fn in cycle.steps.items():
        if i >= WARM and step in ("cycle", name):
            operator.call(fn)  # callgrind collects inside this call only
        else:
            fn()
cycle.window._shutdown_widgets()
""".replace("WARM", str(WARM_UP))


def count(tree: Path, step: str, cycles: int) -> int:
    """Instructions callgrind collected for ``step`` ("cycle": all steps) over ``cycles``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(tree)}
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--toggle-collect=_operator_call",
             f"--callgrind-out-file={out}", sys.executable, "-c", _CHILD, str(tree), step,
             str(cycles), str(HERE / "bench_refresh.py")],
            capture_output=True, text=True, env=env, cwd=tmp, timeout=3600, check=False)
        found = re.search(r"Collected : (\d+)", proc.stderr)
        if proc.returncode != 0 or found is None:
            raise RuntimeError(f"valgrind run for {step!r} failed: {proc.stderr[-800:]}")
        return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=HERE.parents[1],
                        help="the checkout to measure (default: this one)")
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--steps", default=",".join(STEPS),
                        help="steps counted one by one after the whole cycle ('' for none)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing counted", file=sys.stderr)
        return 2
    steps = [s for s in args.steps.split(",") if s]
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown step(s) {sorted(unknown)}; the steps are {', '.join(STEPS)}")
    print(f"{args.tree}: {args.cycles} cycles after {WARM_UP} uncounted, "
          "instructions per cycle (millions)")
    for step in ["cycle", *steps]:
        total = count(args.tree, step, args.cycles)
        print(f"  {step:<12} {total / args.cycles / 1e6:8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
