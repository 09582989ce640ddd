"""Text for people: local times, latencies, percentages (core keeps UTC inside)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = ["latency", "local_time", "localize_times", "parse_iso", "percent", "shorten",
           "window_title"]

_STAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")

DASH = "\u2014"


def parse_iso(text: str | None) -> datetime | None:
    """An aware datetime from the core's ``...Z`` ISO strings (None stays None)."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def local_time(when: datetime | str | None, *, now: datetime | None = None) -> str:
    """``14:03:07`` today, ``2026-01-31 14:03`` otherwise, in the machine's local zone
    (text that is not an ISO time, e.g. from a foreign backend, is shown as it is)."""
    try:
        value = parse_iso(when) if isinstance(when, str) else when
    except ValueError:
        return str(when)
    if value is None:
        return DASH
    local = value.astimezone()
    today = (now or datetime.now().astimezone()).date()
    if local.date() == today:
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M")


def localize_times(text: str) -> str:
    """Rewrite aware timestamps inside ``text`` (e.g. core suggestions) in local time."""
    return _STAMP.sub(lambda m: local_time(m.group(0).replace(" ", "T")), text)


def latency(ms: float | None) -> str:
    """``0.8 ms``, ``12 ms``, ``1.4 s``."""
    if ms is None:
        return DASH
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.1f} s"


def percent(ratio: float | None) -> str:
    """``99.5%`` / ``100%``; a dash when nothing was measured."""
    if ratio is None:
        return DASH
    value = ratio * 100
    return f"{value:.0f}%" if value in (0, 100) else f"{value:.1f}%"


def shorten(text: str, limit: int = 80) -> str:
    """First line of ``text``, cut to ``limit`` characters with an ellipsis."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "\u2026"


def window_title(snapshot: Mapping[str, Any]) -> str:
    """``netmon - DEGRADED (2 down)``: the overall status and what is not up."""
    status = str(snapshot.get("status") or "unknown").upper()
    counts = Counter(str(t.get("status")) for t in snapshot.get("targets", []))
    parts = [f"{counts[s]} {s}" for s in ("down", "degraded") if counts.get(s)]
    return f"netmon - {status}" + (f" ({', '.join(parts)})" if parts else "")
