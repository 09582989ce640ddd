#!/usr/bin/env python
"""Every netmon benchmark in one run: one table of ratios, one JSON file.

Run:  python tests/benchmarks/bench_all.py [--full] [--json PATH] [--only PART,...]

Parts (each in its own process, so one crash loses nothing else):
  breaker  - breaker and retry vs aiobreaker, purgatory, pybreaker, tenacity, backoff
             (bench_breaker.py; needs the `bench` extra)
  monitor  - probes vs bare dnspython / httpx (CPU per call) and the capacity ladder
             (bench_monitor.py; small ladder by default, 100/300/500/1000/2000 with --full)
  postgres - PostgresProbe.run() vs bare asyncpg connect + SELECT 1 + close, on a throwaway
             PostgreSQL cluster (skipped, and said so, without PostgreSQL binaries)
  console  - the console's first window: process start to first paint (offscreen Qt), and
             its refresh cycle with 50 targets (bench_refresh.py)
  startup  - `netmon --version`, `netmon --help`, `import core` vs `python -c pass`

Only ratios measured in the same run mean anything on a small shared machine: every row
names its baseline, and the ratio is ours / baseline (or, for aims given in absolute terms
such as "p99 loop lag under 50 ms", the figure / the aim). Nothing talks to the network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PY = sys.executable
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.benchmarks.child_env import child_env  # noqa: E402


@dataclass
class Row:
    """One line of the table: ours against a baseline, as a ratio."""

    part: str
    measure: str
    value: float
    unit: str
    baseline: str
    ratio: float
    aim: float | None = None  # the ratio we want at most
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.aim is None or self.ratio != self.ratio:  # no aim, or NaN
            return ""
        return "OK" if self.ratio <= self.aim else "MISS"




def _run_json(script: str, args: list[str], timeout: float) -> dict[str, Any]:
    """Run one of the existing benchmark scripts with --json; its own table goes to stderr."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        proc = subprocess.run([PY, str(HERE / script), *args, "--json", str(out)], cwd=ROOT,
                              env=child_env(), stdout=sys.stderr, stderr=sys.stderr,
                              timeout=timeout, check=False)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"{script} exited {proc.returncode}")
        data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return data


# --- breaker and retry --------------------------------------------------------------------
def part_breaker(full: bool) -> tuple[list[Row], dict[str, Any]]:
    data = _run_json("bench_breaker.py", [] if full else ["--quick"], 900)
    rows: list[Row] = []
    aims = {"ours_call": 3.0, "ours_cm": 3.0, "r_ours_call": 3.0, "r_ours_cm": 3.0,
            "t_ours": 5.0}
    for group in data["groups"]:
        base = next(c for c in group["contenders"] if c["key"] == group["baseline"])
        for c in group["contenders"]:
            if c is base:
                continue
            rows.append(Row("breaker" if group["key"] != "retry" else "retry",
                            f"{group['key']}: {c['label']}", c["ns_per_op_median"], "ns/op",
                            base["label"], c["ratio_median"], aims.get(c["key"])))
    return rows, data


# --- probes and the monitor ladder --------------------------------------------------------
def part_monitor(full: bool) -> tuple[list[Row], dict[str, Any]]:
    args = ["--ladder", "100,300,500,1000,2000"] if full else ["--quick", "--ladder", "100"]
    data = _run_json("bench_monitor.py", args, 3600)
    rows: list[Row] = []
    cpu = data.get("cpu_per_call", {})
    for key, bare in (("dns:DnsProbe.run()", "bare dnspython query"),
                      ("http:HttpProbe.run()", "bare httpx GET (keep-alive)"),
                      ("dns:monitor.probe_now(dns)", "bare dnspython query"),
                      ("http:monitor.probe_now(http)", "bare httpx GET (keep-alive)")):
        entry = cpu.get(key)
        if entry:
            rows.append(Row("probes", f"CPU per call, {key.split(':', 1)[1]}",
                            statistics.median(entry["cpu_us"]), "us", bare,
                            entry["ratio_bare"],
                            note=f"x fair (bare + the same getaddrinfo) "
                                 f"{entry['ratio_fair']:.2f}"))
    for rung in data.get("capacity", {}).get("rungs", []):
        if rung.get("label"):
            continue  # the what-if rung is context, not the ladder
        rows.append(Row("monitor", f"ladder N={rung['n']}: p99 loop lag", rung["lag_p99_ms"],
                        "ms", "aim 50 ms", rung["lag_p99_ms"] / 50.0, 1.0,
                        note=f"{rung['completed_ratio'] * 100:.0f}% probes done, "
                             f"{rung['cpu_us_per_probe']:.0f} us CPU/probe, {rung['verdict']}"))
    return rows, data


