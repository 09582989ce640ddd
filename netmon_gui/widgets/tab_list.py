"""TabList: a button in the tab bar's corner listing every tab, so none is out of reach
when a narrow window has room for only some of them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu, QTabWidget, QToolButton

__all__ = ["TabList", "fill_tab_menu"]


class TabList(QToolButton):
    """Opens a menu of ``tabs``' titles (with their Ctrl+N shortcut); choosing one shows it."""

    def __init__(self, tabs: QTabWidget) -> None:
        super().__init__(tabs)
        self.tabs = tabs
        self.setObjectName("tabList")
        self.setToolTip("All tabs")
        self.setArrowType(Qt.ArrowType.DownArrow)
        self.setAutoRaise(True)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setMenu(QMenu(self))
        self.menu().aboutToShow.connect(self._fill)
        tabs.setCornerWidget(self, Qt.Corner.TopRightCorner)

    def _fill(self) -> None:
        fill_tab_menu(self.menu(), self.tabs)


def fill_tab_menu(menu: QMenu, tabs: QTabWidget) -> None:
    """Fill ``menu`` with one checkable entry per tab of ``tabs`` (Ctrl+N shown for the
    first nine, the open tab checked); choosing an entry shows its tab."""
    menu.clear()
    for index in range(tabs.count()):
        title = tabs.tabText(index)
        action = menu.addAction(f"{title}\tCtrl+{index + 1}" if index < 9 else title)
        action.setCheckable(True)
        action.setChecked(index == tabs.currentIndex())
        action.triggered.connect(lambda _=False, i=index: tabs.setCurrentIndex(i))
