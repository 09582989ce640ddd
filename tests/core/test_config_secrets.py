"""A secret planted anywhere in a config file never reaches what the CLI prints.

Each case puts one unique secret in one place a secret could be pasted (every DSN form, URL
userinfo and query strings, wrong-type fields), then runs ``netmon config validate`` and
``netmon check --json`` and searches stdout and stderr. Accepted configs point at loopback
ports nobody listens on, so ``check`` really probes and fails. Most cases call the CLI's
``main()`` in-process (the code path of ``python -m core``); a few run the real subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from tests.support.netutil import free_tcp_port as free_port

SECRET = "PLANTED-7c1e9a42f0"


def _pg(dsn: str) -> str:
    return f'[[targets]]\nname = "db"\nkind = "postgres"\ndsn = """{dsn}"""\n'


def _url(kind: str, url: str) -> str:
    return f'[[targets]]\nname = "w"\nkind = "{kind}"\nurl = "{url}"\n'


REFUSED = {
    "dsn userinfo": _pg(f"postgresql://app:{SECRET}@127.0.0.1:{{port}}/app"),
    "dsn userinfo with #": _pg(f"postgresql://app:{SECRET}#x@127.0.0.1/app"),
    "dsn userinfo with /": _pg(f"postgresql://app:{SECRET}/x@127.0.0.1/app"),
    "dsn userinfo with ?": _pg(f"postgresql://app:{SECRET}?x@127.0.0.1/app"),
    "dsn userinfo with @": _pg(f"postgresql://app:a@{SECRET}@127.0.0.1/app"),
    "dsn multi-host": _pg(f"postgres://app:{SECRET}@127.0.0.1:{{port}},127.0.0.2/app"),
    "dsn percent-escaped": _pg(f"postgresql://app:%41{SECRET}@127.0.0.1/app"),
    "dsn query": _pg(f"postgresql://app@127.0.0.1/app?password={SECRET}"),
    "dsn escaped query key": _pg(f"postgresql://app@127.0.0.1/app?pass%77ord={SECRET}"),
    "dsn keyword": _pg(f"host=127.0.0.1 user=app password={SECRET}"),
    "dsn keyword quoted": _pg(f"host=127.0.0.1 password = '{SECRET} x'"),
    "dsn keyword unterminated": _pg(f"host=127.0.0.1 password='{SECRET}"),
    "dsn keyword no =": _pg(f"host=127.0.0.1 {SECRET}"),
    "dsn not a dsn": _pg(SECRET),
    "dsn [": _pg(f"postgresql://app:{SECRET}@[::1/app"),
    "dsn bad port": _pg(f"postgresql://app@127.0.0.1:{SECRET}/app"),
    "url userinfo": _url("http", f"http://svc:{SECRET}@127.0.0.1/"),
    "url userinfo with #": _url("http", f"http://svc:{SECRET}#x@127.0.0.1/"),
    "url user only": _url("http", f"http://{SECRET}@127.0.0.1/"),
    "url apikey": _url("http", f"http://127.0.0.1/?apikey={SECRET}"),
    "url token": _url("supabase", f"http://127.0.0.1/?x=1&token={SECRET}"),
    "url fragment": _url("supabase", f"http://127.0.0.1/#access_token={SECRET}"),
    "url not a url": _url("http", SECRET),
    "supabase_url": f'[auth]\nsupabase_url = "https://svc:{SECRET}@127.0.0.1"\n',
    "supabase_url query": f'[auth]\nsupabase_url = "https://127.0.0.1/?apikey={SECRET}"\n',
    "remote url": f'[[remotes]]\nname = "r"\nurl = "http://127.0.0.1/?key={SECRET}"\n',
    "literal password": f'[[targets]]\nname = "t"\nkind = "tcp"\nhost = "h"\nport = 1\n'
                        f'password = "{SECRET}"\n',
    "literal quoted key": f'[auth]\n"apikey" = "{SECRET}"\n',
    "port as string": f'[[targets]]\nname = "t"\nkind = "tcp"\nhost = "h"\nport = "{SECRET}"\n',
    "interval as string": f'[monitor]\ninterval_s = "{SECRET}"\n',
    "bool as string": f'[logging]\nfile = "{SECRET}"\n',
    "choice": f'[logging]\nlevel = "{SECRET}"\n',
    "list item": f'[[targets]]\nname = "d"\nkind = "dns"\nhost = "h"\n'
                 f'nameservers = ["{SECRET}"]\n',
    "record type": f'[[targets]]\nname = "d"\nkind = "dns"\nhost = "h"\n'
                   f'record_types = ["{SECRET}"]\n',
    "dsn as list": f'[[targets]]\nname = "db"\nkind = "postgres"\ndsn = ["{SECRET}"]\n',
    "database target": f'[database]\ntarget = "{SECRET}"\n',
}


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_configs_never_print_the_secret(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "netmon.toml"
    path.write_text(REFUSED[case].replace("{port}", str(free_port())), encoding="utf-8")
    for argv in (("config", "validate"), ("check", "--json")):
        code, printed = _cli(capsys, "--config", str(path), *argv)
        assert code == 3, printed
        assert SECRET not in printed
        assert printed.startswith(f"netmon: error: {path}: ") and printed.count("\n") == 1


def _accepted(port: int) -> str:
    return f"""
