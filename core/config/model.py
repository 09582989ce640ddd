"""The configuration's shape: one frozen dataclass per section, with defaults and bounds.

``_spec`` records each field's bounds or choices as field metadata; the validator
(``core.config.fields``) reads them. Secrets are never values here: a ``*_keyring`` entry
or ``*_env`` variable names where one lives (see ``core.secrets.SecretRef``).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..secrets import SecretRef

__all__ = [
    "FORWARD_NAME",
    "RESOLVER_MODES",
    "TARGET_KINDS",
    "AuthSettings",
    "BreakerSettings",
    "Config",
    "DatabaseSettings",
    "HistorySettings",
    "LoggingSettings",
    "MonitorSettings",
    "NotificationSettings",
    "RemoteSettings",
    "RetrySettings",
    "ServiceSettings",
    "Target",
    "forward_entry",
    "forward_env",
]

#: ``icmp``: is ``host`` there (ICMP echo, else TCP); ``gateway``: is the current default
#: gateway there (no host: read from the routing table at each probe).
TARGET_KINDS = ("dns", "tcp", "http", "postgres", "supabase", "icmp", "gateway")
#: Which answers decide a dns target: the OS resolver, the nameservers asked directly, or
#: the OS resolver with the direct answers beside it (partial answers are "degraded").
RESOLVER_MODES = ("both", "os", "direct")
#: A forwarding destination's name (``[notifications] forward``).
FORWARD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def forward_entry(name: str) -> str:
    """The keyring entry holding destination ``name``'s apprise URL (its secrets with it)."""
    return f"netmon/forward/{name}"


