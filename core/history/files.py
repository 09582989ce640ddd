"""Opening the history file: for writing, for reading only, and what to do when it fails.

- A writer opens read-write, checks the file (``PRAGMA quick_check``), switches to WAL and
  creates the schema; a write lock held elsewhere makes SQLite's busy handler retry with
  growing sleeps for ``busy_timeout`` seconds (a bounded backoff) before it gives up.
- A reader opens with ``mode=ro`` (it never takes a write lock, never creates or repairs a
  file); in a read-only folder where SQLite cannot create the WAL index it reads the file
  as ``immutable``.
- Only a *corrupt* file is ever moved aside (to ``<name>.corrupt-<UTC stamp>``, with its
  side files). A locked one is left where it is.
- Results a writer could not write before closing (the file stayed locked) go to a side
  file ``<name>.pending-<pid>-<stamp>`` that the next writer merges in and deletes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from ..errors import NetmonError
from ..log import PREFIX_RESILIENT
from .rollups import INSERT, SCHEMA

__all__ = [
    "HistoryUnavailableError",
    "connect_reader",
    "connect_writer",
    "is_corrupt",
    "is_locked",
    "merge_side_files",
    "move_aside",
    "remove_side_files",
    "write_side_file",
]

_log = logging.getLogger("netmon.history")

SIDE_SUFFIXES: Final = ("-wal", "-shm", "-journal")
_ENVIRONMENT_ERRORS: Final = ("SQLITE_CANTOPEN", "SQLITE_FULL", "SQLITE_PERM", "SQLITE_IOERR",
                              "SQLITE_NOMEM", "SQLITE_READONLY")


class HistoryUnavailableError(NetmonError):
    """The history cannot be read (missing, locked, unreadable or not a history file)."""


class CorruptError(sqlite3.DatabaseError):
    """``PRAGMA quick_check`` did not answer ``ok``."""


def is_locked(exc: BaseException) -> bool:
    """Another connection holds a lock that outlasted the busy timeout."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text


def cannot_open(exc: BaseException) -> bool:
    """Errors of the surroundings (folder, permissions, full disk), not of the file itself."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    return name.startswith(_ENVIRONMENT_ERRORS) or "unable to open" in text or "readonly" in text


def is_corrupt(exc: BaseException) -> bool:
    """The file itself is damaged (not merely locked or unreachable)."""
    if isinstance(exc, CorruptError):
        return True
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in str(exc)


def _rename(src: Path, dst: Path) -> None:
    """Rename without replacing (a separate function so tests can make it fail)."""
    os.rename(src, dst)


def connect_writer(path: Path | str, busy_timeout: float) -> sqlite3.Connection:
    """Open ``path`` read-write with the schema in place; raises ``sqlite3.Error``."""
    conn = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None)
    try:
        row = conn.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            raise CorruptError(f"quick_check: {row[0] if row else 'no answer'}")
        conn.execute("PRAGMA journal_mode=WAL").fetchone()
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("BEGIN IMMEDIATE")  # proves we can write (a held lock shows here)
        for statement in SCHEMA:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """Open ``path`` for reading only; raises ``HistoryUnavailableError`` saying why not."""
    if not path.is_file():
        raise HistoryUnavailableError(f"no history file at {path}")
    uri = path.resolve().as_uri()
    try:
        try:
            return _checked(sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=busy_timeout,
                                            isolation_level=None))
        except sqlite3.OperationalError as exc:
            if not cannot_open(exc):
                raise
            # a read-only folder without the WAL index: nobody can be writing the file
            return _checked(sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True,
                                            timeout=busy_timeout, isolation_level=None))
    except sqlite3.Error as exc:
        if is_locked(exc):
            raise HistoryUnavailableError(
                f"cannot read history database {path}: it is locked by another process "
                f"({exc}); try again") from None
        raise HistoryUnavailableError(f"cannot read history database {path}: {exc}") from None


def _checked(conn: sqlite3.Connection) -> sqlite3.Connection:
    try:
        conn.execute("SELECT 1 FROM results LIMIT 1").fetchall()
    except BaseException:
        conn.close()
        raise
    return conn


def move_aside(path: Path, now: datetime, error: BaseException) -> tuple[Path | None, bool]:
    """Rename a corrupt ``path`` and its side files; returns (new name, path now clear)."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    dest = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while any(os.path.lexists(f"{dest}{s}") for s in ("", *SIDE_SUFFIXES)):
        dest = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    try:
        _rename(path, dest)
    except OSError as exc:
        _log.warning("%s history database %s is corrupt (%s) and cannot be moved aside to %s: "
                     "%s", PREFIX_RESILIENT, path, error, dest, exc)
        return None, False
    clear = True
    for suffix in SIDE_SUFFIXES:
        side = Path(f"{path}{suffix}")
        if not os.path.lexists(side):
            continue
        try:
            _rename(side, Path(f"{dest}{suffix}"))
        except OSError as exc:
            clear = False  # a stale -wal must never meet a fresh database
            _log.warning("%s cannot move %s aside: %s", PREFIX_RESILIENT, side, exc)
    return dest, clear


def write_side_file(path: Path, now: datetime, rows: list[tuple[Any, ...]]) -> Path:
    """Write ``rows`` (``results`` columns) to a new side file next to ``path``."""
    side = path.with_name(f"{path.name}.pending-{os.getpid()}-{now.strftime('%Y%m%dT%H%M%SZ')}")
    conn = sqlite3.connect(str(side), isolation_level=None)
    try:
        conn.execute(SCHEMA[0])
        conn.execute("BEGIN")
        conn.executemany(INSERT, rows)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return side


def merge_side_files(conn: sqlite3.Connection,
                     path: Path) -> tuple[list[Path], int, float | None]:
    """Copy the rows of ``path``'s side files into ``conn`` (in the caller's transaction).

    Returns (files merged, rows merged, oldest ts merged); delete the files with
    ``remove_side_files`` once the transaction is committed.
    """
    merged, oldest, files = 0, None, []
    for side in side_files(path):
        try:
            other = sqlite3.connect(f"{side.resolve().as_uri()}?mode=ro", uri=True)
            try:
                rows = other.execute(
                    "SELECT target, kind, ts, ok, degraded, latency_ms, error_kind, error, "
                    "phases FROM results").fetchall()
            finally:
                other.close()
        except sqlite3.Error as exc:
            _log.warning("%s cannot read kept results in %s: %s", PREFIX_RESILIENT, side, exc)
            continue
        conn.executemany(INSERT, rows)
        files.append(side)
        merged += len(rows)
        if rows:
            low = min(float(r[2]) for r in rows)
            oldest = low if oldest is None else min(oldest, low)
    return files, merged, oldest


def side_files(path: Path) -> list[Path]:
    """Side files of kept results next to ``path``, oldest name first."""
    with contextlib.suppress(OSError):
        return sorted(p for p in path.parent.glob(f"{path.name}.pending-*")
                      if not p.name.endswith(SIDE_SUFFIXES))
    return []


def remove_side_files(files: list[Path]) -> None:
    """Delete merged side files (one that cannot be deleted would be merged again)."""
    for side in files:
        for name in (side, *(Path(f"{side}{s}") for s in SIDE_SUFFIXES)):
            try:
                name.unlink(missing_ok=True)
            except OSError as exc:
                _log.warning("%s cannot delete merged side file %s (%s); delete it by hand "
                             "or its results are merged again", PREFIX_RESILIENT, name, exc)
