"""RemoteView: puts a remote backend's snapshot into the main window's own widgets.

The window keeps one set of widgets (banner, targets table, details, breakers, tokens,
suggestions, database); this controller switches their source between the local core and
the backend chosen in the selector, sends recovery actions to the backend's endpoints
(asking first for the destructive ones) and logs every outcome.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from PySide6.QtCore import QObject

from core.config import Config, RemoteSettings, is_http_url
from core.errors import ConfigError

from .. import fmt
from ..actions import LABELS, ActionRecord
from ..backends import REMOTE_ACTIONS, BackendPoller, Backends
from ..models.breakers import local_rows
from ..models.snapshot_targets import SnapshotTargetsModel
from ..widgets.backend_selector import BackendSelector
from ..widgets.backend_strip import BackendStrip
from .backends_dialog import BackendsDialog, TokenDialog, save_remotes
from .window_modal import ask_yes_no, open_dialog

if TYPE_CHECKING:
    from .main_window import MainWindow

__all__ = ["RemoteView", "offered"]

#: Actions that change a backend's state for every caller: asked before they are sent.
DESTRUCTIVE = frozenset({"clear_auth_cache"})


def offered(suggestions: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Suggestions with only the actions a remote backend has endpoints for (others keep
    their text, without a button)."""
    out = []
    for s in suggestions:
        entry = dict(s)
        if entry.get("action") and entry["action"] not in REMOTE_ACTIONS:
            entry["detail"] = (f"{entry.get('detail') or ''} ({LABELS.get(entry['action'])} "
                               "runs on the backend itself: no remote endpoint)").strip()
            entry["action"] = None
        out.append(entry)
    return out


