"""GUI tests run their async tests on a qasync loop so Qt timers and slots fire."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication


def _qasync_loop() -> qasync.QEventLoop:
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    # As in netmon_gui.app.main: closing a window must not stop the asyncio loop under us.
    app.setQuitOnLastWindowClosed(False)
    return qasync.QEventLoop(app)


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, Any]:
    """Async tests under tests/gui get a qasync loop over the one QApplication."""
    return {"qasync": _qasync_loop}
