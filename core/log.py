"""Logging that never breaks a Windows console and never writes a secret.

- Every record is redacted (bearer tokens, JWT-shaped strings, DSN passwords, apikey,
  token, secret and password values, credential query parameters) by a filter on the
  handlers ``setup_logging`` installs, and by ``redact()`` for text shown elsewhere.
- The console handler writes ASCII only (non-ASCII becomes ``\\u....`` escapes), so a cp1252
  console never raises ``UnicodeEncodeError``.
- A rotating file in the platformdirs log folder keeps the last few megabytes.
- Messages carry the prefixes ``RESILIENT:``, ``CIRCUIT BREAKER:`` and ``NETWORK:``.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from .secrets import SECRET_NAMES

__all__ = [
    "PREFIX_BREAKER",
    "PREFIX_NETWORK",
    "PREFIX_RESILIENT",
    "AsciiSafeFormatter",
    "RedactingFilter",
    "log_dir",
    "printable",
    "redact",
    "redact_data",
    "setup_logging",
]

PREFIX_RESILIENT = "RESILIENT:"
PREFIX_BREAKER = "CIRCUIT BREAKER:"
PREFIX_NETWORK = "NETWORK:"

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_MASK = "***"

_NAMES = "|".join(re.escape(n) for n in SECRET_NAMES if n != "key")
_PREFIX = r"(?:[a-z0-9]{1,32}[_-]){0,4}"  # client_secret, id_token, x-api-key
# Secret names as keys: the listed ones (optionally prefixed), any name ending in _key or
# -key (secret_key, private_key, SUPABASE_KEY), and passwords glued to a prefix (PGPASSWORD).
_KEYS = rf"{_PREFIX}(?:{_NAMES})|[a-z0-9]{{1,32}}[_-]key|[a-z0-9]{{1,32}}(?:password|passwd)"
# A quoted value (closed or not) or a bare word; a backslash escapes the next character, and
# so does a run of them (a repr() doubles each backslash: over-masking beats a leak).
_QUOTED_OR_BARE = (
    r"'(?:[^'\\]|\\+.){0,512}'?"
    r'|"(?:[^"\\]|\\+.){0,512}"?'
    r"|(?:\\+.|[^\s\\&]){1,512}"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # JWT-shaped strings: three base64url parts, the first two starting with '{"' encoded.
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "<jwt:" + _MASK + ">"),
    # Authorization headers and bearer tokens of any shape.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}"), r"\1 " + _MASK),
    (re.compile(r"(?i)\b(authorization\s*:\s*token)\s+[A-Za-z0-9._~+/=-]{4,}"),
     r"\1 " + _MASK),
    # Passwords in URLs/DSNs: scheme://user:password@host, up to the LAST '@' before a blank,
    # so a password with an unescaped '#', '/', '?' or '@' is masked whole. (Bounded
    # repeats: an unbounded scheme made long texts quadratic.)
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]{0,30}://[^:/?#@\s]{0,256}):[^\s]{0,512}@"),
     r"\1:" + _MASK + "@"),
    # URL query and fragment parameters named like a secret (?apikey=, &key=, &sig=,
    # #access_token=).
    (re.compile(rf"(?i)([?&#;](?:{_PREFIX}(?:{_NAMES})|key|sig|signature)=)[^&#\s'\"]*"),
     r"\1" + _MASK),
    # key=value pairs for secret names, also prefixed (client_secret, id_token, x-api-key):
    # DSN keywords incl. libpq quoting, JSON, reprs.
    (re.compile(rf"(?i)([\"']?\b(?:{_KEYS})\b[\"']?\s*=\s*)(?:{_QUOTED_OR_BARE})"),
     r"\1" + _MASK),
    # key: value pairs (headers, JSON, dict reprs), but not a config field path such as
    # "targets[0] (db).password: ..." that starts an error message.
    (re.compile(rf"(?i)(?<!\.)([\"']?\b(?:{_KEYS})\b[\"']?\s*:\s*)"
                rf"(?:{_QUOTED_OR_BARE})"),
     r"\1" + _MASK),
)


def redact(text: str) -> str:
    """``text`` with secrets masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in the message, its arguments and any attached traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class AsciiSafeFormatter(logging.Formatter):
    """Formats, then escapes control characters (a record is its own lines: a newline in
    the message cannot forge another) and anything outside ASCII (any console prints it)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        return printable(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        lines = super().format(record).split("\n")  # only traceback and stack lines remain
        return ascii_safe("\n".join(map(printable, lines)))



def redact_data(data: Any) -> Any:
    """``data`` (JSON-like: dicts, lists, strings) with every string passed through
    ``redact``, so the JSON encoded from it stays valid."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, Mapping):
        return {key: redact_data(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [redact_data(value) for value in data]
    return data

def ascii_safe(text: str) -> str:
    """``text`` with non-ASCII characters as backslash escapes."""
    return text.encode("ascii", "backslashreplace").decode("ascii")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with C0, DEL and C1 control characters (ESC, newline, ...) shown as visible
    escapes (``\\x1b``, ``\\n``): untrusted text cannot move the cursor, hide or forge lines."""
    return _CONTROL.sub(lambda m: _NAMED.get(m[0], f"\\x{ord(m[0]):02x}"), text)


def log_dir() -> Path:
    """The per-user log folder (e.g. ``%LOCALAPPDATA%\\netmon\\Logs`` on Windows)."""
    import platformdirs

    return Path(platformdirs.user_log_dir("netmon", appauthor=False))


def setup_logging(
    level: str | int = "INFO",
    *,
    stream: TextIO | None = None,
    file_dir: Path | None = None,
    to_file: bool = True,
) -> logging.Logger:
    """Configure the ``netmon`` logger: redacted, ASCII-safe console, rotating file.

    Safe to call again (it replaces the handlers it installed before).
    """
    logger = logging.getLogger("netmon")
    logger.setLevel(level)
    for handler in list(logger.handlers):
        if getattr(handler, "_netmon", False):
            logger.removeHandler(handler)
            handler.close()
    redactor = RedactingFilter()
    console = logging.StreamHandler(stream if stream is not None else sys.stderr)
    console.setFormatter(AsciiSafeFormatter(_FORMAT))
    _install(logger, console, redactor)
    if to_file:
        folder = file_dir or log_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                folder / "netmon.log", maxBytes=2_000_000, backupCount=5, encoding="utf-8",
                delay=True,
            )
        except OSError as exc:
            logger.warning("%s cannot write log file in %s: %s", PREFIX_RESILIENT, folder, exc)
        else:
            handler.setFormatter(AsciiSafeFormatter(_FORMAT))
            _install(logger, handler, redactor)
    return logger


def _install(logger: logging.Logger, handler: logging.Handler, flt: logging.Filter) -> None:
    handler.addFilter(flt)
    handler._netmon = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
