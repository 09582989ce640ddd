"""Reading the history tiers (raw results, 1-minute and 1-hour aggregates) on a connection.

``pick_tier`` chooses the finest tier that still holds the start of a range; ``read_tier``
reads a range from the chosen tier and ``read_success_rate`` the share of ok results.
Plain functions of a connection, run on the store's worker thread.
"""

from __future__ import annotations

import math
import sqlite3
from datetime import datetime
from typing import Any, Literal

from .rows import (
    RAW_COLUMNS,
    AggregateRow,
    HistoryRow,
    Resolution,
    Retention,
    epoch,
    floor_to,
    history_row,
    utc,
)

__all__ = ["Tier", "pick_tier", "read_success_rate", "read_tier"]

Tier = Literal["raw", "1m", "1h"]


def pick_tier(conn: sqlite3.Connection, target: str | None, since: datetime | None, *,
              now: float, retention: Retention) -> Tier:
    """The finest tier holding ``since`` (with no ``since``: the oldest stored data)."""
    if since is not None:
        start: float | None = epoch(since)
    else:
        where, args = ("WHERE target = ?", (target,)) if target is not None else ("", ())
        values = [conn.execute(f"SELECT MIN({col}) FROM {table} {where}", args).fetchone()[0]
                  for table, col in (("results", "ts"), ("agg_1m", "bucket"),
                                     ("agg_1h", "bucket"))]
        found = [float(v) for v in values if v is not None]
        start = min(found) if found else None
    if start is None or start >= now - retention.raw.total_seconds():
        return "raw"
    if start >= now - retention.minute.total_seconds():
        return "1m"
    return "1h"


def read_tier(
    conn: sqlite3.Connection, target: str | None, since: datetime | None,
    until: datetime | None, resolution: Resolution, *, now: float, retention: Retention,
) -> tuple[Tier, list[HistoryRow] | list[AggregateRow]]:
    """The tier read (``resolution``, or the one ``pick_tier`` chooses for ``"auto"``) and
    its rows with ``since <= time < until``, oldest first."""
    tier = (pick_tier(conn, target, since, now=now, retention=retention)
            if resolution == "auto" else resolution)
    clauses: list[str] = []
    args: list[Any] = []
    if target is not None:
        clauses.append("target = ?")
        args.append(target)
    if tier == "raw":
        if since is not None:
            clauses.append("ts >= ?")
            args.append(epoch(since))
        if until is not None:
            clauses.append("ts < ?")
            args.append(epoch(until))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        cursor = conn.execute(
            f"SELECT {RAW_COLUMNS} FROM results {where} ORDER BY ts, target, id", args)
        return tier, [history_row(*row) for row in cursor]
    step = 60 if tier == "1m" else 3600
    if since is not None:
        clauses.append("bucket >= ?")
        args.append(floor_to(epoch(since), step))
    if until is not None:
        clauses.append("bucket < ?")
        args.append(epoch(until))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    cursor = conn.execute(
        "SELECT target, bucket, count, failures, latency_min, latency_avg, latency_max, "
        f"latency_p95 FROM agg_{tier} {where} ORDER BY bucket, target", args)
    return tier, [
        AggregateRow(target=t, bucket=utc(b), count=int(n), failures=int(f),
                     latency_min=mn, latency_avg=av, latency_max=mx, latency_p95=p95)
        for t, b, n, f, mn, av, mx, p95 in cursor
    ]


def read_success_rate(conn: sqlite3.Connection, target: str, since: datetime | None, *,
                      now: float, retention: Retention) -> float | None:
    """Share of ok results of ``target`` since ``since`` (tier as ``pick_tier`` chooses);
    None when there is nothing in the range."""
    tier = pick_tier(conn, target, since, now=now, retention=retention)
    lo = epoch(since) if since is not None else -math.inf
    if tier == "raw":
        row = conn.execute(
            "SELECT COUNT(*), SUM(ok) FROM results WHERE target = ? AND ts >= ?",
            (target, lo)).fetchone()
    else:
        step = 60 if tier == "1m" else 3600
        row = conn.execute(
            f"SELECT SUM(count), SUM(count - failures) FROM agg_{tier} "
            "WHERE target = ? AND bucket >= ?",
            (target, floor_to(lo, step) if since is not None else lo)).fetchone()
    total, good = row
    if not total:
        return None
    return float(good) / float(total)
