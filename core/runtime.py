"""NetmonCore: every running part of netmon wired from one config.

The CLI, the HTTP service and the console all build one of these: a breaker per
dependency (settings from ``[breaker]``), the health monitor, the auth service (when
``[auth]`` names a server or a secret), the database layer (when ``[database] target`` names
a postgres target), the history store, the recovery actions over all of them, the
notices (``[notifications]``: when to tell the operator, for every front end) and the
forwarder that sends them to ``[notifications] forward`` destinations.
``start()`` returns at once: the database layer connects in the background (``ready()``
waits for it), so a service answers ``/health`` while a database is slow or silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import TYPE_CHECKING, Any

from .breaker import CircuitBreaker
from .clock import Clock, SystemClock
from .config import Config
from .forward import Forwarder
from .history import HistoryStore, Retention
from .monitor import HealthMonitor, breaker_for
from .notice_feed import NoticeFeed
from .notify import NotifyPolicy
from .recovery import RecoveryActions
from .retry import policy_from_settings
from .status import LiveStatus, build

if TYPE_CHECKING:  # imported when configured: they pull in httpx, PyJWT, asyncpg
    from .auth import ResilientAuthService
    from .db import DatabaseResilience

__all__ = ["NetmonCore"]

#: How often held-back notices and reminders are checked while the core runs.
REMIND_EVERY_S = 5.0


class NetmonCore:
    """Owns the parts; ``start()`` / ``stop()`` them together; ``status()`` snapshots."""

    def __init__(
        self, config: Config, *, clock: Clock | None = None, rng: random.Random | None = None,
        with_history: bool = True, with_database: bool = True,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.breakers: dict[str, CircuitBreaker] = {}
        for target in config.targets:
            if target.enabled:
                self.breaker(breaker_for(target, config))
        self.history = (HistoryStore(config.history.path or None, clock=self.clock,
                                     retention=Retention.from_settings(config.history))
                        if with_history and config.history.enabled else None)
        for breaker in self.breakers.values():
            self._keep_transitions(breaker)
        self.monitor = HealthMonitor(config, clock=self.clock, rng=self.rng,
                                     history=self.history, breakers=self.breakers)
        auth = config.auth
        self.auth: ResilientAuthService | None = None
        if auth.supabase_url or auth.jwt_secret:
            from .auth import ResilientAuthService

            self.auth = ResilientAuthService.from_settings(
                auth, clock=self.clock, rng=self.rng, breaker=self.breaker("auth"))
        self.database: DatabaseResilience | None = None
        if with_database and config.database.target:
            from .db import DatabaseResilience

            settings = config.database
            target = config.target(settings.target)
            self.database = DatabaseResilience(
                target, clock=self.clock, rng=self.rng,
                breaker=self.breaker(breaker_for(target, config)),
                pool_min=settings.pool_min, pool_max=settings.pool_max,
                connect_timeout=target.timeout_s or config.monitor.timeout_s,
                acquire_timeout=settings.acquire_timeout_s,
                command_timeout=settings.command_timeout_s,
                connect_policy=policy_from_settings(config.retry, "connect"))
        self.recovery = RecoveryActions(
            breakers=self.breakers, auth=self.auth, database=self.database,
            monitor=self.monitor, history=self.history, clock=self.clock)
        notifications = config.notifications
        self.forwarder = Forwarder(list(notifications.forward), notifications.forward_timeout_s,
                                   clock=self.clock, history=self.history)
        self.notices = NoticeFeed(self.monitor, self.forwarder,
                                  NotifyPolicy.from_settings(notifications), self.clock)
        self._reminders: asyncio.Task[None] | None = None

    def breaker(self, name: str) -> CircuitBreaker:
        """The breaker called ``name`` (created with the configured settings if new)."""
        if name not in self.breakers:
            b = self.config.breaker
            self.breakers[name] = CircuitBreaker(
                name, failure_threshold=b.failure_threshold, reset_timeout=b.reset_timeout_s,
                half_open_max_calls=b.half_open_max_calls,
                success_threshold=b.success_threshold, clock=self.clock)
            self._keep_transitions(self.breakers[name])
        return self.breakers[name]

    def _keep_transitions(self, breaker: CircuitBreaker) -> None:
        """Breaker state changes go to history (the timelines draw them as bands)."""
        history = getattr(self, "history", None)
        if history is not None:
            breaker.state_changed.connect(history.add_transition)

    def apply_config(self, config: Config) -> list[str]:
        """Take an edited config while running (the console's editor and settings).

        Targets are added, changed and removed in place (see ``HealthMonitor.apply_config``;
        returns the names probed afresh); ``[monitor]`` applies from the next probe and
        ``[breaker]`` to every breaker from its next decision, ``[history]`` retention from the
        store's next maintenance (within a minute). Breakers no target, the auth service or
        the database layer uses any more are dropped. ``[retry]``, ``[auth]``,
        ``[database]``, ``[service]`` and the rest of ``[history]`` take effect at the next
        start. ``[notifications]`` (policy and forwarding) applies from the next notice.
        """
        self.forwarder.configure(config.notifications.forward,
                                 config.notifications.forward_timeout_s)
        self.notices.notifier.policy = NotifyPolicy.from_settings(config.notifications)
        settings = config.breaker
        for breaker in self.breakers.values():
            breaker.failure_threshold = settings.failure_threshold
            breaker.reset_timeout = settings.reset_timeout_s
            breaker.half_open_max_calls = settings.half_open_max_calls
            breaker.success_threshold = settings.success_threshold
            breaker.max_half_open_wait = max(settings.reset_timeout_s, 1.0)
        if self.history is not None:
            self.history.retention = Retention.from_settings(config.history)
        self.config = config
        used = {breaker_for(t, config) for t in config.targets if t.enabled}
        if self.auth is not None:
            used.add("auth")
        if self.database is not None:
            used.add("database")
        for name in used:
            self.breaker(name)
        for name in [n for n in self.breakers if n not in used]:
            del self.breakers[name]
        return self.monitor.apply_config(config)

    async def start(self, *, schedule: bool = True) -> None:
        """Open history (and seed the monitor from it), begin connecting the database layer
        in the background and (with ``schedule``) start the monitor. Returns without waiting
        for the database."""
        if self.history is not None:
            await self.history.start()
            await self.monitor.seed_from(self.history)
        if self.database is not None:
            self.database.begin()
        self.forwarder.check_soon()  # logs where each destination's URL is, or the fix
        if schedule:
            await self.monitor.start()
            self._reminders = asyncio.get_running_loop().create_task(
                self._remind_forever(), name="netmon-notice-reminders")

    async def _remind_forever(self) -> None:
        while True:
            await asyncio.sleep(REMIND_EVERY_S)
            self.notices.remind()

    async def ready(self) -> None:
        """Wait for the database layer's start attempt (bounded by its target's timeout)."""
        if self.database is not None:
            await self.database.ready()

    async def stop(self, *, forward_grace_s: float = 0.0) -> None:
        """Stop everything that was started, newest first; bounded. Notices being forwarded
        get up to ``forward_grace_s`` to finish before they are cancelled."""
        if self._reminders is not None:
            self._reminders.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reminders
            self._reminders = None
        await self.monitor.stop()
        await self.forwarder.aclose(forward_grace_s)
        if self.database is not None:
            await self.database.close()
        if self.auth is not None:
            await self.auth.aclose()
        if self.history is not None:
            await self.history.close()

    async def __aenter__(self) -> NetmonCore:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def status(self) -> dict[str, Any]:
        """The status snapshot of everything running."""
        return build(
            monitor=self.monitor, breakers=self.breakers.values(),
            auth=self.auth.stats() if self.auth is not None else None,
            database=self.database.health() if self.database is not None else None,
            clock=self.clock,
        )

    def live_status(self) -> LiveStatus:
        """A ``LiveStatus`` over this core's parts: the snapshot ``status()`` builds, kept
        up to date by ``update()`` from what changed (for a view that re-reads each
        second)."""
        return LiveStatus(
            monitor=self.monitor, breakers=self.breakers.values,
            auth=lambda: self.auth.stats() if self.auth is not None else None,
            database=lambda: self.database.health() if self.database is not None else None,
            clock=self.clock)
