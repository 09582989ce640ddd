"""The SQLite schema, and the rollups and retention that keep the tiers.

Completed minutes are rolled up from raw rows (p95 exact, nearest-rank); completed hours
from minute rows (p95 = the largest minute p95, an upper bound). A late result for a minute
already rolled up rewinds the minute mark so that minute (and its hour) is rolled up again
while its raw rows exist. "Completed" and retention are judged on the caller's ``now``.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from .rows import MaintenanceReport, Retention, ceil_to, floor_to

__all__ = ["BREAKER_INSERT", "INSERT", "SCHEMA", "Marks", "load_marks", "rewind",
           "rollup_and_prune"]

Marks = dict[str, float]

SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS results (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        kind TEXT NOT NULL,
        ts REAL NOT NULL,
        ok INTEGER NOT NULL,
        degraded INTEGER NOT NULL,
        latency_ms REAL,
        error_kind TEXT,
        error TEXT,
        phases TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX IF NOT EXISTS results_target_ts ON results (target, ts)",
    "CREATE INDEX IF NOT EXISTS results_ts ON results (ts)",
    *(
        f"""CREATE TABLE IF NOT EXISTS {table} (
            target TEXT NOT NULL,
            bucket INTEGER NOT NULL,
            count INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            latency_n INTEGER NOT NULL,
            latency_min REAL,
            latency_avg REAL,
            latency_max REAL,
            latency_p95 REAL,
            PRIMARY KEY (target, bucket)
        ) WITHOUT ROWID"""
        for table in ("agg_1m", "agg_1h")
    ),
    "CREATE INDEX IF NOT EXISTS agg_1m_bucket ON agg_1m (bucket)",
    "CREATE INDEX IF NOT EXISTS agg_1h_bucket ON agg_1h (bucket)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value REAL NOT NULL)",
    """CREATE TABLE IF NOT EXISTS audit (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        action TEXT NOT NULL,
        origin TEXT NOT NULL,
        subject TEXT,
        ok INTEGER NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE IF NOT EXISTS breaker_events (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        breaker TEXT NOT NULL,
        old TEXT NOT NULL,
        new TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX IF NOT EXISTS breaker_events_name_ts ON breaker_events (breaker, ts)",
)

# Minute rollup: count/failures/min/avg/max per (target, minute) and the exact nearest-rank
# p95: the ceil(0.95 * n)-th smallest latency, i.e. row number (95 * n + 99) / 100.
_ROLLUP_MINUTES: Final = """
WITH r AS (
    SELECT target, CAST(ts / 60 AS INTEGER) * 60 AS bucket, ok, latency_ms
    FROM results WHERE ts >= ? AND ts < ?
),
g AS (
    SELECT target, bucket, COUNT(*) AS n, SUM(ok = 0) AS failures, COUNT(latency_ms) AS nl,
           MIN(latency_ms) AS mn, AVG(latency_ms) AS av, MAX(latency_ms) AS mx
    FROM r GROUP BY target, bucket
),
ranked AS (
    SELECT target, bucket, latency_ms,
           ROW_NUMBER() OVER (PARTITION BY target, bucket ORDER BY latency_ms) AS rn
    FROM r WHERE latency_ms IS NOT NULL
)
INSERT OR REPLACE INTO agg_1m
    (target, bucket, count, failures, latency_n, latency_min, latency_avg, latency_max,
     latency_p95)
SELECT g.target, g.bucket, g.n, g.failures, g.nl, g.mn, g.av, g.mx, ranked.latency_ms
FROM g LEFT JOIN ranked
    ON ranked.target = g.target AND ranked.bucket = g.bucket
    AND ranked.rn = (95 * g.nl + 99) / 100
"""

# Hour rollup from minute rows: sums, min of mins, max of maxes, avg weighted by the number
# of latencies, p95 = max of minute p95s (an upper bound).
_ROLLUP_HOURS: Final = """
INSERT OR REPLACE INTO agg_1h
    (target, bucket, count, failures, latency_n, latency_min, latency_avg, latency_max,
     latency_p95)
SELECT target, (bucket / 3600) * 3600, SUM(count), SUM(failures), SUM(latency_n),
       MIN(latency_min), SUM(latency_avg * latency_n) / NULLIF(SUM(latency_n), 0),
       MAX(latency_max), MAX(latency_p95)
FROM agg_1m WHERE bucket >= ? AND bucket < ?
GROUP BY target, bucket / 3600
"""

BREAKER_INSERT: Final = (
    "INSERT INTO breaker_events (ts, breaker, old, new, reason) VALUES (?, ?, ?, ?, ?)")

INSERT: Final = (
    "INSERT INTO results (target, kind, ts, ok, degraded, latency_ms, error_kind, error, phases)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def load_marks(conn: sqlite3.Connection) -> Marks:
    """The rollup marks kept in the ``meta`` table."""
    return {str(k): float(v) for k, v in conn.execute("SELECT key, value FROM meta")}


def _set_mark(conn: sqlite3.Connection, marks: Marks, key: str, value: float) -> None:
    marks[key] = value
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def rewind(conn: sqlite3.Connection, marks: Marks, oldest: float, now: float,
           retention: Retention) -> None:
    """A late result (at ``oldest``) for a minute already rolled up: roll it up again."""
    rolled = marks.get("rolled_1m", 0.0)
    if oldest < rolled:
        floor = ceil_to(now - retention.raw.total_seconds(), 60)  # raw rows still complete
        start = float(max(floor_to(oldest, 60), floor))
        if start < rolled:
            _set_mark(conn, marks, "rolled_1m", start)


def rollup_and_prune(conn: sqlite3.Connection, marks: Marks, now: float,
                     retention: Retention) -> MaintenanceReport:
    """Roll up completed minutes and hours, then delete what is past ``retention``."""
    minutes = hours = 0
    m_start, m_end = marks.get("rolled_1m", 0.0), float(floor_to(now, 60))
    h_start = marks.get("rolled_1h", 0.0)
    if m_start < m_end:
        minutes = conn.execute(_ROLLUP_MINUTES, (m_start, m_end)).rowcount
        _set_mark(conn, marks, "rolled_1m", m_end)
        if m_start < h_start:  # minutes of a rolled hour changed: redo that hour
            h_floor = ceil_to(now - retention.minute.total_seconds(), 3600)
            h_start = min(h_start, float(max(floor_to(m_start, 3600), h_floor)))
    h_end = float(floor_to(now, 3600))
    if h_start < h_end:
        hours = conn.execute(_ROLLUP_HOURS, (int(h_start), int(h_end))).rowcount
        _set_mark(conn, marks, "rolled_1h", h_end)
    raw = conn.execute("DELETE FROM results WHERE ts < ?",
                       (now - retention.raw.total_seconds(),)).rowcount
    m_del = conn.execute("DELETE FROM agg_1m WHERE bucket < ?",
                         (now - retention.minute.total_seconds(),)).rowcount
    h_del = conn.execute("DELETE FROM agg_1h WHERE bucket < ?",
                         (now - retention.hour.total_seconds(),)).rowcount
    conn.execute("DELETE FROM audit WHERE ts < ?", (now - retention.hour.total_seconds(),))
    conn.execute("DELETE FROM breaker_events WHERE ts < ?",
                 (now - retention.hour.total_seconds(),))
    return MaintenanceReport(minutes, hours, raw, m_del, h_del)
