"""Secrets the tests create, and a log handler that proves none of them is ever logged.

Every token the Supabase stand-in mints, its keys, the PostgreSQL password and everything
stored in the in-memory keyring are watched; ``tests/conftest.py`` fails any test whose
log records (messages, arguments, tracebacks) contain one.
"""

from __future__ import annotations

import logging

WATCHED: set[str] = set()


def watch(value: str) -> str:
    """Register ``value`` as a secret that must never be logged; returns it."""
    if len(value) >= 6:
        WATCHED.add(value)
    return value


class LeakCatcher(logging.Handler):
    """Keeps the full text of every record (message, arguments and traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            text = f"{record.msg!r} {record.args!r}"
        if record.exc_info:
            text += self._formatter.formatException(record.exc_info)
        if record.exc_text:
            text += record.exc_text
        self.texts.append(text)

    def leaks(self, secrets: set[str]) -> list[tuple[str, str]]:
        """(secret prefix, record excerpt) for every record containing a secret."""
        found = []
        for text in self.texts:
            for secret in secrets:
                if secret in text:
                    found.append((secret[:6] + "...", text[:200]))
        return found
