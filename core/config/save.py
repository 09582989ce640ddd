"""Writing the config back: atomic (temp file + replace), keeping the file's comments.

The file is edited, not regenerated: a section key is written only when its value changed
(or is not the default), each ``[[targets]]`` / ``[[remotes]]`` table that keeps its name is
updated in place (its comments and inline notes stay), removed ones are deleted and new
ones appended. Only when the order of the kept tables changed is the array rebuilt.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # tomlkit is imported when a config is saved, not when one is read
    from tomlkit.items import Table

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
    defaults = Config().to_dict()
    for key, value in config.to_dict().items():
        if key in ("targets", "remotes"):
            _merge_array(doc, key, value)
            continue
        table = doc.get(key)
        if not isinstance(table, dict):
            table = tomlkit.table()
            doc[key] = table
        for k, v in value.items():
            if k in table:
                if table[k] != v:
                    table[k] = v
            elif v != defaults[key].get(k):
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


def _merge_array(doc: Any, key: str, items: list[dict[str, Any]]) -> None:
    """Update ``doc[key]`` (an array of tables keyed by ``name``) to ``items`` in place."""
    import tomlkit
    from tomlkit.items import AoT

    old = doc.get(key)
    if not isinstance(old, AoT):
        if not items and key not in doc:
            return
        aot = tomlkit.aot()
        for item in items:
            aot.append(_table(item))
        doc[key] = aot
        return
    wanted = {item["name"]: item for item in items}
    for i in reversed(range(len(old))):
        if old[i].get("name") not in wanted:
            del old[i]
    kept = [str(t.get("name")) for t in old]
    if kept != [item["name"] for item in items][:len(kept)]:  # reordered: rebuild
        by_name = {str(t.get("name")): t for t in old}
        aot = tomlkit.aot()
        for item in items:
            aot.append(_update(by_name[item["name"]], item) if item["name"] in by_name
                       else _table(item))
        doc[key] = aot
        return
    for table in old:
        _update(table, wanted[str(table.get("name"))])
    for item in items[len(kept):]:
        old.append(_table(item))


def _update(table: Table, item: Mapping[str, Any]) -> Table:
    for k in [k for k in table if k not in item]:
        del table[k]
    for k, v in item.items():
        if k not in table or table[k] != v:
            table[k] = v
    return table


def _table(item: Mapping[str, Any]) -> Table:
    import tomlkit

    table = tomlkit.table()
    table.trivia.indent = "\n"  # a blank line before the new [[header]]
    for k, v in item.items():
        table[k] = v
    return table


