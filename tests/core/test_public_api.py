"""core's public API: everything in __all__ exists, and core never imports Qt."""

from __future__ import annotations

import subprocess
import sys

import core


def test_all_names_exist_and_are_sorted() -> None:
    missing = [name for name in core.__all__ if not hasattr(core, name)]
    assert missing == []
    assert len(set(core.__all__)) == len(core.__all__)


def test_importing_core_loads_no_qt() -> None:
    code = ("import sys, core, core.cli, core.testing; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'qasync', 'pyqtgraph', 'netmon_gui')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"
