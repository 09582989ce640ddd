"""Typed configuration: TOML in, validated dataclasses out, atomic TOML save.

Where the file is: ``--config PATH``, else ``$NETMON_CONFIG``, else ``netmon.toml`` in the
platformdirs user config folder. A missing default file means the embedded defaults
(``resources/default_config.toml``, also the starter file ``netmon config init`` writes:
the dataclass defaults, a test keeps them equal, plus targets watching this machine's
network).
Every problem raises ``ConfigError`` naming the file, the field and what is allowed.
Secrets are never values here: ``password_keyring = "netmon/db"`` or
``password_env = "NETMON_DB_PASSWORD"``; a literal secret is rejected with the fix.

One job per module: ``model`` (the dataclasses), ``location`` (where the file is, the
embedded defaults), ``loader`` (read and validate), ``fields`` (the type-driven validator),
``dsn`` (PostgreSQL connection strings), ``urls`` (the URL checks), ``save``.
"""

from .dsn import Dsn, DsnError, parse_dsn
from .loader import load_config, parse_config, validate_section, validate_target
from .location import config_path, default_config_text
from .model import (
    FORWARD_NAME,
    RESOLVER_MODES,
    TARGET_KINDS,
    AuthSettings,
    BreakerSettings,
    Config,
    DatabaseSettings,
    HistorySettings,
    LoggingSettings,
    MonitorSettings,
    NotificationSettings,
    RemoteSettings,
    RetrySettings,
    ServiceSettings,
    Target,
    forward_entry,
    forward_env,
)
from .save import save_config
from .urls import is_http_url, url_has_credentials

__all__ = [
    "FORWARD_NAME",
    "RESOLVER_MODES",
    "TARGET_KINDS",
    "AuthSettings",
    "BreakerSettings",
    "Config",
    "DatabaseSettings",
    "Dsn",
    "DsnError",
    "HistorySettings",
    "LoggingSettings",
    "MonitorSettings",
    "NotificationSettings",
    "RemoteSettings",
    "RetrySettings",
    "ServiceSettings",
    "Target",
    "config_path",
    "default_config_text",
    "forward_entry",
    "forward_env",
    "is_http_url",
    "load_config",
    "parse_config",
    "parse_dsn",
    "save_config",
    "url_has_credentials",
    "validate_section",
    "validate_target",
]
