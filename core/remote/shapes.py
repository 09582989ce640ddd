"""The shapes of ARCHITECTURE.md's bodies, and their normalisation: missing fields filled and
flagged, extra fields kept and flagged (unless netmon itself sends them), unknown
vocabulary kept and flagged."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


# --- shapes ------------------------------------------------------------------------------
class _ShapeError(Exception):
    """The body is JSON of the wrong type (e.g. a list where an object is expected)."""


@dataclass(frozen=True)
class _Shape:
    """Expected keys of one JSON object and how to normalize them."""

    fields: tuple[str, ...]
    known: frozenset[str] = frozenset()          # extras netmon itself sends: not flagged
    optional: Mapping[str, Any] = field(default_factory=dict)  # filled silently when absent
    aliases: Mapping[str, str] = field(default_factory=dict)
    vocab: Mapping[str, frozenset[Any]] = field(default_factory=dict)
    objects: Mapping[str, _Shape] = field(default_factory=dict)  # nested objects
    fill: frozenset[str] = frozenset()           # nested objects filled (not None) if missing
    lists: Mapping[str, _Shape] = field(default_factory=dict)    # lists of entries
    maps: frozenset[str] = frozenset()           # free-form objects ({} when missing)
    label: str = "name"                          # key naming an entry in messages


_STATES = frozenset({"closed", "open", "half_open", "forced_open"})
_TARGET = _Shape(
    ("name", "kind", "status", "latency_ms", "phases", "error_kind", "error", "checked_at",
     "success_rate"),
    known=frozenset({"reason", "latency_p50_ms", "latency_p95_ms", "paused", "missed",
                     "breaker", "resolvers"}),
    aliases={"state": "status", "type": "kind", "latency": "latency_ms",
             "error_type": "error_kind", "last_checked": "checked_at"},
    vocab={"status": frozenset({"up", "degraded", "down", "unknown"}),
           "kind": frozenset({"dns", "tcp", "http", "postgres", "supabase", "icmp",
                                "gateway"})},
    objects={"success_rate": _Shape(("5m", "1h", "24h"))},
    fill=frozenset({"success_rate"}),
    maps=frozenset({"phases"}),
)
_BREAKER = _Shape(
    ("name", "state", "consecutive_failures", "failure_threshold", "reset_timeout_s",
     "opened_at", "retry_at", "calls", "failures", "rejected"),
    aliases={"status": "state", "reset_timeout": "reset_timeout_s",
             "threshold": "failure_threshold"},
    vocab={"state": _STATES},
)
_SUGGESTION = _Shape(
    ("id", "severity", "title", "detail", "action"),
    known=frozenset({"target"}),
    aliases={"level": "severity", "message": "detail", "description": "detail"},
    vocab={"severity": frozenset({"info", "warning", "critical"}),
           "action": frozenset({None, "reset_breaker", "clear_auth_cache",
                                "reconnect_database", "probe_all", "probe_now", "diagnose"})},
    label="id",
)
_AUTH = _Shape(
    ("cached_tokens", "failed_tokens", "hits", "misses", "offline_validations"),
    known=frozenset({"failed_attempts", "remote", "local", "offline", "refused", "evicted",
                     "breaker"}),
)
_DB_KNOWN = frozenset({"acquire_wait_p95_ms", "last_error_kind", "last_error", "error_kind",
                       "breaker", "next_attempt_at"})
_POOL = _Shape(("size", "idle", "in_use", "max"))
_DATABASE = _Shape(
    ("status", "pool", "mode"), known=_DB_KNOWN,
    vocab={"status": frozenset({"up", "degraded", "down"}),
           "mode": frozenset({"normal", "emergency"})},
    objects={"pool": _POOL}, fill=frozenset({"pool"}),
)
_OVERALL = frozenset({"healthy", "degraded", "unhealthy", "unknown"})
_SNAPSHOT = _Shape(
    ("status", "http_status", "generated_at", "targets", "breakers", "auth", "database",
     "suggestions"),
    optional={"conditions": []},
    known=frozenset({"reason"}),
    aliases={"checks": "targets", "timestamp": "generated_at", "status_code": "http_status"},
    vocab={"status": _OVERALL},
    objects={"auth": _AUTH, "database": _DATABASE},
    lists={"targets": _TARGET, "breakers": _BREAKER, "suggestions": _SUGGESTION},
)
_HEALTH = _Shape(
    ("status", "checks", "suggestions"),
    optional={"generated_at": None, "conditions": []},
    aliases={"targets": "checks"},
    vocab={"status": _OVERALL},
    lists={"checks": _TARGET, "suggestions": _SUGGESTION},
)
_HEALTH_DB = _Shape(
    ("status", "mode", "pool", "breaker", "probe"),
    known=_DB_KNOWN - {"breaker"},
    vocab=_DATABASE.vocab,
    objects={"pool": _POOL, "breaker": _BREAKER, "probe": _TARGET},
    fill=frozenset({"pool"}),
)
_SUGGESTIONS = _Shape(("suggestions",), lists={"suggestions": _SUGGESTION})
_RESET = _Shape(
    ("breakers",), known=frozenset({"ok", "reason"}),
    lists={"breakers": _Shape(("name", "before", "after"),
                              vocab={"before": _STATES, "after": _STATES})},
)
_CLEARED = _Shape(
    ("cleared",), known=frozenset({"before", "after", "note", "ok", "reason"}),
    objects={"cleared": _Shape(("cached", "failed"))}, fill=frozenset({"cleared"}),
)


def _canon(key: str) -> str:
    """``latencyMs`` / ``Latency-MS`` -> ``latency_ms``."""
    key = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key)
    return key.lower().replace("-", "_").replace(" ", "_")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _empty(shape: _Shape) -> dict[str, Any]:
    """An object of ``shape`` with every field unset (no problems reported)."""
    out: dict[str, Any] = {}
    for key in shape.fields:
        if key in shape.lists:
            out[key] = []
        elif key in shape.maps:
            out[key] = {}
        elif key in shape.objects and key in shape.fill:
            out[key] = _empty(shape.objects[key])
        else:
            out[key] = None
    out.update({k: _copy_default(v) for k, v in shape.optional.items()})
    return out


def _copy_default(value: Any) -> Any:
    return list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) \
        else value


def _normalize(value: Any, shape: _Shape, where: str, problems: list[str]) -> dict[str, Any]:
    """``value`` as an object of ``shape``; problems are appended, never raised."""
    at = f" in {where}" if where else ""
    if not isinstance(value, dict):
        problems.append(f"expected an object{at}, got {_type_name(value)}")
        return _empty(shape)
    expected = set(shape.fields) | set(shape.optional)
    source: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for key, item in value.items():
        if key in expected:
            source[key] = item
            continue
        name = shape.aliases.get(_canon(key), _canon(key))
        if name in expected and name not in value and name not in source:
            problems.append(f"field {key!r} read as {name!r}{at}")
            source[name] = item
        else:
            extras[key] = item
    out: dict[str, Any] = {}
    for key in shape.fields:
        if key not in source:
            problems.append(f"missing field {key!r}{at}")
            out[key] = _empty(shape)[key]
            continue
        out[key] = _field(key, source[key], shape, where, problems)
    for key, default in shape.optional.items():
        out[key] = source[key] if key in source else _copy_default(default)
    for key, item in extras.items():
        if key not in shape.known:
            problems.append(f"extra field {key!r}{at}")
        out[key] = item
    return out


def _field(key: str, item: Any, shape: _Shape, where: str, problems: list[str]) -> Any:
    sub = f"{where}.{key}" if where else key
    if key in shape.lists:
        if not isinstance(item, list):
            problems.append(f"expected a list in {sub}, got {_type_name(item)}")
            return []
        entry = shape.lists[key]
        out = []
        for i, element in enumerate(item):
            label = element.get(entry.label) if isinstance(element, dict) else None
            here = f"{sub}[{i}]" + (f" ({label})" if isinstance(label, str) else "")
            if not isinstance(element, dict):
                problems.append(f"expected an object in {here}, got {_type_name(element)}; "
                                "skipped")
                continue
            out.append(_normalize(element, entry, here, problems))
        return out
    if key in shape.objects:
        if item is None:
            return None
        return _normalize(item, shape.objects[key], sub, problems)
    if key in shape.maps and not isinstance(item, dict):
        problems.append(f"expected an object in {sub}, got {_type_name(item)}")
        return {}
    allowed = shape.vocab.get(key)
    if allowed is not None and (not isinstance(item, str | None) or item not in allowed):
        problems.append(f"unknown {key} value {item!r} in {where or 'the answer'}")
    return item


def _shape_of(shape: _Shape) -> Callable[[Any], tuple[dict[str, Any], list[str]]]:
    def normalize(data: Any) -> tuple[dict[str, Any], list[str]]:
        if not isinstance(data, dict):
            raise _ShapeError(f"expected a JSON object, got {_type_name(data)}"
                              + (f" ({len(data)} items)" if isinstance(data, list) else ""))
        problems: list[str] = []
        return _normalize(data, shape, "", problems), problems
    return normalize


def normalize_snapshot(data: Any) -> tuple[dict[str, Any], list[str]]:
    """``data`` as the status snapshot of ARCHITECTURE.md, and the problems found.

    Every snapshot key is present (plus ``conditions``, as ``core.status.build`` gives);
    entries of ``targets``, ``breakers`` and ``suggestions`` get their keys normalized
    (``latencyMs`` -> ``latency_ms``, a few common aliases), missing fields become None or
    empty and are flagged, extra fields are kept and flagged, unknown vocabulary values are
    kept and flagged. Anything but an object gives the empty snapshot and a problem.
    """
    problems: list[str] = []
    return _normalize(data, _SNAPSHOT, "", problems), problems