# --- PostgreSQL probe vs bare asyncpg -------------------------------------------------------
async def _pg_rounds(cluster: Any, rounds: int, calls: int) -> dict[str, Any]:
    import asyncpg

    from core.clock import SystemClock
    from core.config import Target
    from core.probes import ProbeContext, make_probe

    os.environ["NETMON_BENCH_PG_PASSWORD"] = cluster.password
    target = Target(name="db", kind="postgres", dsn=cluster.dsn_without_password(),
                    sslmode="disable", password_env="NETMON_BENCH_PG_PASSWORD")
    context = ProbeContext(clock=SystemClock(), default_timeout_s=5.0)
    probe = make_probe(target, context)

    async def bare() -> None:
        conn = await asyncpg.connect(host=cluster.host, port=cluster.port, user=cluster.user,
                                     database=cluster.database, password=cluster.password,
                                     ssl=False, timeout=5.0)
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()

    async def ours() -> None:
        result = await probe.run()
        assert result.ok, result.error

    contenders: dict[str, Callable[[], Any]] = {"bare": bare, "ours": ours}
    cpu: dict[str, list[float]] = {"bare": [], "ours": []}
    try:
        for fn in contenders.values():  # warm-up
            for _ in range(3):
                await fn()
        for rnd in range(rounds):
            for name in (["bare", "ours"] if rnd % 2 == 0 else ["ours", "bare"]):
                t0 = time.process_time()
                for _ in range(calls):
                    await contenders[name]()
                cpu[name].append((time.process_time() - t0) / calls * 1e6)
    finally:
        await context.aclose()
    return {"cpu_us": cpu,
            "ratio": statistics.median(o / b for o, b in zip(cpu["ours"], cpu["bare"],
                                                              strict=True))}


