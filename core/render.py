"""Plain-text rendering for terminals: ASCII tables and durations."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .log import ascii_safe, printable
from .probes.dns import resolver_summary

__all__ = ["format_ms", "parse_since", "shown", "status_table", "table", "text_lines"]


def shown(value: object) -> str:
    """One value as terminal text: control characters as visible escapes, ASCII only.
    Everything printed that came from a token, a config, a server or a remote passes here."""
    return ascii_safe(printable("" if value is None else str(value)))


def text_lines(lines: Iterable[str]) -> str:
    """Lines joined for the terminal, each through ``shown``: no value adds or hides a line."""
    return "\n".join(map(shown, lines))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces (ASCII, control characters escaped)."""
    cells = [[shown(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in cells]
    return "\n".join(lines)


def format_ms(value: float | None) -> str:
    """``12.3 ms``, ``1.20 s`` or ``-``."""
    if value is None:
        return "-"
    return f"{value:.1f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def status_table(snapshot: Mapping[str, Any]) -> str:
    """The human form of a status snapshot: overall line, targets, conditions."""
    rows = [
        (t["name"], t["kind"], t["status"].upper(), format_ms(t["latency_ms"]),
         t["error_kind"] or "", _detail(t)[:120])
        for t in snapshot["targets"]
    ]
    reason = f": {snapshot['reason']}" if snapshot.get("reason") else ""
    head = [f"netmon: {snapshot['status'].upper()} (HTTP {snapshot['http_status']}), "
            f"{len(rows)} target(s) at {snapshot['generated_at']}{reason}"]
    head += [f"!! {c['id']}: {c['detail']}" for c in snapshot.get("conditions", [])]
    tail = [f"-> [{s['severity']}] {s['title']}: {s['detail']}"
            for s in snapshot.get("suggestions", [])]
    tables = [table(("TARGET", "KIND", "STATUS", "LATENCY", "ERROR KIND", "DETAIL"), rows)
              ] if rows else []
    return "\n".join([text_lines(head), *tables, *([text_lines(tail)] if tail else [])])


def _detail(target: Mapping[str, Any]) -> str:
    """The error, or for a DNS target where a resolver failed, who said what."""
    answers = target.get("resolvers") or []
    if len(answers) > 1 and any(not a.get("ok") for a in answers):
        return resolver_summary(answers)
    return str(target.get("error") or target.get("reason") or "")


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``24h``, ``30m``, ``7d`` before now, or an ISO-8601 time (naive means UTC)."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text.strip().lower())
    if match:
        return now - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--since {text!r}: use a duration like 30m, 24h, 7d or an ISO time "
            "like 2026-11-28T09:00:00Z") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
