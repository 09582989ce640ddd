"""Reading an answer's body: JSON or not, charset, HTML error pages, FastAPI ``detail``,
``WWW-Authenticate`` descriptions, one-line snippets."""

from __future__ import annotations

import html
import json
import re
from http import HTTPStatus
from typing import Any

import httpx

from ..errors import (
    ErrorKind,
    kind_for_http_status,
)


# --- helpers -----------------------------------------------------------------------------
def _is_state_answer(parsed: Any) -> bool:
    """A JSON object with a string ``status``: the backend reporting its own state."""
    return isinstance(parsed, dict) and isinstance(parsed.get("status"), str)


def _parse_json(body: bytes) -> tuple[Any, str | None]:
    if not body.strip():
        return None, "empty body"
    try:
        return json.loads(body), None
    except RecursionError:
        return None, "nested too deeply"
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        return None, str(exc).split(":")[0]


_LABEL_ESCAPES = re.compile(r"\\(.)")


def _unescape_label(value: str) -> str:
    """Prometheus label escapes (\\\\, \\", \\n) only; anything else is kept as written."""
    if "\\" not in value:
        return value
    return _LABEL_ESCAPES.sub(
        lambda m: {"n": "\n", "\\": "\\", '"': '"'}.get(m.group(1), m.group(0)), value)


def _decode(body: bytes, charset: str) -> str:
    """``body`` as text; a charset that cannot decode falls back to UTF-8 with replacements."""
    try:
        return body.decode(charset, errors="replace")
    except (UnicodeError, LookupError):
        return body.decode("utf-8", errors="replace")


def _charset(content_type: str) -> str:
    match = re.search(r"charset=\"?([\w.-]+)", content_type, re.IGNORECASE)
    if match:
        try:
            "".encode(match.group(1))
            return match.group(1)
        except LookupError:
            pass
    return "utf-8"


def _looks_html(headers: httpx.Headers, text: str) -> bool:
    if "html" in headers.get("content-type", "").lower():
        return True
    start = text.lstrip()[:15].lower()
    return start.startswith(("<!doctype html", "<html"))


def _html_title(text: str) -> str:
    for tag in ("title", "h1"):
        match = re.search(rf"<{tag}[^>]*>(.*?)</{tag}>", text, re.IGNORECASE | re.DOTALL)
        if match:
            title = _one_line(html.unescape(re.sub(r"<[^>]+>", "", match.group(1))))
            if title:
                return title
    return "no title"


def _detail(parsed: Any) -> str | None:
    """A readable reason from an error body: FastAPI ``detail``, RFC 7807, or ``error``."""
    if not isinstance(parsed, dict):
        return None
    detail = parsed.get("detail")
    if isinstance(detail, str):
        title = parsed.get("title")
        return f"{title}: {detail}" if isinstance(title, str) else detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = item.get("loc")
                where = ".".join(str(p) for p in loc) if isinstance(loc, list) else None
                msg = item.get("msg") or item.get("message") or json.dumps(item)[:200]
                parts.append(f"{where}: {msg}" if where else str(msg))
            else:
                parts.append(str(item))
        return "; ".join(parts) or None
    if detail is not None:
        return json.dumps(detail)[:300]
    for key in ("message", "error_description", "error", "title"):
        value = parsed.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            return str(value["message"])
    return None


def _www_authenticate_description(headers: httpx.Headers) -> str | None:
    challenge = headers.get("www-authenticate", "")
    match = re.search(r'error_description="([^"]*)"', challenge)
    if match:
        return match.group(1)
    match = re.search(r'error="([^"]*)"', challenge)
    return match.group(1) if match else None


def _status_kind(code: int) -> ErrorKind:
    return kind_for_http_status(code) or ErrorKind.PROTOCOL_ERROR  # a 1xx/2xx/3xx where it is wrong


def _phrase(code: int, reason: str) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return reason or "Unknown"


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _snippet(text: str) -> str:
    return _one_line(text, 200)


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+-?\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')
