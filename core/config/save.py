"""Writing the config back: atomic (temp file + replace), keeping the file's comments."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Config

__all__ = ["save_config"]


def save_config(config: Config, path: str | os.PathLike[str]) -> Path:
    """Write ``config`` atomically (temp file + replace), keeping comments already there."""
    import tomlkit  # only when saving: loading a config never needs it

    where = Path(path)
    doc = tomlkit.document()
    if where.exists():
        try:
            doc = tomlkit.parse(where.read_text("utf-8-sig"))
        except Exception:  # unreadable old file: write a fresh one
            doc = tomlkit.document()
    for key, value in config.to_dict().items():
        if key in ("targets", "remotes"):
            aot = tomlkit.aot()
            for t in value:
                aot.append(tomlkit.item(t))
            doc[key] = aot
            continue
        table = doc.get(key)
        if not isinstance(table, dict):
            table = tomlkit.table()
            doc[key] = table
        for k, v in value.items():
            table[k] = v
    where.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".netmon-", suffix=".toml.tmp", dir=where.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(tomlkit.dumps(doc))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, where)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return where
