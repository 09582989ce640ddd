"""Smoke-test a built bundle: run its executables as a user would, offscreen, loopback only.

    python packaging/smoke.py [dist/netmon] [--timings N]

Runs, from the bundle: ``netmon --version``, ``netmon --self-test``, ``netmon-gui
--self-test``, ``netmon diagnose localhost`` and ``netmon-gui --demo --screenshot PATH``
(when the build has ``--demo``; otherwise that step says it was skipped). Any exit code
other than the expected one, or anything on stderr that is not a known harmless Qt line,
fails the run (exit 1). Folders (config, data, logs) are a fresh temporary home.
``--timings N`` also prints the medians of N runs of ``netmon --version`` and of the console
from start to its first window closed again (``--quit-after 1``, offscreen, no targets).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

#: stderr lines that are not failures: Qt's offscreen platform warns about window hints, and
#: the console logs its INFO records to stderr (``--demo`` logs every state change).
HARMLESS_STDERR = (re.compile(r"propagateSizeHints"),
                   re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO +netmon[.\w]*: "))
EXE = ".exe" if sys.platform == "win32" else ""
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def unexpected_stderr(text: str) -> list[str]:
    """The lines of ``text`` that no harmless pattern explains."""
    return [line for line in text.splitlines()
            if line.strip() and not any(p.search(line) for p in HARMLESS_STDERR)]


class Smoke:
    def __init__(self, bundle: Path, home: Path) -> None:
        self.bundle = bundle
        self.env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME",
                    "APPDATA", "LOCALAPPDATA"):
            self.env[var] = str(home / var.lower())
        self.env.pop("NETMON_CONFIG", None)
        self.failures: list[str] = []

    def exe(self, name: str) -> str:
        return str(self.bundle / f"{name}{EXE}")

    def run(self, name: str, *args: str, ok_codes: tuple[int, ...] = (0,),
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [self.exe(name), *args]
        started = time.perf_counter()
        done = subprocess.run(command, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        took = time.perf_counter() - started
        shown = " ".join([name, *args])
        problems = []
        if done.returncode not in ok_codes:
            problems.append(f"exit {done.returncode} (expected {ok_codes})")
        stray = unexpected_stderr(done.stderr)
        if stray:
            problems.append(f"stderr: {stray[:5]}")
        status = "FAIL" if problems else "ok"
        print(f"{status:<4}  {shown}  (exit {done.returncode}, {took:.1f} s)", flush=True)
        if problems:
            self.failures.append(f"{shown}: {'; '.join(problems)}")
            print("      " + "\n      ".join((done.stdout + done.stderr).splitlines()[-20:]))
        return done

    def check(self, condition: bool, what: str) -> None:
        if not condition:
            print(f"FAIL  {what}", flush=True)
            self.failures.append(what)


def smoke(bundle: Path, home: Path) -> list[str]:
    """Run every step; the failures (empty when the bundle works)."""
    s = Smoke(bundle, home)
    version = s.run("netmon", "--version")
    s.check(version.stdout.startswith("netmon "), f"--version printed {version.stdout!r}")
    s.run("netmon", "--self-test")
    s.run("netmon-gui", "--self-test")
    # 0 OK, 1 WARNING, 2 CRITICAL are all answers; 3 would be bad input or an internal error.
    s.run("netmon", "diagnose", "localhost", ok_codes=(0, 1, 2))
    gui_help = s.run("netmon-gui", "--help")
    if "--demo" in gui_help.stdout and "--screenshot" in gui_help.stdout:
        png = home / "demo.png"
        s.run("netmon-gui", "--demo", "--screenshot", str(png))
        s.check(png.is_file() and png.read_bytes()[:8] == PNG_MAGIC
                and png.stat().st_size > 10_000, f"--screenshot wrote no PNG at {png}")
    else:
        print("skip  netmon-gui --demo --screenshot  (this build has no --demo)", flush=True)
    return s.failures


def timings(bundle: Path, home: Path, runs: int) -> None:
    """Medians of ``runs`` cold-ish starts (the first run also warms the OS file cache)."""
    s = Smoke(bundle, home)
    config = home / "empty.toml"
    config.write_text("# no targets: the console opens without probing anything\n")

    def median(*command: str) -> float:
        times = []
        for _ in range(runs):
            # waited for without a timeout (with one, Popen.wait polls with sleeps of up to
            # 50 ms, which rounds every time up to the next poll); a timer kills a hang
            started = time.perf_counter()
            proc = subprocess.Popen(list(command), env=s.env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            watchdog = threading.Timer(120, proc.kill)
            watchdog.start()
            code = proc.wait()
            times.append(time.perf_counter() - started)
            watchdog.cancel()
            if code != 0:
                raise subprocess.CalledProcessError(code, list(command))
        return statistics.median(times)

    version = median(s.exe("netmon"), "--version")
    window = median(s.exe("netmon-gui"), "--config", str(config), "--quit-after", "1")
    print(f"timing: netmon --version median of {runs}: {version * 1000:.0f} ms")
    print(f"timing: netmon-gui start to first window closed (--quit-after 1, offscreen) "
          f"median of {runs}: {window * 1000:.0f} ms", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", nargs="?", default="dist/netmon", type=Path)
    parser.add_argument("--timings", type=int, metavar="N", default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="netmon-smoke-") as folder:
        failures = smoke(args.bundle, Path(folder))
        if args.timings and not failures:
            timings(args.bundle, Path(folder), args.timings)
    if failures:
        print(f"smoke: {len(failures)} failed: " + " | ".join(failures), file=sys.stderr)
        return 1
    print("smoke: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
