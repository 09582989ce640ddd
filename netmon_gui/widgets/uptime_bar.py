"""Uptime bars: each target's last 24 h as a row of small slices in the targets table.

``UptimeFeed`` reads (results, failures) per slice from history on the store's worker
thread (or from the memory ring when no history file is kept) every ``REFRESH_MS`` and
hands them to the model; ``UptimeBarDelegate`` paints them: green all ok, amber some
failures, red all failed, grey no results.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRectF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from core.history import HistoryStore, MemoryHistory

__all__ = ["HOURS", "SEGMENTS", "UptimeBarDelegate", "UptimeFeed", "UptimeRole",
           "uptime_from_memory"]

_log = logging.getLogger("netmon.gui")

HOURS = 24.0
SEGMENTS = 48  # half-hour slices
REFRESH_MS = 60000
UptimeRole = 0x0100 + 20  # Qt.UserRole + 20: list[(results, failures)] per slice

_OK, _PART, _BAD, _NONE = (QColor("#43a047"), QColor("#f9a825"), QColor("#d32f2f"),
                           QColor(128, 128, 128, 60))

Bars = dict[str, list[tuple[int, int]]]


def uptime_from_memory(memory: MemoryHistory, names: list[str], until: datetime,
                       hours: float = HOURS, segments: int = SEGMENTS) -> Bars:
    """The same slices from the in-memory ring (shorter than 24 h, but measured)."""
    since = until - timedelta(hours=hours)
    width = hours * 3600 / segments
    out: Bars = {}
    for name in names:
        bars = [(0, 0)] * segments
        for at, ok, _, _ in memory.points(name, since):
            slot = int((at - since).total_seconds() // width)
            if 0 <= slot < segments:
                n, f = bars[slot]
                bars[slot] = (n + 1, f + (0 if ok else 1))
        out[name] = bars
    return out


class UptimeFeed(QObject):
    """Reads the bars of ``names()`` periodically; ``updated`` carries them."""

    updated = Signal(object)  # Bars

    def __init__(self, history: HistoryStore | None, memory: MemoryHistory,
                 names: Callable[[], list[str]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.memory = memory
        self.names = names
        self._task: asyncio.Task[None] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def refresh(self) -> asyncio.Task[None] | None:
        """Read the bars again (one load at a time; the task is owned here)."""
        if self._task is not None and not self._task.done():
            return self._task
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # built before the loop runs: the timer reads them later
            return None
        self._task = loop.create_task(self._load(), name="gui-uptime")
        return self._task

    async def _load(self) -> None:
        names = self.names()
        try:
            if self.history is not None:
                bars = await self.history.uptime(names, hours=HOURS, segments=SEGMENTS)
            else:
                bars = uptime_from_memory(self.memory, names, datetime.now(UTC))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _log.warning("uptime bars could not be read: %s", exc)
            return
        self.updated.emit(bars)

    async def aclose(self) -> None:
        """Stop refreshing and cancel a load in progress."""
        self._timer.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def stop(self) -> None:
        """Stop the refresh timer."""
        self._timer.stop()


class UptimeBarDelegate(QStyledItemDelegate):
    """Paints the ``UptimeRole`` slices of a cell as a row of small bars (each distinct
    row of bars is drawn once into a pixmap per cell size, then copied)."""

    CACHE_SIZE = 512  # pixmaps kept (several per target when cells change size)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pixmaps: dict[tuple[object, ...], QPixmap] = {}

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        bars = index.data(UptimeRole)
        if not bars:
            super().paint(painter, option, index)
            return
        rect = option.rect.adjusted(3, 5, -3, -5)
        if rect.width() <= 0 or rect.height() <= 0:
            return
        ratio = painter.device().devicePixelRatioF()
        key = (tuple(bars), rect.width(), rect.height(), ratio)
        pixmap = self._pixmaps.get(key)
        if pixmap is None:
            if len(self._pixmaps) >= self.CACHE_SIZE:
                self._pixmaps.clear()
            pixmap = self._pixmaps[key] = _draw_bars(bars, rect.width(), rect.height(), ratio)
        painter.drawPixmap(rect.topLeft(), pixmap)


def _draw_bars(bars: list[tuple[int, int]], width: int, height: int, ratio: float) -> QPixmap:
    pixmap = QPixmap(round(width * ratio), round(height * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    step = width / len(bars)
    colors = [_NONE if not n else _OK if not f else _BAD if f == n else _PART for n, f in bars]
    start = 0
    for i in range(1, len(colors) + 1):  # one rectangle per run of one colour
        if i < len(colors) and colors[i] is colors[start]:
            continue
        painter.fillRect(QRectF(start * step, 0, (i - start) * step, height), colors[start])
        start = i
    painter.end()
    return pixmap
