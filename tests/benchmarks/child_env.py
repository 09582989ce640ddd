"""The environment a benchmark gives the programs it times."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["child_env"]

ROOT = Path(__file__).resolve().parents[2]


def child_env() -> dict[str, str]:
    """This environment without proxies, with this checkout first on the path, Qt offscreen,
    and bytecode caching on: installed programs run with compiled bytecode cached (pip
    compiles at install, a frozen bundle ships it); a machine that sets
    PYTHONDONTWRITEBYTECODE would otherwise time the compiler on every start."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env
