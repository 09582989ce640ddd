"""BadgeDelegate: paints a cell as a rounded colored pill from its Background/Foreground
roles (status and breaker-state columns)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

__all__ = ["BadgeDelegate"]


class BadgeDelegate(QStyledItemDelegate):
    """A pill with the cell's text, centered, in the model's badge colors (each distinct
    pill is drawn once into a pixmap, then copied)."""

    CACHE_SIZE = 256

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pills: dict[tuple[object, ...], QPixmap] = {}

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        background = index.data(Qt.ItemDataRole.BackgroundRole)
        if not isinstance(background, QColor | QBrush):
            super().paint(painter, option, index)
            return
        # Selection highlight first, so the pill stays readable on a selected row.
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        opt.backgroundBrush = QBrush()
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        foreground = index.data(Qt.ItemDataRole.ForegroundRole)
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        fill = QBrush(background)
        ink = foreground if isinstance(foreground, QColor) else QColor("#ffffff")
        rect = option.rect
        ratio = painter.device().devicePixelRatioF()
        key = (text, fill.color().rgba(), int(fill.style().value), ink.rgba(), rect.width(),
               rect.height(), option.font.key(), ratio)
        pill = self._pills.get(key)
        if pill is None:
            if len(self._pills) >= self.CACHE_SIZE:
                self._pills.clear()
            pill = self._pills[key] = _draw_pill(text, fill, ink, option.font, rect.width(),
                                                 rect.height(), ratio)
        painter.drawPixmap(rect.topLeft(), pill)

    def sizeHint(self, option: QStyleOptionViewItem,  # noqa: N802 - Qt override
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width() + 24, 96), max(hint.height(), 26))


def _draw_pill(text: str, fill: QBrush, ink: QColor, font: QFont, width: int, height: int,
               ratio: float) -> QPixmap:
    """The pill of a ``width`` x ``height`` cell, centered, on a transparent pixmap."""
    pixmap = QPixmap(round(width * ratio), round(height * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    bold = QFont(font)
    bold.setBold(True)
    painter.setFont(bold)
    metrics = painter.fontMetrics()
    rect = QRectF(0, 0, width, height)
    pill_width = min(rect.width() - 8, max(metrics.horizontalAdvance(text) + 20, 64))
    pill_height = min(rect.height() - 6, metrics.height() + 6)
    pill = QRectF(rect.center().x() - pill_width / 2, rect.center().y() - pill_height / 2,
                  pill_width, pill_height)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    painter.drawRoundedRect(pill, pill_height / 2, pill_height / 2)
    painter.setPen(ink)
    painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return pixmap
