"""``netmon --self-test`` run as a user runs it: a subprocess, loopback only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

CORE_CHECKS = ["imports", "resources", "folders", "keyring", "dns", "http", "breaker",
               "retry", "history", "jwt"]
LINE = re.compile(r"^(PASS|WARN|FAIL)  (\S+) +.+ \(\d+ ms\)$")
MEMORY_KEYRING = "core.testing.MemoryKeyring"  # never the developer's real keyring


def self_test(*, keyring_backend: str = MEMORY_KEYRING,
              **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHON_KEYRING_BACKEND": keyring_backend, **env}
    return subprocess.run([sys.executable, "-m", "core", "--self-test"], env=environ,
                          capture_output=True, text=True, timeout=45, check=False)


def parse(stdout: str) -> tuple[dict[str, tuple[str, str]], str]:
    lines = stdout.splitlines()
    checks = {}
    for line in lines[:-1]:
        if line.startswith("      log: "):
            continue
        match = LINE.match(line)
        assert match, f"not a check line: {line!r}"
        checks[match[2]] = (match[1], line)
    return checks, lines[-1]


def test_all_checks_pass_one_line_each_and_nothing_on_stderr() -> None:
    done = self_test()
    assert done.stderr == ""
    assert done.returncode == 0, done.stdout
    checks, summary = parse(done.stdout)
    assert list(checks) == CORE_CHECKS
    assert {status for status, _ in checks.values()} == {"PASS"}
    assert summary == f"self-test: {len(CORE_CHECKS)} passed, 0 warnings, 0 failed"
    assert "MemoryKeyring stores secrets" in checks["keyring"][1]
    assert "192.0.2.53 from 127.0.0.1:" in checks["dns"][1]
    assert "closed -> open -> rejected -> half_open -> closed" in checks["breaker"][1]


def test_a_keyring_that_cannot_store_is_a_warning_not_a_failure() -> None:
    done = self_test(keyring_backend="keyring.backends.fail.Keyring")
    assert done.returncode == 0, done.stdout
    assert done.stderr == ""
    checks, summary = parse(done.stdout)
    status, line = checks["keyring"]
    assert status == "WARN"
    assert "keyring.backends.fail.Keyring cannot store secrets" in line
    assert summary.endswith("1 warnings, 0 failed")


def test_a_config_folder_that_cannot_be_created_fails_with_exit_1(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the config folder should be")
    done = self_test(XDG_CONFIG_HOME=str(blocker), NETMON_CONFIG="")
    assert done.returncode == 1
    assert done.stderr == ""
    checks, summary = parse(done.stdout)
    status, line = checks["folders"]
    assert status == "FAIL"
    assert "config folder" in line and "not-a-folder" in line
    assert [n for n, (s, _) in checks.items() if s == "FAIL"] == ["folders"]
    assert summary.endswith("1 failed")


def test_output_stays_ascii_on_a_cp1252_console(tmp_path: Path) -> None:
    home = tmp_path / "Jos\u00e9 \u2713 \U0001f600"
    done = self_test(XDG_CONFIG_HOME=str(home), PYTHONIOENCODING="cp1252:strict")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    done.stdout.encode("ascii")  # raises if anything is not ASCII
    assert "Jos\\xe9 \\u2713 \\U0001f600" in done.stdout


def test_the_cli_imports_the_self_test_only_when_asked() -> None:
    code = "import sys, core.cli; print('core.selftest' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30, check=True)
    assert done.stdout.strip() == "False"
