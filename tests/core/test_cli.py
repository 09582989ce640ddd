"""The netmon command as a real subprocess: exit codes and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def netmon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core", *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_version_and_help() -> None:
    out = netmon("--version")
    assert out.returncode == 0 and out.stdout.startswith("netmon ")
    out = netmon("--help")
    assert out.returncode == 0 and "Exit codes: 0 OK" in out.stdout


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("x = [\n", "not valid TOML"),
        ("[monitor]\ninterval_s = \"fast\"\n", "monitor.interval_s: must be a number"),
        ("[[targets]]\nname=\"db\"\nkind=\"postgres\"\ndsn=\"postgresql://u:pw123@h/d\"\n",
         "never stored in the config file"),
    ],
)
def test_bad_config_exits_3_with_one_line(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    out = netmon("--config", str(path), "config", "validate")
    assert out.returncode == 3
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"netmon: error: {path}") and words in lines[0]
    assert "Traceback" not in out.stderr and "pw123" not in out.stderr


def test_missing_config_and_bad_usage_exit_3(tmp_path: Path) -> None:
    out = netmon("--config", str(tmp_path / "none.toml"), "config", "validate")
    assert out.returncode == 3 and "file not found" in out.stderr
    out = netmon("config", "frobnicate")
    assert out.returncode == 3 and "invalid choice" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1  # one readable line, no usage dump
    assert "Traceback" not in out.stderr


def test_config_init_path_and_validate(tmp_path: Path) -> None:
    target = tmp_path / "cfg" / "netmon.toml"
    env = {"NETMON_CONFIG": str(target)}
    assert netmon("config", "path", env=env).stdout.strip() == str(target)
    out = netmon("config", "init", env=env)
    assert out.returncode == 0 and target.exists()
    out = netmon("config", "init", env=env)
    assert out.returncode == 3 and "--force" in out.stderr
    out = netmon("config", "validate", env=env)
    assert out.returncode == 0 and "0 target(s)" in out.stdout