def forward_env(name: str) -> str:
    """The environment variable that may hold destination ``name``'s apprise URL where no
    keyring exists (a service account): ``ops-chat`` -> ``NETMON_FORWARD_OPS_CHAT``."""
    return "NETMON_FORWARD_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def _spec(
    default: Any, *, min: float | None = None, max: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A field with a default and the bounds or choices the validator enforces."""
    return field(default=default, metadata={"min": min, "max": max, "choices": choices})


@dataclass(frozen=True)
class MonitorSettings:
    """How often and how hard targets are probed."""

    interval_s: float = _spec(30.0, min=1, max=86400)
    timeout_s: float = _spec(10.0, min=0.1, max=600)
    concurrency: int = _spec(64, min=1, max=10000)
    workers: int = _spec(0, min=0, max=64)  # probe worker processes (0: probe on the loop)
    down_after: int = _spec(3, min=1, max=1000)
    up_after: int = _spec(1, min=1, max=1000)
    latency_threshold_ms: float = _spec(1000.0, min=1, max=600000)


@dataclass(frozen=True)
class BreakerSettings:
    """Circuit breaker defaults for every dependency."""

    failure_threshold: int = _spec(3, min=1, max=1000)
    reset_timeout_s: float = _spec(30.0, min=0, max=86400)
    half_open_max_calls: int = _spec(1, min=1, max=1000)
    success_threshold: int = _spec(1, min=1, max=1000)
    follow_probes: bool = True  # monitor probes feed the breaker of the dependency they watch


@dataclass(frozen=True)
class RetrySettings:
    """Retry defaults: attempts and exponential backoff with jitter."""

    max_attempts: int = _spec(5, min=1, max=100)
    base_delay_s: float = _spec(0.5, min=0, max=3600)
    max_delay_s: float = _spec(30.0, min=0, max=86400)
    jitter: str = _spec("full", choices=("none", "full", "equal", "decorrelated"))


@dataclass(frozen=True)
class AuthSettings:
    """The resilient auth service: token cache and where keys live."""

    token_ttl_s: float = _spec(300.0, min=0, max=86400)
    failed_token_ttl_s: float = _spec(300.0, min=0, max=86400)
    cache_size: int = _spec(10000, min=1, max=10_000_000)
    supabase_url: str = ""
    apikey_keyring: str = ""
    apikey_env: str = ""
    jwt_secret_keyring: str = ""
    jwt_secret_env: str = ""
    algorithms: list[str] = field(default_factory=lambda: ["HS256", "RS256", "ES256"])
    audience: str = ""
    issuer: str = ""
    leeway_s: float = _spec(30.0, min=0, max=3600)
    allow_tokens_without_exp: bool = False  # never-expiring tokens (NaN/Infinity: always no)

    @property
    def apikey(self) -> SecretRef:
        return SecretRef(self.apikey_keyring or None, self.apikey_env or None)

    @property
    def jwt_secret(self) -> SecretRef:
        return SecretRef(self.jwt_secret_keyring or None, self.jwt_secret_env or None)


@dataclass(frozen=True)
class DatabaseSettings:
    """The database resilience layer: which postgres target it manages, and its pool."""

    target: str = ""
    pool_min: int = _spec(1, min=0, max=1000)
    pool_max: int = _spec(10, min=1, max=1000)
    command_timeout_s: float = _spec(30.0, min=0.1, max=3600)
    acquire_timeout_s: float = _spec(10.0, min=0.01, max=3600)


@dataclass(frozen=True)
class ServiceSettings:
    """``netmon serve``: where it listens and which token role may call /api/v1."""

    host: str = "127.0.0.1"
    port: int = _spec(8787, min=1, max=65535)
    required_role: str = "service_role"
    role_claim: str = "role"
    console: bool = False  # the console serves these endpoints on 127.0.0.1 while it runs


@dataclass(frozen=True)
class LoggingSettings:
    """Console and rotating-file logging."""

    level: str = _spec("INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    file: bool = True


@dataclass(frozen=True)
class HistorySettings:
    """Where probe history is kept (empty path: the platformdirs data folder) and how long
    each tier is: raw results, 1-minute and 1-hour aggregates (each at least as long as the
    finer one before it)."""

    enabled: bool = True
    path: str = ""
    raw_hours: float = _spec(48.0, min=1, max=8784)
    minute_days: float = _spec(30.0, min=1, max=3660)
    hour_days: float = _spec(400.0, min=1, max=36600)


@dataclass(frozen=True)
class NotificationSettings:
    """When to tell the operator (``core.notify.NotifyPolicy``; the console's tray shows the
    notices) and where they are forwarded (``core.forward``): ``forward`` lists destination
    names, each an apprise URL kept in the OS keyring (entry ``netmon/forward/<name>``) or,
    without a keyring, in ``NETMON_FORWARD_<NAME>`` (``forward_env``), never the URL
    itself."""

    enabled: bool = True
    quiet_s: float = _spec(300.0, min=0, max=86400)  # hold a repeat down notice this long
    reminder_s: float = _spec(3600.0, min=60, max=604800)  # remind of a target still down
    forward: list[str] = field(default_factory=list)  # names of apprise URLs (keyring / env)
    forward_timeout_s: float = _spec(15.0, min=1, max=300)  # one destination's send, at most


@dataclass(frozen=True)
class Target:
    """One dependency to probe. Fields a kind does not use must stay unset."""

    name: str
    kind: str = field(metadata={"choices": TARGET_KINDS})
    enabled: bool = True
    host: str = ""
    port: int = _spec(0, min=0, max=65535)
    url: str = ""
    dsn: str = ""
    nameservers: list[str] = field(default_factory=list)
    system_nameservers: bool = True
    record_types: list[str] = field(default_factory=lambda: ["A", "AAAA"])
    resolver: str = _spec("both", choices=RESOLVER_MODES)  # dns: which answers decide
    expect_addresses: list[str] = field(default_factory=list)  # dns: one must be among them
    interval_s: float | None = _spec(None, min=1, max=86400)
    timeout_s: float | None = _spec(None, min=0.1, max=600)
    latency_threshold_ms: float | None = _spec(None, min=1, max=600000)
    method: str = _spec("GET", choices=("GET", "HEAD"))
    expect_status: list[int] = field(default_factory=list)
    body_contains: str = ""
    follow_redirects: bool = False
    verify_tls: bool = True
    ca_file: str = ""
    sslmode: str = _spec("prefer", choices=("disable", "prefer", "require", "verify-full"))
    password_keyring: str = ""
    password_env: str = ""
    apikey_keyring: str = ""
    apikey_env: str = ""
    breaker: str = ""
    canary: bool = False
    critical: bool = True

    @property
    def password(self) -> SecretRef:
        return SecretRef(self.password_keyring or None, self.password_env or None)

    @property
    def apikey(self) -> SecretRef:
        return SecretRef(self.apikey_keyring or None, self.apikey_env or None)


@dataclass(frozen=True)
class RemoteSettings:
    """A remote netmon-compatible backend (``[[remotes]]``); the bearer token is a reference."""

    name: str
    url: str
    token_keyring: str = ""
    token_env: str = ""
    verify_tls: bool = True
    ca_file: str = ""
    timeout_s: float = _spec(10.0, min=0.1, max=600)
    interval_s: float = _spec(15.0, min=1, max=3600)  # the console polls its status this often

    @property
    def token(self) -> SecretRef:
        return SecretRef(self.token_keyring or None, self.token_env or None)


@dataclass(frozen=True)
class Config:
    """The whole configuration; ``source`` is the file it came from, if any."""

    monitor: MonitorSettings = field(default_factory=MonitorSettings)
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    targets: list[Target] = field(default_factory=list)
    remotes: list[RemoteSettings] = field(default_factory=list)
    source: Path | None = field(default=None, compare=False)

    def target(self, name: str) -> Target:
        """The target called ``name`` (KeyError when there is none)."""
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The TOML-able form: sections, then targets with only the fields that are set."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in ("targets", "remotes", "source"):
                continue
            out[f.name] = dataclasses.asdict(getattr(self, f.name))
        out["targets"] = [_target_dict(t) for t in self.targets]
        out["remotes"] = [dataclasses.asdict(r) for r in self.remotes]
        return out


def _target_dict(target: Target) -> dict[str, Any]:
    defaults = Target(name=target.name, kind=target.kind)
    data = dataclasses.asdict(target)
    return {
        k: v for k, v in data.items()
        if k in ("name", "kind") or (v != getattr(defaults, k) and v is not None)
    }
