"""Writing history rows as CSV or JSON (timestamps ISO-8601 UTC with ``Z``)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import IO, Any, Final

from .rows import AggregateRow, HistoryRow

__all__ = ["FORMATS", "RESOLUTIONS", "check_resolution", "write_rows"]

FORMATS: Final = ("csv", "json")
RESOLUTIONS: Final = ("auto", "raw", "1m", "1h")


def check_resolution(resolution: str) -> None:
    """Raise ``ValueError`` for a resolution that is not one of ``RESOLUTIONS``."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"unknown resolution {resolution!r}: use one of {', '.join(RESOLUTIONS)}")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def write_rows(fp: IO[str], rows: Sequence[HistoryRow | AggregateRow], fmt: str,
               fields: tuple[str, ...]) -> int:
    """Write ``rows`` (their ``fields``, in order) to ``fp`` as ``fmt``; returns the count."""
    if fmt == "csv":
        writer = csv.writer(fp, lineterminator="\n")
        writer.writerow(fields)
        for row in rows:
            data = row.as_dict()
            writer.writerow([_csv_value(data[name]) for name in fields])
    else:
        buffer = io.StringIO()
        buffer.write("[")
        for i, row in enumerate(rows):
            buffer.write(",\n" if i else "\n")
            buffer.write(json.dumps(row.as_dict(), ensure_ascii=False))
        buffer.write("\n]\n" if rows else "]\n")
        fp.write(buffer.getvalue())
    fp.flush()
    return len(rows)
