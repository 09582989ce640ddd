"""GUI tests run their async tests on a qasync loop so Qt timers and slots fire."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
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


@pytest.fixture(autouse=True)
def collect_qt_garbage_on_the_gui_thread() -> Iterator[None]:
    """Collect garbage here, in the GUI thread, before and after each test.

    Python's cyclic collector runs in whichever thread happens to allocate; if Qt objects
    left in cycles by a test are freed by a worker thread (SQLite, getaddrinfo, a test
    server), Qt warns "Timers cannot be stopped from another thread" or worse.
    """
    gc.collect()
    yield
    gc.collect()