[auth]
supabase_url = "http://127.0.0.1:{port}"
apikey_env = "NETMON_TEST_APIKEY"

[[targets]]
name = "db"
kind = "postgres"
dsn = "postgresql://app@127.0.0.1:{port}/app?sslmode=disable"
password_env = "NETMON_TEST_PASSWORD"
timeout_s = 1

[[targets]]
name = "kw"
kind = "postgres"
dsn = "host=127.0.0.1 port={port} user=app dbname='my db' sslmode=disable"
password_env = "NETMON_TEST_PASSWORD"
timeout_s = 1

[[targets]]
name = "sb"
kind = "supabase"
url = "http://127.0.0.1:{port}/"
apikey_env = "NETMON_TEST_APIKEY"
timeout_s = 1

[[targets]]
name = "web"
kind = "http"
url = "http://127.0.0.1:{port}/health?user=me"
timeout_s = 1
"""


def test_accepted_config_with_secrets_in_the_environment_never_prints_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NETMON_TEST_PASSWORD", SECRET)
    monkeypatch.setenv("NETMON_TEST_APIKEY", SECRET + "-key")
    path = tmp_path / "netmon.toml"
    path.write_text(_accepted(free_port()), encoding="utf-8")
    code, printed = _cli(capsys, "--config", str(path), "config", "validate")
    assert code == 0 and "4 target(s)" in printed
    code, printed = _cli(capsys, "--config", str(path), "check", "--json")
    assert code == 2 and '"status": "down"' in printed  # really probed: nothing listens
    assert SECRET not in printed


def _subprocess(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "core", *argv], capture_output=True,
                          text=True, timeout=30, env=full, check=False)


def test_the_real_cli_never_prints_the_secret(tmp_path: Path) -> None:
    refused = tmp_path / "refused.toml"
    refused.write_text(REFUSED["dsn userinfo with #"], encoding="utf-8")
    out = _subprocess("--config", str(refused), "config", "validate")
    assert out.returncode == 3 and "password_keyring" in out.stderr
    assert SECRET not in out.stdout + out.stderr
    accepted = tmp_path / "accepted.toml"
    accepted.write_text(_accepted(free_port()), encoding="utf-8")
    out = _subprocess("--config", str(accepted), "check", "--json",
                      env={"NETMON_TEST_PASSWORD": SECRET, "NETMON_TEST_APIKEY": SECRET})
    assert out.returncode == 2, out.stderr
    assert SECRET not in out.stdout + out.stderr
