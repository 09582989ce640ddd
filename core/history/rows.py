"""Stored rows, tiers and the small conversions shared by the store's parts."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import platformdirs

from ..errors import ErrorKind
from ..log import redact
from ..probes.base import ProbeResult, iso_utc

__all__ = [
    "HOUR_RETENTION",
    "MINUTE_RETENTION",
    "RAW_RETENTION",
    "AggregateRow",
    "ExportFormat",
    "HistoryRow",
    "MaintenanceReport",
    "Resolution",
    "Retention",
    "default_history_path",
]

Resolution = Literal["auto", "raw", "1m", "1h"]
ExportFormat = Literal["csv", "json"]

RAW_RETENTION: Final = timedelta(hours=48)
MINUTE_RETENTION: Final = timedelta(days=30)
HOUR_RETENTION: Final = timedelta(days=400)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each tier is kept: raw results, 1-minute and 1-hour aggregates."""

    raw: timedelta = RAW_RETENTION
    minute: timedelta = MINUTE_RETENTION
    hour: timedelta = HOUR_RETENTION

    @classmethod
    def from_settings(cls, settings: Any) -> Retention:
        """From ``[history]`` (``raw_hours``, ``minute_days``, ``hour_days``)."""
        return cls(timedelta(hours=settings.raw_hours), timedelta(days=settings.minute_days),
                   timedelta(days=settings.hour_days))


def default_history_path() -> Path:
    """``<user data dir>/history.sqlite3`` (e.g. ``%LOCALAPPDATA%\\netmon\\history.sqlite3``)."""
    return Path(platformdirs.user_data_dir("netmon", appauthor=False)) / "history.sqlite3"


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One stored probe result (``ts`` is aware UTC; ``phases`` in milliseconds)."""

    target: str
    kind: str
    ts: datetime
    ok: bool
    degraded: bool
    latency_ms: float | None
    error_kind: ErrorKind | None
    error: str | None
    phases: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (timestamps ISO-8601 UTC with ``Z``)."""
        return {
            "target": self.target,
            "kind": self.kind,
            "ts": iso_utc(self.ts),
            "ok": self.ok,
            "degraded": self.degraded,
            "latency_ms": self.latency_ms,
            "error_kind": str(self.error_kind) if self.error_kind is not None else None,
            "error": self.error,
            "phases": dict(self.phases),
        }


@dataclass(frozen=True, slots=True)
class AggregateRow:
    """A 1-minute or 1-hour bucket of one target (``bucket`` is its aware UTC start).

    Latency figures cover the results that had a latency (``None`` if none had one). In
    1-hour rows ``latency_p95`` is the largest minute p95: an upper bound of the true p95.
    """

    target: str
    bucket: datetime
    count: int
    failures: int
    latency_min: float | None
    latency_avg: float | None
    latency_max: float | None
    latency_p95: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (timestamps ISO-8601 UTC with ``Z``)."""
        return {
            "target": self.target,
            "bucket": iso_utc(self.bucket),
            "count": self.count,
            "failures": self.failures,
            "latency_min": self.latency_min,
            "latency_avg": self.latency_avg,
            "latency_max": self.latency_max,
            "latency_p95": self.latency_p95,
        }


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one ``maintain()`` pass did (rows upserted / deleted per tier)."""

    minutes_rolled: int = 0
    hours_rolled: int = 0
    raw_deleted: int = 0
    minutes_deleted: int = 0
    hours_deleted: int = 0


RAW_FIELDS: Final = tuple(f.name for f in dataclasses.fields(HistoryRow))
AGG_FIELDS: Final = tuple(f.name for f in dataclasses.fields(AggregateRow))

#: The columns of ``results`` as read back, in this order.
RAW_COLUMNS: Final = "target, kind, ts, ok, degraded, latency_ms, error_kind, error, phases"


def epoch(when: datetime) -> float:
    """Seconds since the epoch (a naive datetime is taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def utc(ts: float) -> datetime:
    """Aware UTC datetime of epoch seconds."""
    return datetime.fromtimestamp(ts, UTC)


def floor_to(ts: float, step: int) -> int:
    """``ts`` rounded down to a multiple of ``step``."""
    return math.floor(ts / step) * step


def ceil_to(ts: float, step: int) -> int:
    """``ts`` rounded up to a multiple of ``step``."""
    return math.ceil(ts / step) * step


def to_row(r: ProbeResult) -> tuple[Any, ...]:
    """The ``results`` columns of ``r`` (error text redacted, details never stored)."""
    return (
        str(r.target), str(r.kind), epoch(r.checked_at), int(bool(r.ok)), int(bool(r.degraded)),
        None if r.latency_ms is None else float(r.latency_ms),
        str(r.error_kind) if r.error_kind is not None else None,
        redact(str(r.error)) if r.error else None,
        json.dumps({str(k): float(v) for k, v in r.phases.items()}),
    )


def error_kind_of(value: str | None) -> ErrorKind | None:
    """The stored error kind (an unknown one from a newer netmon reads as ``unknown``)."""
    if value is None:
        return None
    try:
        return ErrorKind(value)
    except ValueError:
        return ErrorKind.UNKNOWN


def history_row(t: str, k: str, ts: float, ok: int, deg: int, lat: float | None,
                ek: str | None, err: str | None, ph: str | None) -> HistoryRow:
    """A ``HistoryRow`` from the ``RAW_COLUMNS`` of one ``results`` row."""
    return HistoryRow(target=t, kind=k, ts=utc(ts), ok=bool(ok), degraded=bool(deg),
                      latency_ms=lat, error_kind=error_kind_of(ek), error=err,
                      phases=json.loads(ph) if ph else {})
