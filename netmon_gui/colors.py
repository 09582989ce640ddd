"""Status and severity colors: solid badges with their own text color, so they read the
same on a light and a dark palette."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor

__all__ = ["Badge", "badge_for", "severity_badge"]


@dataclass(frozen=True, slots=True)
class Badge:
    """Background and foreground of a status badge."""

    background: QColor
    foreground: QColor


_WHITE = QColor("#ffffff")
_INK = QColor("#1f1f1f")

_BADGES: dict[str, Badge] = {
    # targets and overall status
    "up": Badge(QColor("#2e7d32"), _WHITE),
    "healthy": Badge(QColor("#2e7d32"), _WHITE),
    "degraded": Badge(QColor("#f0a202"), _INK),
    "down": Badge(QColor("#c62828"), _WHITE),
    "unhealthy": Badge(QColor("#c62828"), _WHITE),
    "unknown": Badge(QColor("#757575"), _WHITE),
    # breakers
    "closed": Badge(QColor("#2e7d32"), _WHITE),
    "half_open": Badge(QColor("#f0a202"), _INK),
    "open": Badge(QColor("#c62828"), _WHITE),
    "forced_open": Badge(QColor("#8e24aa"), _WHITE),
}

_SEVERITY: dict[str, Badge] = {
    "critical": _BADGES["down"],
    "warning": _BADGES["degraded"],
    "info": Badge(QColor("#1565c0"), _WHITE),
}


def badge_for(state: str) -> Badge:
    """The badge of a target status, overall status or breaker state (grey if unknown)."""
    return _BADGES.get(state, _BADGES["unknown"])


def severity_badge(severity: str) -> Badge:
    """The badge of a suggestion severity (info blue when unknown)."""
    return _SEVERITY.get(severity, _SEVERITY["info"])
