"""The console's self-test, its crash reports, and the explanation of a platform plugin
that cannot load (run as subprocesses where the real behaviour is a process exit)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netmon_gui import crash
from netmon_gui.qtplatform import debian_package

QT_CHECKS = ["qt", "window"]


def run_gui(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHON_KEYRING_BACKEND": "core.testing.MemoryKeyring", **env}
    return subprocess.run([sys.executable, "-m", "netmon_gui.app", *args], env=environ,
                          capture_output=True, text=True, timeout=50, check=False)


def test_gui_self_test_runs_core_and_qt_checks_on_qasync_quietly() -> None:
    done = run_gui("--self-test", QT_QPA_PLATFORM="offscreen")
    assert done.stderr == ""
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    names = [line.split()[1] for line in lines[:-1]]
    assert names[-2:] == QT_CHECKS and "dns" in names and "keyring" in names
    assert all(line.startswith("PASS") for line in lines[:-1]), done.stdout
    assert "on QSelectorEventLoop" in next(x for x in lines if x.split()[1] == "dns")
    assert "platform offscreen" in lines[-3]
    assert "main window painted" in lines[-2]
    assert lines[-1] == f"self-test: {len(names)} passed, 0 warnings, 0 failed"


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("ldd") is None,
                    reason="the xcb platform and ldd exist on Linux only")
def test_a_failing_xcb_plugin_is_explained_by_its_missing_libraries() -> None:
    from PySide6.QtCore import QLibraryInfo

    plugin = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath),
                  "platforms", "libqxcb.so")
    ldd = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, check=True)
    missing = sorted({line.split("=>")[0].strip() for line in ldd.stdout.splitlines()
                      if "not found" in line})
    env = {k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}
    env.update(QT_QPA_PLATFORM="xcb", DISPLAY=":97", PYTHON_KEYRING_BACKEND="")
    done = subprocess.run([sys.executable, "-m", "netmon_gui.app", "--self-test"], env=env,
                          capture_output=True, text=True, timeout=50, check=False)
    assert done.returncode != 0
    if missing:  # this machine lacks some of them (the bare-desktop case)
        explanation = next(line for line in done.stderr.splitlines()
                           if line.startswith("netmon-gui: Qt's xcb platform plugin cannot load"))
        for name in missing:
            assert name in explanation
            assert debian_package(name) in explanation
        if not any("xcb-cursor" in name for name in missing):
            assert "xcb-cursor0" not in done.stderr  # Qt's misleading hint is held back
    else:  # all there: the display is what is missing
        assert "every library Qt's xcb platform plugin needs is installed" in done.stderr


@pytest.mark.parametrize(("soname", "package"), [
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libEGL.so.1", "libegl1"),
    ("libdbus-1.so.3", "libdbus-1-3"),
    ("libglib-2.0.so.0", "libglib2.0-0"),
])
def test_debian_package_names(soname: str, package: str) -> None:
    assert debian_package(soname) == package


def _raise_with_secret() -> None:
    raise RuntimeError("connect failed: postgresql://app:hunter2-not-logged@db/x \u2192 \u00e9")


def test_crash_report_is_written_redacted_ascii_and_its_path_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(crash, "log_dir", lambda: tmp_path / "Logs")
    shown: list[str] = []
    try:
        _raise_with_secret()
    except RuntimeError as exc:
        path = crash.report_crash((type(exc), exc, exc.__traceback__), shown.append)
    assert path is not None and path.parent == tmp_path / "Logs"
    assert path.name.startswith("crash-") and path.suffix == ".txt"
    text = path.read_bytes().decode("ascii")  # ASCII only
    assert "RuntimeError: connect failed" in text and "_raise_with_secret" in text
    assert "hunter2-not-logged" not in text
    assert "\\u2192 \\xe9" in text
    assert shown == [f"netmon-gui crashed. A report was written to:\n{path}"]
    assert str(path) in capsys.readouterr().err
