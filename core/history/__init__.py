"""Probe history: a bounded in-memory ring per target, and a SQLite store with tiers.

- ``ring``: ``MemoryHistory``, the last results of each target for live graphs.
- ``store``: ``HistoryStore``, results in one SQLite file on a worker thread.
- ``rows``: the stored row types, tiers and retention.
- ``rollups``: the schema, minute/hour rollups and retention.
- ``db_file``: ``DbFile``, which file a store uses: locked out, corrupt, in memory only.
- ``files``: opening for writing or reading, locks, corrupt files, side files.
- ``recall``: what a monitor reads back at start (success counts, newest results).
- ``export``: CSV / JSON writing.
- ``timeline``: one target's series over a range, outages, breaker periods, uptime bars.
"""

from __future__ import annotations

from .files import HistoryUnavailableError
from .recall import Recall
from .ring import MemoryHistory
from .rows import (
    HOUR_RETENTION,
    MINUTE_RETENTION,
    RAW_RETENTION,
    AggregateRow,
    ExportFormat,
    HistoryRow,
    MaintenanceReport,
    Resolution,
    Retention,
    default_history_path,
)
from .store import HistoryStore
from .timeline import RANGES, BreakerPeriod, TimelineSeries

__all__ = [
    "HOUR_RETENTION",
    "MINUTE_RETENTION",
    "RANGES",
    "RAW_RETENTION",
    "AggregateRow",
    "BreakerPeriod",
    "ExportFormat",
    "HistoryRow",
    "HistoryStore",
    "HistoryUnavailableError",
    "MaintenanceReport",
    "MemoryHistory",
    "Recall",
    "Resolution",
    "Retention",
    "TimelineSeries",
    "default_history_path",
]
