"""The netmon command as a real subprocess: exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import socket
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
    assert out.returncode == 0 and out.stdout.startswith(f"OK: {target}: ")


def _listening_port() -> tuple[socket.socket, int]:
    """A loopback TCP port that accepts connections (the kernel completes the handshake)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, sock.getsockname()[1]


def _tcp_config(tmp_path: Path, name: str, port: int) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'[[targets]]\nname = "{name}"\nkind = "tcp"\nhost = "127.0.0.1"\n'
                    f"port = {port}\n", encoding="utf-8")
    return path


def test_config_option_goes_before_or_after_the_command(tmp_path: Path) -> None:
    sock, port = _listening_port()
    with sock:
        path = _tcp_config(tmp_path, "loop", port)
        for args in (["--config", str(path), "check", "--json"],
                     ["check", "--config", str(path), "--json"],
                     ["check", "--json", f"--config={path}"]):
            out = netmon(*args)
            assert out.returncode == 0, (args, out.stderr)
            assert [t["name"] for t in json.loads(out.stdout)["targets"]] == ["loop"]
    out = netmon("config", "validate", "--config", str(path))
    assert out.returncode == 0 and out.stdout.startswith(f"OK: {path}: 1 target(s)")
    # nested subcommands take it too: the export reads the history file this config names
    # (a reader never creates one, so its absence is one line and exit 3)
    history = tmp_path / "h.sqlite3"
    path.write_text(f"[history]\npath = '{history}'\n", encoding="utf-8")
    out = netmon("history", "export", "--config", str(path), "--format", "json")
    assert out.returncode == 3
    assert out.stderr == f"netmon: error: no history file at {history}\n"
    assert not history.exists()


def test_the_later_config_option_wins(tmp_path: Path) -> None:
    first = tmp_path / "first.toml"
    first.write_text("[monitor]\ninterval_s = 5\n", encoding="utf-8")
    second = tmp_path / "second.toml"
    second.write_text("[monitor]\ninterval_s = 6\n", encoding="utf-8")
    out = netmon("--config", str(first), "config", "validate", "--config", str(second))
    assert out.returncode == 0 and out.stdout.startswith(f"OK: {second}:")
    # the overridden one is not even read: a missing first file is no error
    out = netmon("--config", str(tmp_path / "gone.toml"), "config", "path",
                 "--config", str(second))
    assert out.returncode == 0 and out.stdout.strip() == str(second)
    out = netmon("--config", str(tmp_path / "gone.toml"), "config", "validate",
                 "--config", str(second))
    assert out.returncode == 0 and out.stdout.startswith(f"OK: {second}:")


def test_config_file_is_read_once_per_command(tmp_path: Path) -> None:
    path = tmp_path / "netmon.toml"
    path.write_text("[monitor]\ninterval_s = 5\n", encoding="utf-8")
    script = (
        "import sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda event, args: opened.append(1)\n"
        f"    if event == 'open' and str(args[0]) == {str(path)!r} else None)\n"
        "from core.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('opened', len(opened), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    for args in (["--config", str(path), "config", "validate"],
                 ["config", "validate", "--config", str(path)]):
        out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "opened 1" in out.stderr.splitlines()


def test_config_init_creates_the_file_it_is_asked_for(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "netmon.toml"
    out = netmon("--config", str(target), "config", "init")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"wrote {target}"
    written = target.read_text(encoding="utf-8")
    target.write_text(written + "# mine\n", encoding="utf-8")
    out = netmon("config", "init", "--config", str(target))
    assert out.returncode == 3
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(target) in lines[0] and "--force" in lines[0]
    assert target.read_text(encoding="utf-8").endswith("# mine\n")  # nothing lost
    out = netmon("config", "init", "--force", "--config", str(target))
    assert out.returncode == 0 and target.read_text(encoding="utf-8") == written
    out = netmon("--config", str(tmp_path), "config", "init", "--force")
    assert out.returncode == 3 and "folder" in out.stderr and "Traceback" not in out.stderr


def test_config_init_without_a_path_writes_the_per_user_file() -> None:
    from core.config import config_path

    where = config_path()  # conftest points it at this test's temp home
    assert not where.exists()
    out = netmon("config", "init")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"wrote {where}" and where.exists()



def test_the_starter_file_works_as_written(tmp_path: Path) -> None:
    from core.config import default_config_text, load_config, parse_config

    path = tmp_path / "netmon.toml"
    assert netmon("--config", str(path), "config", "init").returncode == 0
    assert path.read_text(encoding="utf-8") == default_config_text()
    out = netmon("--config", str(path), "config", "validate")
    assert out.returncode == 0, out.stderr
    config = load_config(path)
    assert out.stdout.startswith(f"OK: {path}: {len(config.targets)} target(s)")
    assert config.targets and all(t.enabled for t in config.targets)
    assert config.targets == parse_config(default_config_text()).targets
    # every commented example in it is valid once uncommented, and shows each target kind
    text = default_config_text()
    head, examples = text.split("# --- examples", 1)
    uncommented = "\n".join(line.removeprefix("# ") for line in examples.splitlines()[1:])
    kinds = {t.kind for t in parse_config(head + uncommented).targets}
    assert kinds == {"dns", "tcp", "http", "postgres", "supabase", "icmp", "gateway"}