class RemoteView(QObject):
    """Owns the backends, the selector and the strip of one ``MainWindow``."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.backends = Backends(self)
        self.backends.set_remotes(list(window.config.remotes), start=False)
        self.selector = BackendSelector(self.backends, window)
        self.strip = BackendStrip(window)
        self.strip.hide()
        self.targets_model = SnapshotTargetsModel(self)
        self.current: BackendPoller | None = None
        #: Asks the user before a destructive action (calls its second argument on yes);
        #: tests replace it.
        self.confirm: Callable[[str, Callable[[], None]], object] = self._ask
        self.selector.chosen.connect(self.choose)
        self.strip.replaceToken.connect(self.replace_token)
        self.backends.updated.connect(self._on_updated)
        self.backends.changed.connect(self._follow_current)
        self.backends.actionFinished.connect(self._on_action)
        self.backends.busyChanged.connect(self._on_busy)

    @property
    def active(self) -> bool:
        """Whether a remote backend is shown (else the local core)."""
        return self.current is not None

    def start(self) -> None:
        """Begin polling every backend (needs the running loop)."""
        for poller in self.backends.pollers.values():
            poller.start()

    def open(self, name_or_url: str, token_env: str | None = None) -> BackendPoller:
        """Show backend ``name_or_url`` (a configured name, or a URL added for this run)."""
        poller = self.backends.get(name_or_url)
        if poller is None or token_env:
            if poller is not None:
                settings = poller.settings
            elif is_http_url(name_or_url):
                host = urlsplit(name_or_url).netloc.rpartition("@")[2]
                settings = RemoteSettings(name=host, url=name_or_url)
            else:
                known = ", ".join(self.backends.pollers) or "none configured"
                raise ConfigError(f"{name_or_url!r} is neither a configured remote nor an "
                                  "http(s) URL", field="--remote",
                                  allowed=f"{known}, or http(s)://host[:port]")
            if token_env:
                settings = dataclasses.replace(settings, token_keyring="", token_env=token_env)
            poller = self.backends.add(settings)
        poller.start()
        self.selector.choose(poller.name)
        self.choose(poller.name)
        return poller

    # --- switching -------------------------------------------------------------------
    def choose(self, name: object) -> None:
        """Show backend ``name`` (None: this machine) in the window's widgets."""
        poller = self.backends.get(name if isinstance(name, str) else None)
        if poller is self.current and (poller is not None or not self.strip.isVisible()):
            return
        self.current = poller
        w = self.window
        if poller is None:
            self.strip.hide()
            w.targets_proxy.setSourceModel(w.targets_model)
            w.breakers_model.set_source(local_rows(w.core.breakers))
            w.tokens_panel.show_local()
            w.details.show_target(None)
        else:
            self.strip.show()
            w.targets_proxy.setSourceModel(self.targets_model)
            w.breakers_model.set_source(self._remote_breakers)
            w.plot_page.show_target(None)
            w.details.show_row(None)
            poller.poll_soon()
        self.selector.choose(poller.name if poller else None)
        w._on_busy(poller.busy if poller else w.runner.busy)
        w.refresh()

    def _remote_breakers(self) -> list[dict[str, Any]]:
        snapshot = self.current.snapshot if self.current is not None else None
        return list(snapshot.get("breakers") or []) if snapshot else []

    def refresh(self) -> None:
        """Fill the window's widgets from the current backend's last answer."""
        poller, w = self.current, self.window
        if poller is None:
            return
        self.strip.show_poller(poller)
        snapshot = poller.snapshot
        last = poller.last
        if snapshot is None:
            self.targets_model.set_targets([])
            if last is None:
                w.banner.show_message("unknown", f"{poller.name}: waiting for the first answer")
            else:
                w.banner.show_message(poller.state, f"{poller.name}: {last.error}")
            w.suggestions.set_suggestions([], "unknown")
            w.database_panel.set_database(None, can_reconnect=False)
            w.tokens_panel.show_remote(poller.name, None)
            w.tabs.setTabText(w._suggestions_tab, "Suggestions")
            w.setWindowTitle(f"netmon - {poller.name}: {poller.state.upper()}")
        else:
            problems = last.problems if last is not None else []
            self.targets_model.set_targets(snapshot.get("targets") or [], problems)
            w.banner.update_from(snapshot)
            shown = offered(snapshot.get("suggestions") or [])
            w.suggestions.set_suggestions(shown, str(snapshot.get("status")))
            w.tabs.setTabText(w._suggestions_tab,
                              f"Suggestions ({len(shown)})" if shown else "Suggestions")
            w.setWindowTitle(fmt.window_title(snapshot).replace(
                "netmon - ", f"netmon - {poller.name}: ", 1))
            database = snapshot.get("database")
            w.database_panel.set_database(database if isinstance(database, Mapping) else None,
                                          can_reconnect=False)
            auth = snapshot.get("auth")
            w.tokens_panel.show_remote(poller.name, auth if isinstance(auth, Mapping) else None)
        w.breakers_model.refresh()
        name = w.selected_target()
        w.details.show_row(self.targets_model.row(name) if name else None)

    # --- actions ---------------------------------------------------------------------
    def run_action(self, action: str, target: str | None) -> None:
        """Send ``action`` to the current backend (asking first when destructive)."""
        poller, w = self.current, self.window
        if poller is None:
            return
        label = LABELS.get(action, action)
        if action not in REMOTE_ACTIONS:
            w.statusBar().showMessage(f"{poller.name} has no endpoint for {label.lower()}",
                                      15000)
            return
        destructive = action in DESTRUCTIVE or (action == "reset_breaker" and target is None)
        what = f"{label}{f' ({target})' if target else ' (all)' * (action == 'reset_breaker')}"

        def send() -> None:
            w.statusBar().showMessage(f"{what} on {poller.name}: sending...")
            poller.run(action, target)

        if destructive:
            self.confirm(f"{what} on {poller.name}?", send)
        else:
            send()

    def _ask(self, question: str, on_yes: Callable[[], None]) -> object:
        return ask_yes_no(self.window, "Confirm", question, on_yes)

    def _on_action(self, record: ActionRecord) -> None:
        self.window.action_log.add(record)
        if self.current is not None and record.backend == self.current.name:
            self.window.statusBar().showMessage(record.text, 15000)

    def _on_busy(self, name: str, busy: bool) -> None:
        if self.current is not None and self.current.name == name:
            self.window._on_busy(busy)

    def _follow_current(self) -> None:
        """The backends changed (edited, re-tokened, removed): show the poller that now
        stands for the backend on screen, not the closed one (or this machine if it went)."""
        current = self.current
        if current is not None and self.backends.get(current.name) is not current:
            self.current = None
            self.choose(current.name)

    def _on_updated(self, name: str) -> None:
        if self.current is not None and self.current.name == name:
            self.window.refresh()

    # --- backends and tokens ---------------------------------------------------------
    def set_config(self, config: Config) -> None:
        """Follow a saved config's ``[[remotes]]``."""
        self.window.config = config
        self.backends.set_remotes(list(config.remotes))

    def edit_backends(self) -> None:
        """Open the backends dialog; a saved change updates the selector."""
        dialog = BackendsDialog(self.window.config, self.window)
        open_dialog(dialog, lambda: self.set_config(dialog.config))

    def replace_token(self, name: str) -> None:
        """Ask for a new token for backend ``name`` (after a 401), store it, poll again."""
        poller = self.backends.get(name)
        if poller is None:
            return
        refused = poller.last.error if poller.last is not None else ""
        dialog = TokenDialog(name, self.window, reason=f"{name} refused the token: {refused}")
        open_dialog(dialog, lambda: self.use_token_entry(name, dialog.entry))

    def use_token_entry(self, name: str, entry: str) -> None:
        """Backend ``name`` reads its token from keyring ``entry`` from now on (saved to the
        config when it is configured there); polls again."""
        poller = self.backends.get(name)
        if poller is None:
            return
        if poller.settings.token_keyring == entry and not poller.settings.token_env:
            poller.poll_soon()
            return
        updated = dataclasses.replace(poller.settings, token_keyring=entry, token_env="")
        config = self.window.config
        if any(r.name == name for r in config.remotes):
            self.set_config(save_remotes(config, [updated if r.name == name else r
                                                  for r in config.remotes]))
        else:  # added for this run (--remote URL): not in the config
            self.backends.add(updated)

    def detach(self) -> None:
        """Stop reacting to the selector and the backends (the window is closing: its
        widgets may be destroyed before the pollers stop)."""
        self.selector.blockSignals(True)
        self.backends.blockSignals(True)
        for poller in self.backends.pollers.values():
            poller.blockSignals(True)

    async def aclose(self) -> None:
        """Stop every poller."""
        self.detach()
        await self.backends.aclose()

