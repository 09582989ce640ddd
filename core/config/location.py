"""Where the config file is, and the embedded defaults used when there is none."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["APP_NAME", "config_path", "default_config_text"]

APP_NAME = "netmon"


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit``, else ``$NETMON_CONFIG``, else the per-user default location
    (``%APPDATA%\\netmon\\netmon.toml`` on Windows)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("NETMON_CONFIG")
    if env:
        return Path(env)
    import platformdirs

    # Roaming: the settings follow the user between Windows machines (%APPDATA%), while
    # history and logs stay in %LOCALAPPDATA%.
    folder = platformdirs.user_config_dir(APP_NAME, appauthor=False, roaming=True)
    return Path(folder) / "netmon.toml"


def default_config_text() -> str:
    """The embedded default configuration, with its comments."""
    from importlib import resources

    return resources.files("resources").joinpath("default_config.toml").read_text("utf-8")
