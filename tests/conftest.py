"""Shared test setup: offscreen Qt, an in-memory keyring, and no real user folders.

Qt must see QT_QPA_PLATFORM before it is imported anywhere, so it is set at import time.
Every test gets fresh config/data/log folders under its tmp_path, so nothing reads or
writes the developer's real netmon config.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from core.testing import MemoryKeyring
from tests.support.secrets_watch import WATCHED, LeakCatcher

pytest_plugins = ["tests.support.fixtures"]  # loopback DNS/HTTP/PostgreSQL servers, fault proxy

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.pop("NETMON_CONFIG", None)

_FOLDER_VARS = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME",
                "APPDATA", "LOCALAPPDATA")


@pytest.fixture(autouse=True)
def isolated_folders(tmp_path_factory: pytest.TempPathFactory,
                     monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point platformdirs (XDG on Linux, APPDATA on Windows) at a fresh temp home."""
    home = tmp_path_factory.mktemp("home")
    for var in _FOLDER_VARS:
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.delenv("NETMON_CONFIG", raising=False)
    return home


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Install an in-memory keyring for the test, then restore the previous backend."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def no_secret_in_logs(memory_keyring: MemoryKeyring) -> Iterator[None]:
    """Fail the test if any log record (at any level) contains a secret it used."""
    catcher = LeakCatcher()
    netmon_logger = logging.getLogger("netmon")
    old_level = netmon_logger.level
    netmon_logger.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(catcher)
    try:
        yield
    finally:
        root.removeHandler(catcher)
        netmon_logger.setLevel(old_level)
    secrets = WATCHED | {v for v in memory_keyring.store.values() if len(v) >= 6}
    leaks = catcher.leaks(secrets)
    assert not leaks, f"secrets reached the log: {leaks}"


@pytest.fixture(autouse=True)
def unfrozen_gc() -> Iterator[None]:
    """Undo a ``gc.freeze()`` a started console, service or monitor made in this process
    (a long-running process freezes its start-up objects; a test process must not)."""
    yield
    if gc.get_freeze_count():
        gc.unfreeze()
