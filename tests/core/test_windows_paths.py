"""Where netmon keeps its files on Windows, checked on any OS through platformdirs' Windows
rules: config roams (``%APPDATA%``), history and logs stay on the machine (``%LOCALAPPDATA%``)."""

from __future__ import annotations

from pathlib import PureWindowsPath

import platformdirs
import platformdirs.windows
import pytest

from core.config import config_path
from core.history.rows import default_history_path
from core.log import log_dir

ROAMING = "C:\\Users\\Jos\u00e9\\AppData\\Roaming"
LOCAL = "C:\\Users\\Jos\u00e9\\AppData\\Local"


@pytest.fixture
def windows_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    """platformdirs as on Windows, its known folders given by its override variables."""
    monkeypatch.setattr(platformdirs, "PlatformDirs", platformdirs.windows.Windows)
    monkeypatch.setenv("WIN_PD_OVERRIDE_APPDATA", ROAMING)
    monkeypatch.setenv("WIN_PD_OVERRIDE_LOCAL_APPDATA", LOCAL)


def win(path: object) -> PureWindowsPath:
    return PureWindowsPath(str(path))


@pytest.mark.usefixtures("windows_dirs")
def test_config_is_under_appdata_roaming() -> None:
    assert win(config_path()) == PureWindowsPath(ROAMING, "netmon", "netmon.toml")


@pytest.mark.usefixtures("windows_dirs")
def test_history_is_under_localappdata() -> None:
    assert win(default_history_path()) == PureWindowsPath(LOCAL, "netmon", "history.sqlite3")


@pytest.mark.usefixtures("windows_dirs")
def test_logs_are_under_localappdata() -> None:
    assert win(log_dir()) == PureWindowsPath(LOCAL, "netmon", "Logs")