def part_postgres(full: bool) -> tuple[list[Row], dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    from tests.support.postgres import PostgresCluster, PostgresNotAvailableError

    try:
        cluster = PostgresCluster()
    except PostgresNotAvailableError as exc:
        return [Row("probes", "CPU per call, PostgresProbe.run()", float("nan"), "us",
                    "bare asyncpg connect + SELECT 1", float("nan"),
                    note=f"unknown: {exc}")], {"skipped": str(exc)}
    with cluster:
        data = asyncio.run(_pg_rounds(cluster, 7 if full else 5, 40 if full else 15))
    return [Row("probes", "CPU per call, PostgresProbe.run()",
                statistics.median(data["cpu_us"]["ours"]), "us",
                "bare asyncpg connect + SELECT 1 + close", data["ratio"],
                note="ours also runs an OS getaddrinfo only for host names (127.0.0.1 here)")], data


# --- the console's first window -------------------------------------------------------------
_CONSOLE_CHILD = textwrap.dedent("""
    import time
    t0 = time.perf_counter()
    import asyncio, json, sys
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication
    import qasync
    from core.config import load_config
    from core.runtime import NetmonCore
    from netmon_gui.windows.main_window import MainWindow
    t_imports = time.perf_counter()
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)  # as netmon_gui.app does: the runner decides
    config = load_config(sys.argv[1])
    painted = asyncio.Event()
    paints = []

    class FirstPaint(QObject):
        # the time is taken here: the coroutine below wakes only after what the paint
        # started (the graphs' build) has run
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint and not painted.is_set():
                paints.append(time.perf_counter())
                painted.set()
            return False

    async def first_window():
        core = NetmonCore(config)
        await core.start()
        window = MainWindow(core)
        spy = FirstPaint()
        window.installEventFilter(spy)
        window.show()
        await asyncio.wait_for(painted.wait(), 30)
        t_paint = paints[0]
        await window.aclose()
        window.close()
        await core.stop()
        return t_paint

    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        t_paint = runner.run(first_window())
    print(json.dumps({"imports_s": t_imports - t0, "first_paint_s": t_paint - t0}))
""")


def part_console(full: bool) -> tuple[list[Row], dict[str, Any]]:
    runs = 5 if full else 3
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "netmon.toml"
        config.write_text("[history]\nenabled = false\n", encoding="utf-8")
        walls, inner = [], []
        for _ in range(runs):  # the first run is the coldest; min is "warm"
            t0 = time.perf_counter()
            proc = subprocess.run([PY, "-c", _CONSOLE_CHILD, str(config)], cwd=ROOT,
                                  env=child_env(), capture_output=True, text=True, timeout=120,
                                  check=False)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                raise RuntimeError(f"console child failed: {proc.stderr.strip()[-500:]}")
            inner.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            walls.append(wall)
    bare = _min_wall([PY, "-c", "pass"], runs)
    warm = min(i["first_paint_s"] for i in inner)
    imports = min(i["imports_s"] for i in inner)
    rows = [
        Row("console", "first window: imports + core start + first paint (warm, min)",
            warm * 1000, "ms", "aim 1 s (plus interpreter start)", warm / 1.0, 1.0,
            note=f"of which imports {imports * 1000:.0f} ms; python -c pass {bare:.0f} ms"),
    ]
    refresh = _run_json("bench_refresh.py", ["--cycles", "120" if full else "60"], 900)
    cycle = refresh["full cycle"]["cpu_ms"]
    steps = ", ".join(f"{k} {refresh[k]['cpu_ms']:.1f}"
                      for k in ("results", "refresh", "plot redraw", "paint"))
    rows += [
        Row("console", "refresh cycle, 50 targets x 720 results (CPU, median)", cycle, "ms",
            "aim 16 ms", cycle / 16.0, 1.0, note=steps),
        Row("console", "refresh with no new result (CPU, median)",
            refresh["steady"]["cpu_ms"], "ms", "aim 16 ms", refresh["steady"]["cpu_ms"] / 16.0),
    ]
    return rows, {"runs": inner, "process_walls_s": walls, "python_pass_ms": bare,
                  "refresh": refresh}


# --- CLI start-up ---------------------------------------------------------------------------
def _min_wall(cmd: list[str], runs: int) -> float:
    """The shortest of ``runs`` wall times of ``cmd``. Waited for without a timeout: with
    one, Popen.wait polls with sleeps of up to 50 ms, which rounded every start-up time
    up to the next poll (65 / 165 ms); a timer kills a command that hangs instead."""
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        watchdog = threading.Timer(60, proc.kill)
        watchdog.start()
        code = proc.wait()
        wall = time.perf_counter() - t0
        watchdog.cancel()
        if code != 0:
            raise subprocess.CalledProcessError(code, cmd)
        best = min(best, wall)
    return best * 1000


def part_startup(full: bool) -> tuple[list[Row], dict[str, Any]]:
    runs = 15 if full else 7
    walls: dict[str, list[float]] = {}
    commands = {"python -c pass": [PY, "-c", "pass"],
                "netmon --version": [PY, "-m", "core", "--version"],
                "netmon --help": [PY, "-m", "core", "--help"],
                "import core": [PY, "-c", "import core"]}
    for _ in range(runs):  # interleaved, so a burst of load hits every command alike
        for name, cmd in commands.items():
            walls.setdefault(name, []).append(_min_wall(cmd, 1))
    best = {name: min(w) for name, w in walls.items()}
    rows = []
    for name in ("netmon --version", "netmon --help", "import core"):
        rows.append(Row("startup", f"{name} (min of {runs})", best[name], "ms",
                        "aim 150 ms", best[name] / 150.0, 1.0 if name != "import core" else None,
                        note=f"python -c pass {best['python -c pass']:.0f} ms; "
                             f"x python -c pass {best[name] / best['python -c pass']:.2f}"))
    return rows, {"walls_ms": walls, "min_ms": best}


PARTS: dict[str, Callable[[bool], tuple[list[Row], dict[str, Any]]]] = {
    "breaker": part_breaker, "monitor": part_monitor, "postgres": part_postgres,
    "console": part_console, "startup": part_startup,
}


def render(rows: list[Row]) -> str:
    head = (f"{'part':<8} {'measure':<58} {'value':>10} {'ratio':>8} {'aim':>6} {'':>4}  "
            "baseline / note")
    out = [head, "-" * len(head)]
    for r in rows:
        value = "n/a" if r.value != r.value else f"{r.value:,.1f} {r.unit}"
        ratio = "unknown" if r.ratio != r.ratio else f"{r.ratio:.2f}x"
        aim = "" if r.aim is None else f"<={r.aim:g}x"
        note = r.baseline + (f"; {r.note}" if r.note else "")
        out.append(f"{r.part:<8} {r.measure[:58]:<58} {value:>10} {ratio:>8} {aim:>6} "
                   f"{r.verdict:>4}  {note}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help="full runs: the 100/300/500/1000/2000 ladder, more rounds")
    parser.add_argument("--json", metavar="PATH", default="bench_all.json",
                        help="where to write every figure (default: bench_all.json)")
    parser.add_argument("--only", metavar="PART,...", help=f"some of: {', '.join(PARTS)}")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(PARTS)
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)}")
    started = time.perf_counter()
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    load_before = os.getloadavg()
    for name in names:
        print(f"== {name} ...", file=sys.stderr, flush=True)
        try:
            part_rows, part_raw = PARTS[name](args.full)
        except Exception as exc:  # a part that fails is reported, the others still run
            part_rows = [Row(name, "(part failed)", float("nan"), "", str(exc), float("nan"))]
            part_raw = {"error": f"{type(exc).__name__}: {exc}"}
        rows += part_rows
        raw[name] = part_raw
    load_after = os.getloadavg()
    machine = (f"Python {platform.python_version()} ({platform.python_implementation()}), "
               f"{platform.platform()}, {os.cpu_count()} CPUs, load average "
               f"{load_before[0]:.1f} before / {load_after[0]:.1f} after")
    print(f"\nnetmon benchmarks ({'full' if args.full else 'default'} run, "
          f"{time.perf_counter() - started:.0f} s) - {machine}")
    print(render(rows))
    Path(args.json).write_text(json.dumps({
        "machine": machine, "python": platform.python_version(), "platform": platform.platform(),
        "cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": load_after,
        "full": args.full, "rows": [{**asdict(r), "verdict": r.verdict} for r in rows],
        "parts": raw,
    }, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
