"""Light and dark following the OS: Fusion takes the platform's palette (Windows 10/11,
macOS and GNOME/KDE portals give a dark one in dark mode); where the platform reports a dark
colour scheme but hands Fusion a light palette, a dark palette is set instead. Re-applied
whenever the OS switches. The stylesheet only names palette roles, so it follows."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

__all__ = ["dark_palette", "follow_os", "palette_for"]

_ROLES = {
    QPalette.ColorRole.Window: "#202124", QPalette.ColorRole.WindowText: "#e8eaed",
    QPalette.ColorRole.Base: "#181a1b", QPalette.ColorRole.AlternateBase: "#242628",
    QPalette.ColorRole.Text: "#e8eaed", QPalette.ColorRole.Button: "#2d2f31",
    QPalette.ColorRole.ButtonText: "#e8eaed", QPalette.ColorRole.ToolTipBase: "#2d2f31",
    QPalette.ColorRole.ToolTipText: "#e8eaed", QPalette.ColorRole.PlaceholderText: "#9aa0a6",
    QPalette.ColorRole.Highlight: "#2f7fd0", QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#8ab4f8", QPalette.ColorRole.Mid: "#4a4d50",
    QPalette.ColorRole.Midlight: "#3a3d40", QPalette.ColorRole.Dark: "#151617",
    QPalette.ColorRole.Light: "#5f6368",
}


def dark_palette() -> QPalette:
    """A dark palette for Fusion."""
    palette = QPalette()
    for role, colour in _ROLES.items():
        palette.setColor(role, QColor(colour))
    grey = QColor("#7f8389")
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, grey)
    return palette


def palette_for(scheme: Qt.ColorScheme, platform: QPalette) -> QPalette:
    """The palette to use: the platform's, unless it is light while the scheme is dark."""
    light = platform.color(QPalette.ColorRole.Window).lightness() > 128
    return dark_palette() if scheme == Qt.ColorScheme.Dark and light else platform


def follow_os(app: QApplication) -> None:
    """Apply the palette for the OS colour scheme now and whenever it changes."""
    hints = app.styleHints()

    def apply(scheme: Qt.ColorScheme) -> None:
        platform = app.style().standardPalette()
        app.setPalette(palette_for(scheme, platform))

    apply(hints.colorScheme())
    hints.colorSchemeChanged.connect(apply)
