"""Where a running console serves its endpoints, so ``--remote local`` can find it.

The console (with ``[service] console = true``) serves ``core.service``'s router on a free
127.0.0.1 port and announces its URL in a small JSON file in the per-user state folder;
it withdraws the file when it stops. The file holds no secret: callers still need a bearer
token the console's auth service accepts.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import platformdirs

from .config.location import APP_NAME

__all__ = ["LOCAL_NAME", "announce", "console_file", "find_console", "withdraw"]

#: The ``--remote`` name of the console running on this machine.
LOCAL_NAME = "local"


def console_file() -> Path:
    """The announcement file (``console.json`` in the per-user state folder)."""
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False)) / "console.json"


def announce(url: str) -> Path:
    """Record (atomically) that this process serves the console's endpoints at ``url``."""
    path = console_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".console-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"url": url, "pid": os.getpid()}, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def withdraw(url: str) -> None:
    """Remove the announcement if it is still ours (another console may have replaced it)."""
    if find_console() == url:
        console_file().unlink(missing_ok=True)


def find_console() -> str | None:
    """The URL a running console announced, if any (it may have died since: the caller's
    request then fails as refused, which says so)."""
    try:
        data = json.loads(console_file().read_text("utf-8"))
    except (OSError, ValueError):
        return None
    url = data.get("url") if isinstance(data, dict) else None
    return url if isinstance(url, str) and url.startswith("http://127.0.0.1:") else None
