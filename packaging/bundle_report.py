"""The size report printed at the end of a build: total, largest parts, largest files."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

MB = 1024 * 1024
TOP = 10


def _files(path: Path) -> list[tuple[int, Path]]:
    if path.is_file():
        return [(path.stat().st_size, path)]
    return [(p.stat().st_size, p) for p in path.rglob("*") if p.is_file() and not p.is_symlink()]


def _part(path: Path, root: Path) -> str:
    """The part a file belongs to: its package folder (PySide6/Qt/lib, numpy.libs...)."""
    rel = path.relative_to(root).parts
    if rel[0] != "_internal" or len(rel) == 2:
        return "/".join(rel)
    inner = rel[1:]
    depth = 3 if inner[:2] == ("PySide6", "Qt") else 1
    return "/".join(inner[:min(depth, len(inner) - 1)]) + "/"


def report(dist: str | os.PathLike[str], names: list[str]) -> str:
    """The report for the built ``names`` (folders or single files) under ``dist``."""
    lines = []
    for name in names:
        root = Path(dist) / name
        if not root.exists() and Path(f"{root}.exe").exists():
            root = Path(f"{root}.exe")
        files = _files(root)
        total = sum(size for size, _ in files)
        lines.append(f"size report: {root}  {total / MB:.1f} MB in {len(files)} files")
        if root.is_dir():
            parts: Counter[str] = Counter()
            for size, path in files:
                parts[_part(path, root)] += size
            lines.append(f"  largest {TOP} parts:")
            lines += [f"    {size / MB:7.1f} MB  {part}" for part, size in parts.most_common(TOP)]
            lines.append(f"  largest {TOP} files:")
            lines += [f"    {size / MB:7.1f} MB  {path.relative_to(root)}"
                      for size, path in sorted(files, reverse=True)[:TOP]]
    return "\n".join(lines)


def print_report(dist: str | os.PathLike[str], names: list[str]) -> None:
    """Print ``report`` (the build calls this last)."""
    print(report(dist, names), flush=True)


if __name__ == "__main__":
    print_report(sys.argv[1] if len(sys.argv) > 1 else "dist", sys.argv[2:] or ["netmon"])
