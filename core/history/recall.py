"""Reading back what a monitor needs at start: success counts and the newest results.

One query per part for all targets, using the ``(target, ts)`` index. Stored times are wall
clock; the caller's ``monotonic - now`` offset maps them onto the monotonic timeline of
``SuccessWindows``, and counts are grouped by the windows' own slots (minutes for the last
hour and more, ten minutes for the rest of 24 h), so a restarted monitor counts exactly
what the old one counted. Raw rows are kept 48 h by default, so they cover the 24 h window
whole (a ``[history] raw_hours`` under 25 leaves only what is kept).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from ..errors import ErrorKind
from ..probes.base import ProbeResult
from ..stats import COARSE_SLOT_S, FINE_SLOT_S
from .rows import RAW_COLUMNS, error_kind_of, utc

__all__ = ["Recall", "read_recall"]

_WINDOW_S: Final = 86400 + COARSE_SLOT_S  # the 24 h window plus its partly covered slot
_FINE_SPAN_S: Final = 3600 + COARSE_SLOT_S
_PER_COARSE: Final = COARSE_SLOT_S // FINE_SLOT_S

_COUNTS: Final = f"""
WITH names(name) AS (SELECT value FROM json_each(:names)),
r AS (
    SELECT r.target AS target, CAST((r.ts + :shift) / {FINE_SLOT_S} AS INTEGER) AS slot, r.ok AS ok
    FROM names JOIN results r ON r.target = names.name AND r.ts >= :since AND r.ts <= :until
)
SELECT target,
       CASE WHEN slot >= :fine THEN slot * {FINE_SLOT_S}
            ELSE (slot / {_PER_COARSE}) * {COARSE_SLOT_S} END AS start,
       COUNT(*), SUM(ok = 0)
FROM r GROUP BY target, start ORDER BY target, start
"""

_RECENT: Final = f"""
WITH names(name) AS (SELECT value FROM json_each(:names))
SELECT {', '.join('r.' + c.strip() for c in RAW_COLUMNS.split(','))}
FROM names JOIN results r ON r.target = names.name AND r.ts <= :until AND r.ts >= COALESCE(
    (SELECT ts FROM results WHERE target = names.name AND ts <= :until
     ORDER BY ts DESC LIMIT 1 OFFSET :skip), -1e300)
ORDER BY r.target, r.ts, r.id
"""


@dataclass(frozen=True, slots=True)
class Recall:
    """What the history holds of each target, ready for a monitor's memory.

    ``counts[target]``: ``(monotonic slot start, results, failures)``, oldest first.
    ``recent[target]``: the newest results (at most the ring size), oldest first.
    """

    counts: dict[str, list[tuple[float, int, int]]] = field(default_factory=dict)
    recent: dict[str, list[ProbeResult]] = field(default_factory=dict)


def read_recall(conn: sqlite3.Connection, targets: Iterable[str], *, wall_now: float,
                mono_now: float, ring: int) -> Recall:
    """Read the success counts (last 24 h) and the last ``ring`` results of ``targets``."""
    names = json.dumps(sorted(set(targets)))
    since = wall_now - _WINDOW_S
    # CAST truncates toward zero: shift every slot index above zero, then take it off again
    bias = _PER_COARSE * (math.ceil(max(0.0, _WINDOW_S - mono_now) / COARSE_SLOT_S) + 1)
    shift = mono_now - wall_now + bias * FINE_SLOT_S
    fine = _PER_COARSE * math.floor((wall_now - _FINE_SPAN_S + shift) / COARSE_SLOT_S)
    recall = Recall()
    for target, start, total, failures in conn.execute(_COUNTS, {
            "names": names, "shift": shift, "since": since, "until": wall_now, "fine": fine}):
        recall.counts.setdefault(target, []).append(
            (float(start - bias * FINE_SLOT_S), int(total), int(failures)))
    kinds: dict[str | None, ErrorKind | None] = {None: None}
    recent = recall.recent
    for t, k, ts, ok, deg, lat, ek, err, ph in conn.execute(
            _RECENT, {"names": names, "until": wall_now, "skip": ring - 1}):
        kind = kinds[ek] if ek in kinds else kinds.setdefault(ek, error_kind_of(ek))
        results = recent.get(t)
        if results is None:
            results = recent[t] = []
        results.append(ProbeResult(t, k, bool(ok), lat, utc(ts), json.loads(ph) if ph else {},
                                   kind, err, bool(deg)))
    for results in recall.recent.values():
        del results[:-ring]  # equal times at the cut can bring a few more
    return recall
