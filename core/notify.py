"""When to tell the operator: notification decisions, Qt-free (the tray only shows them).

- Transitions only: a target going ``down`` (the monitor already waited ``down_after``
  failures) and coming back ``up`` (after ``up_after`` successes). Degraded and unknown
  states in between are not announced.
- One "local network down" notice instead of one per target: while that condition is
  active, targets going down are folded into it, and their recoveries are not announced.
- Flapping is damped: a target that goes down again within ``quiet_s`` of its last down
  notice is held back (and so is its recovery); if it is still down ``quiet_s`` later it is
  announced then, saying how often it flapped. Targets folded into a local-network outage are
  treated the same from the moment the network is back.
- Reminders: a target still down is announced again at most every ``reminder_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import Clock, SystemClock
from .config import NotificationSettings
from .monitor import Condition, StatusChange, TargetStatus
from .probes.base import iso_utc

__all__ = ["LOCAL_NETWORK", "Notice", "Notifier", "NotifyPolicy"]

LOCAL_NETWORK = "local_network_down"


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification: ``key`` is a target name or ``LOCAL_NETWORK``."""

    key: str
    severity: str  # critical | warning | info
    title: str
    body: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "severity": self.severity, "title": self.title,
                "body": self.body, "at": iso_utc(self.at)}


@dataclass(frozen=True, slots=True)
class NotifyPolicy:
    """How often notices may come."""

    enabled: bool = True
    quiet_s: float = 300.0  # a repeat down notice of one target within this is held back
    reminder_s: float = 3600.0  # a target still down is reminded at most this often

    @classmethod
    def from_settings(cls, settings: NotificationSettings) -> NotifyPolicy:
        """The policy ``[notifications]`` describes."""
        return cls(settings.enabled, settings.quiet_s, settings.reminder_s)


@dataclass
class _Down:
    since: datetime
    reason: str
    notified_at: float | None  # monotonic time of the last notice; None: held back
    held_at: float = 0.0  # monotonic time a held-back target started waiting


@dataclass
class Notifier:
    """Turns status changes and conditions into ``Notice``s (or nothing)."""

    policy: NotifyPolicy = field(default_factory=NotifyPolicy)
    clock: Clock = field(default_factory=SystemClock)
    _down: dict[str, _Down] = field(default_factory=dict, init=False, repr=False)
    _last_down_notice: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    _flaps: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _network_down: bool = field(default=False, init=False, repr=False)

    @property
    def down(self) -> list[str]:
        """Targets known to be down now."""
        return list(self._down)

    def on_status(self, change: StatusChange) -> Notice | None:
        """The notice for one status change, if it deserves one."""
        name = change.target
        if change.new is TargetStatus.DOWN and name not in self._down:
            return self._went_down(change)
        if change.new is TargetStatus.UP and name in self._down:
            was = self._down.pop(name)
            if was.notified_at is None or not self.policy.enabled:
                return None
            return Notice(name, "info", f"{name} is back up", change.reason, change.at)
        return None

    def on_condition(self, condition: Condition) -> Notice | None:
        """The one notice for the local network going down or coming back."""
        if condition.id != LOCAL_NETWORK or condition.active == self._network_down:
            return None
        self._network_down = condition.active
        if not self.policy.enabled:
            return None
        if condition.active:
            return Notice(LOCAL_NETWORK, "critical", "Local network down",
                          condition.detail, condition.since)
        now = self.clock.monotonic()
        for down in self._down.values():
            if down.notified_at is None:
                down.held_at = now  # announced only if still down quiet_s from now
        return Notice(LOCAL_NETWORK, "info", "Local network is back", condition.detail,
                      condition.since)

    def due_reminders(self) -> list[Notice]:
        """Held-back targets still down after ``quiet_s``, and reminders for targets whose
        last notice is ``reminder_s`` old (call it every few seconds)."""
        if not self.policy.enabled or self._network_down:
            return []
        now = self.clock.monotonic()
        out: list[Notice] = []
        for name, down in self._down.items():
            if down.notified_at is None:
                if now - down.held_at >= self.policy.quiet_s:
                    out.append(self._announce(name, down, now))
                continue
            if now - down.notified_at < self.policy.reminder_s:
                continue
            down.notified_at = now
            since = down.since.strftime("%Y-%m-%d %H:%M UTC")
            out.append(Notice(name, "warning", f"{name} is still down",
                              f"down since {since}: {down.reason}", self.clock.now()))
        return out

    def _went_down(self, change: StatusChange) -> Notice | None:
        name = change.target
        now = self.clock.monotonic()
        last = self._last_down_notice.get(name)
        held = (not self.policy.enabled or self._network_down
                or (last is not None and now - last < self.policy.quiet_s))
        down = _Down(change.at, change.reason, None, now)
        self._down[name] = down
        if held:
            if last is not None and not self._network_down:
                self._flaps[name] = self._flaps.get(name, 0) + 1
            return None
        return self._announce(name, down, now)

    def _announce(self, name: str, down: _Down, now: float) -> Notice:
        down.notified_at = now
        self._last_down_notice[name] = now
        flaps = self._flaps.pop(name, 0)
        extra = (f" (went down {flaps} time{'s' if flaps != 1 else ''} since the last notice)"
                 if flaps else "")
        return Notice(name, "critical", f"{name} is down", down.reason + extra, down.since)
