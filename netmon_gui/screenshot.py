"""``--screenshot``: grab the real window (a chosen tab) into a PNG."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtWidgets import QMainWindow, QTabWidget

__all__ = ["capture", "tab_index", "tab_names"]

SETTLE_S = 0.3  # coalesced redraws (200 ms) after a tab switch or refresh


def tab_names(tabs: QTabWidget) -> list[str]:
    """Each tab's name as ``--tab`` takes it: the first word of its title, lower case."""
    return [(tabs.tabText(i).split() or [""])[0].lower() for i in range(tabs.count())]


def tab_index(tabs: QTabWidget, name: str) -> int:
    """The index of the tab called ``name`` (case-insensitive), or -1."""
    names = tab_names(tabs)
    wanted = name.strip().lower()
    return names.index(wanted) if wanted in names else -1


async def capture(window: QMainWindow, tabs: QTabWidget, path: Path,
                  tab: str | None = None) -> None:
    """Show tab ``tab`` (if given), let the window redraw, and save it as a PNG at ``path``.

    Raises ValueError for an unknown tab and OSError when the file cannot be written.
    """
    if tab:
        index = tab_index(tabs, tab)
        if index < 0:
            raise ValueError(f"no tab {tab!r}; tabs: {', '.join(tab_names(tabs))}")
        tabs.setCurrentIndex(index)
    refresh = getattr(window, "refresh", None)
    if callable(refresh):
        refresh()
    await asyncio.sleep(SETTLE_S)
    if callable(refresh):  # results that came while settling are in the table already
        refresh()  # (each at once); the banner and panels would wait for their refresh
    await asyncio.sleep(0)  # let the posted relayouts run before the grab
    path.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
