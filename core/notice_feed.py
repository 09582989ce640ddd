"""NoticeFeed: the core's notices, decided once for every front end.

The ``Notifier`` (``core.notify``) is fed by the monitor's status changes and conditions;
each notice is published on ``published`` (the console's tray and Events tab show it) and
handed to the forwarder (chat or mail, when ``[notifications] forward`` names destinations),
so ``netmon serve`` on a server alerts the same way the console does. ``remind()`` publishes
the reminders that are due; ``NetmonCore`` calls it every few seconds while it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .events import Event
from .notify import Notice, Notifier, NotifyPolicy

if TYPE_CHECKING:
    from .clock import Clock
    from .forward import Forwarder
    from .monitor import Condition, HealthMonitor, StatusChange

__all__ = ["NoticeFeed"]


class NoticeFeed:
    """Turns the monitor's events into published and forwarded ``Notice``s."""

    def __init__(self, monitor: HealthMonitor, forwarder: Forwarder, policy: NotifyPolicy,
                 clock: Clock) -> None:
        self.notifier = Notifier(policy, clock)
        self.forwarder = forwarder
        self.published: Event[Notice] = Event("notices.published")
        monitor.status_changed.connect(self._on_status)
        monitor.condition_changed.connect(self._on_condition)

    def remind(self) -> None:
        """Publish the reminders (and held-back notices) that are due now."""
        for notice in self.notifier.due_reminders():
            self._publish(notice)

    def _on_status(self, change: StatusChange) -> None:
        self._publish(self.notifier.on_status(change))

    def _on_condition(self, condition: Condition) -> None:
        self._publish(self.notifier.on_condition(condition))

    def _publish(self, notice: Notice | None) -> None:
        if notice is not None:
            self.published.emit(notice)
            self.forwarder.submit(notice)
