"""Start-up stays cheap: `import core`, `netmon --version` and `netmon --help` load none of
the heavy libraries; a command loads what it needs when it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import core

# What a command may need, but --version, --help and `import core` must not load (asyncio,
# ssl and logging cost tens of milliseconds of start-up too).
HEAVY = ("httpx", "dns", "asyncpg", "cryptography", "jwt", "fastapi", "uvicorn", "keyring",
         "sqlite3", "tomlkit", "platformdirs", "asyncio", "ssl", "logging")


def _loaded_after(code: str) -> list[str]:
    """Top-level packages from HEAVY that are in sys.modules after running ``code``."""
    loaded = "{m.split('.')[0] for m in sys.modules}"
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted({loaded} & {set(HEAVY)!r})))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_import_core_loads_no_heavy_library() -> None:
    assert _loaded_after("import core") == []


def test_version_and_help_load_no_heavy_library() -> None:
    for argv in (["--version"], ["--help"], ["check", "--help"], ["serve", "--help"]):
        code = ("from core.cli import main\n"
                "try:\n"
                f"    main({argv!r})\n"
                "except SystemExit:\n"
                "    pass")
        assert _loaded_after(code) == [], argv


def test_version_reads_only_its_own_module() -> None:
    """``--version`` used to read package metadata (importlib.metadata: email, zipfile, csv)
    and build the whole parser; now it loads core, core.cli and core.version, no argparse."""
    probe = ("import sys, json\nfrom core.cli import main\nmain(['--version'])\n"
             "print(json.dumps(sorted(m for m in sys.modules if m == 'core'\n"
             "    or m.startswith(('core.', 'argparse', 'importlib.metadata', 'typing')))))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True, env=env)
    assert out.stdout.splitlines()[0].startswith("netmon ")
    assert json.loads(out.stdout.splitlines()[-1]) == ["core", "core.cli", "core.version"]


def test_classify_imports_no_library() -> None:
    code = ("from core.errors import classify\n"
            "assert classify(ConnectionRefusedError(111, 'refused')) == 'connection_refused'\n"
            "assert classify(EOFError()) == 'connection_reset'")
    assert _loaded_after(code) == []


def test_a_command_loads_what_it_needs_when_it_runs() -> None:
    code = ("import contextlib, io\nfrom core.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main({argv!r})\n")
    # the OS resolver fails `.invalid` names locally; no nameserver is asked, so dnspython
    # (and httpx, which it imports) is not needed either
    argv = ["diagnose", "name.invalid", "--no-system-nameservers", "--timeout", "1"]
    loaded = _loaded_after(code.format(argv=argv))
    assert "asyncio" in loaded and "dns" not in loaded and "httpx" not in loaded


def test_a_core_with_a_database_is_built_without_client_libraries() -> None:
    """The console builds its core before its window is painted: the probes' and the
    database layer's libraries (dnspython, httpx, asyncpg, cryptography, PyJWT) load when a
    probe, a pool or a check first needs them, not when the core is built."""
    code = ("from core.config import Config, DatabaseSettings, HistorySettings, Target\n"
            "from core.runtime import NetmonCore\n"
            "core = NetmonCore(Config(targets=[\n"
            "    Target(name='api', kind='tcp', host='127.0.0.1', port=9),\n"
            "    Target(name='db', kind='postgres', dsn='postgresql://u@127.0.0.1:9/x')],\n"
            "    database=DatabaseSettings(target='db'),\n"
            "    history=HistorySettings(enabled=False)))\n"
            "assert core.database is not None\n")
    loaded = set(_loaded_after(code))
    assert not loaded & {"httpx", "dns", "asyncpg", "cryptography", "jwt", "keyring"}, loaded


@pytest.mark.parametrize("name", core.__all__)
def test_every_public_name_resolves_lazily_to_its_module_object(name: str) -> None:
    value = getattr(core, name)
    module = sys.modules[value.__module__] if hasattr(value, "__module__") else None
    assert value is not None
    if module is not None and hasattr(module, name):
        assert getattr(module, name) is value
    assert name in dir(core)


def test_lazy_table_and_all_agree() -> None:
    assert set(core._WHERE) == set(core.__all__)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = core.no_such_name  # type: ignore[attr-defined]
