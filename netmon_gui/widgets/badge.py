"""BadgeDelegate: paints a cell as a rounded colored pill from its Background/Foreground
roles (status and breaker-state columns)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

__all__ = ["BadgeDelegate"]


class BadgeDelegate(QStyledItemDelegate):
    """A pill with the cell's text, centered, in the model's badge colors."""

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
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(option.font)
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        rect = QRectF(option.rect)
        width = min(rect.width() - 8, max(metrics.horizontalAdvance(text) + 20, 64))
        height = min(rect.height() - 6, metrics.height() + 6)
        pill = QRectF(rect.center().x() - width / 2, rect.center().y() - height / 2,
                      width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(background))
        painter.drawRoundedRect(pill, height / 2, height / 2)
        painter.setPen(foreground if isinstance(foreground, QColor) else QColor("#ffffff"))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem,  # noqa: N802 - Qt override
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width() + 24, 96), max(hint.height(), 26))
