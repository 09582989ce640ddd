"""``DbFile``: which SQLite file a ``HistoryStore`` uses, and what it does when it cannot.

- **Readers** (``read_only``) open the file with ``mode=ro``: they never lock it for
  writing, create, repair or move it; when it cannot be read ``open()`` raises
  ``HistoryUnavailableError`` saying why.
- **A locked file** (another process holds the write lock past ``busy_timeout``) is never
  moved: the writer reads what it can, keeps new results in memory (``locked`` is True, a
  ``RESILIENT:`` warning says so) and tries the file again every ``lock_retry`` seconds.
  If it is still locked at close the kept results go to a side file that the next writer
  merges in (see ``files``).
- **A corrupt file** is renamed to ``<name>.corrupt-<UTC stamp>`` (with its side files) and
  a fresh one started; when it cannot be renamed (Windows cannot rename an open file) a
  fresh ``<stem>-<pid><suffix>`` next to it is used. A folder or file that cannot be
  written at all leaves history in memory only (``persistent`` is False). Each case logs a
  ``RESILIENT:`` warning on ``netmon.history`` naming the paths.

All of it runs on the store's worker thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..log import PREFIX_RESILIENT
from . import files

__all__ = ["DbFile"]

_log = logging.getLogger("netmon.history")


class DbFile:
    """The history database file in use and its one connection (worker thread only).

    ``on_open(conn, path)`` runs on every new writer connection before it is used (``path``
    is None for the in-memory fallback); the store reads its rollup marks there and takes
    in results kept in side files.
    """

    def __init__(self, path: Path, *, clock: Clock, busy_timeout: float, lock_retry: float,
                 on_open: Callable[[sqlite3.Connection, Path | None], None]) -> None:
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._lock_retry = lock_retry
        self._on_open = on_open
        #: The file in use (differs from the requested one after a fallback).
        self.path = path
        #: Where a corrupt database was moved, if it was.
        self.moved_aside: Path | None = None
        #: False when no file could be used at all and history lives in memory only.
        self.persistent = True
        #: The open connection (None before ``open()`` and after ``close()``).
        self.conn: sqlite3.Connection | None = None
        self._locked_since: float | None = None  # time.monotonic() when shut out by a lock
        self._next_lock_try = 0.0

    @property
    def locked(self) -> bool:
        """True while another process's lock keeps new results from the file."""
        return self._locked_since is not None

    def open(self, *, read_only: bool) -> None:
        """Open ``path`` (repairing or falling back for a writer); a reader raises
        ``HistoryUnavailableError`` when it cannot read it."""
        wanted = self.path
        if read_only:
            self.conn = files.connect_reader(wanted, self._busy_timeout)
            return
        try:
            wanted.parent.mkdir(parents=True, exist_ok=True)
            self.conn = self._writer(wanted)
            return
        except (sqlite3.Error, OSError) as exc:
            error = exc if isinstance(exc, sqlite3.Error) else sqlite3.OperationalError(
                f"unable to open database file: {exc}")
        if files.is_locked(error):
            self._lock_out(wanted, error)
        else:
            self._recover(wanted, error)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self.conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()
            self.conn = None

    def retry_lock(self, *, kept: int, force: bool = False) -> bool:
        """Try the locked file again when due (or ``force``); True once it is ours.

        ``kept`` is how many results wait in memory (for the log line).
        """
        now = time.monotonic()
        if not force and now < self._next_lock_try:
            return False
        self._next_lock_try = now + self._lock_retry
        try:
            conn = self._writer(self.path)
        except sqlite3.Error as exc:
            if not files.is_locked(exc):
                _log.warning("%s history database %s cannot be opened again: %s",
                             PREFIX_RESILIENT, self.path, exc)
            return False
        self.close()
        self.conn = conn
        self._locked_since = None
        _log.warning("%s history database %s is free again; writing %d results kept in memory",
                     PREFIX_RESILIENT, self.path, kept)
        return True

    def write_failed(self, exc: sqlite3.Error) -> None:
        """A write failed with ``exc``: a file that went corrupt is moved aside and replaced."""
        if files.is_corrupt(exc) and self.persistent:
            self.close()
            self._recover(self.path, exc)

    def keep_in_side_file(self, rows: list[tuple[Any, ...]]) -> bool:
        """Still locked at close: write ``rows`` to a side file the next writer merges in.

        True when they are kept there.
        """
        try:
            side = files.write_side_file(self.path, self._clock.now().astimezone(UTC), rows)
        except (sqlite3.Error, OSError) as exc:
            _log.warning("%s history database %s is still locked and %d results cannot be "
                         "kept beside it (%s)", PREFIX_RESILIENT, self.path, len(rows), exc)
            return False
        _log.warning("%s history database %s is still locked at close; %d results kept in %s "
                     "are merged in by the next start", PREFIX_RESILIENT, self.path, len(rows),
                     side)
        return True

    def _writer(self, path: Path | None) -> sqlite3.Connection:
        """A writer connection to ``path`` (None: in memory), prepared by ``on_open``."""
        conn = files.connect_writer(":memory:" if path is None else path, self._busy_timeout)
        try:
            self._on_open(conn, path)
        except BaseException:
            conn.close()
            raise
        return conn

    def _lock_out(self, path: Path, error: sqlite3.Error) -> None:
        """Another process holds the lock: read what we can, keep new results in memory."""
        self.path = path
        self._locked_since = time.monotonic()
        self._next_lock_try = self._locked_since + self._lock_retry
        try:
            self.conn = files.connect_reader(path, self._busy_timeout)
            seen = "its history stays readable"
        except files.HistoryUnavailableError:
            self.conn = self._writer(None)
            seen = "its history cannot be read meanwhile"
        _log.warning("%s history database %s is locked by another process (%s); new results "
                     "are kept in memory and written there once it is free (retrying every "
                     "%g s); %s", PREFIX_RESILIENT, path, error, self._lock_retry, seen)

    def _recover(self, wanted: Path, error: sqlite3.Error) -> None:
        """The file cannot be used: a corrupt one is moved aside, otherwise keep to memory."""
        if files.is_corrupt(error) and wanted.is_file():
            now = self._clock.now().astimezone(UTC)
            moved, clean = files.move_aside(wanted, now, error)
            if moved is not None:
                self.moved_aside = moved
                if clean:
                    try:
                        self.conn = self._writer(wanted)
                    except sqlite3.Error as exc:
                        error = exc
                    else:
                        self.path = wanted
                        _log.warning("%s history database %s was corrupt (%s); moved it aside "
                                     "to %s and started a fresh one", PREFIX_RESILIENT, wanted,
                                     error, moved)
                        return
            for candidate in _fallback_names(wanted):
                try:
                    self.conn = self._writer(candidate)
                except (sqlite3.Error, OSError):
                    continue
                self.path = candidate
                _log.warning("%s history database %s is corrupt (%s)%s; using %s instead",
                             PREFIX_RESILIENT, wanted, error,
                             f", its old file is at {self.moved_aside}" if self.moved_aside
                             else "", candidate)
                return
        self.conn = self._writer(None)
        self.persistent = False
        _log.warning("%s history database %s is unusable (%s); keeping history in memory "
                     "only until restart", PREFIX_RESILIENT, wanted, error)


def _fallback_names(path: Path) -> list[Path]:
    pid = os.getpid()
    names = [path.with_name(f"{path.stem}-{pid}{path.suffix}")]
    names += [path.with_name(f"{path.stem}-{pid}-{n}{path.suffix}") for n in range(1, 4)]
    return names
