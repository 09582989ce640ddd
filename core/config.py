"""Typed configuration: TOML in, validated dataclasses out, atomic TOML save.

Where the file is: ``--config PATH``, else ``$NETMON_CONFIG``, else ``netmon.toml`` in the
platformdirs user config folder. A missing default file means the embedded defaults
(``resources/default_config.toml``, also the starter file ``netmon config init`` writes:
the dataclass defaults, a test keeps them equal, plus targets watching this machine's
network).
Every problem raises ``ConfigError`` naming the file, the field and what is allowed.
Secrets are never values here: ``password_keyring = "netmon/db"`` or
``password_env = "NETMON_DB_PASSWORD"``; a literal secret is rejected with the fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import tempfile
import tomllib
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

import platformdirs
import tomlkit

from .errors import ConfigError
from .secrets import SecretRef

__all__ = [
    "RESOLVER_MODES",
    "TARGET_KINDS",
    "AuthSettings",
    "BreakerSettings",
    "Config",
    "DatabaseSettings",
    "HistorySettings",
    "LoggingSettings",
    "MonitorSettings",
    "RemoteSettings",
    "RetrySettings",
    "ServiceSettings",
    "Target",
    "config_path",
    "default_config_text",
    "is_http_url",
    "load_config",
    "parse_config",
    "save_config",
]

APP_NAME = "netmon"
TARGET_KINDS = ("dns", "tcp", "http", "postgres", "supabase")
#: Which answers decide a dns target: the OS resolver, the nameservers asked directly, or
#: the OS resolver with the direct answers beside it (partial answers are "degraded").
RESOLVER_MODES = ("both", "os", "direct")


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


@dataclass(frozen=True)
class LoggingSettings:
    """Console and rotating-file logging."""

    level: str = _spec("INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    file: bool = True


@dataclass(frozen=True)
class HistorySettings:
    """Where probe history is kept (empty path: the platformdirs data folder)."""

    enabled: bool = True
    path: str = ""


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


_REQUIRED_BY_KIND: dict[str, tuple[str, ...]] = {
    "dns": ("host",),
    "tcp": ("host", "port"),
    "http": ("url",),
    "postgres": ("dsn|host",),
    "supabase": ("url",),
}

# Keys that would hold a secret's value. The fix: keep it in keyring, name the entry.
_SECRET_KEYS = re.compile(
    r"^(password|passwd|pwd|secret|token|bearer|apikey|api_key|key|jwt_secret|"
    r"service_role_key|anon_key|access_token|refresh_token)$",
    re.IGNORECASE,
)


def _target_dict(target: Target) -> dict[str, Any]:
    defaults = Target(name=target.name, kind=target.kind)
    data = dataclasses.asdict(target)
    return {
        k: v for k, v in data.items()
        if k in ("name", "kind") or (v != getattr(defaults, k) and v is not None)
    }


# --- locating and loading ---------------------------------------------------------------
def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit``, else ``$NETMON_CONFIG``, else the per-user default location."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("NETMON_CONFIG")
    if env:
        return Path(env)
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "netmon.toml"


def default_config_text() -> str:
    """The embedded default configuration, with its comments."""
    return resources.files("resources").joinpath("default_config.toml").read_text("utf-8")


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate the config; the implicit default location may be absent."""
    explicit = path is not None or bool(os.environ.get("NETMON_CONFIG"))
    where = config_path(path)
    if not where.exists():
        if explicit:
            raise ConfigError(
                "file not found; create it (copy the defaults with `netmon config init`) "
                "or fix the path", path=str(where),
            )
        return parse_config(default_config_text(), source=None)
    if where.is_dir():
        raise ConfigError("is a folder, not a TOML file", path=str(where))
    try:
        raw = where.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", path=str(where)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", path=str(where)
        ) from None
    return parse_config(text, source=where)


def parse_config(text: str, *, source: Path | None = None) -> Config:
    """Validate TOML ``text`` into a ``Config``; ``ConfigError`` on any problem."""
    label = str(source) if source else "<config>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=label) from None
    sections: dict[str, Any] = {}
    hints = get_type_hints(Config)
    _reject_unknown(data, [f.name for f in dataclasses.fields(Config) if f.name != "source"],
                    label, "")
    for f in dataclasses.fields(Config):
        if f.name in ("targets", "remotes", "source"):
            continue
        table = data.get(f.name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"must be a table [{f.name}]", path=label, field=f.name)
        sections[f.name] = _build(hints[f.name], table, label, f.name)
    targets = _build_targets(data.get("targets", []), label)
    remotes = _build_remotes(data.get("remotes", []), label)
    db_target = sections["database"].target
    if db_target and not any(t.name == db_target and t.kind == "postgres" for t in targets):
        names = [t.name for t in targets if t.kind == "postgres"]
        raise ConfigError(f"{db_target!r} is not a postgres target", path=label,
                          field="database.target", allowed=", ".join(names) or "none defined")
    return Config(**sections, targets=targets, remotes=remotes, source=source)


def _build_named(raw: Any, label: str, section: str, cls: Any, noun: str,
                 required: Mapping[str, str | None]) -> list[tuple[Any, str]]:
    """An array of tables (``[[targets]]``, ``[[remotes]]``): each built, with a
    non-empty, unique ``name``; ``required`` maps required keys to what is allowed."""
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise ConfigError(f"must be an array of tables [[{section}]]", path=label,
                          field=section)
    built: list[tuple[Any, str]] = []
    seen: set[str] = set()
    for i, table in enumerate(raw):
        where = f"{section}[{i}]"
        if "name" in table and isinstance(table["name"], str):
            where = f"{section}[{i}] ({table['name']})"
        for key, allowed in required.items():
            if key not in table:
                raise ConfigError("is required", path=label, field=f"{where}.{key}",
                                  allowed=allowed)
        item = _build(cls, table, label, where)
        if not item.name.strip():
            raise ConfigError("must not be empty", path=label, field=f"{where}.name")
        if item.name in seen:
            raise ConfigError(f"duplicate {noun} name {item.name!r}; names must be unique",
                              path=label, field=f"{where}.name")
        seen.add(item.name)
        built.append((item, where))
    return built


def _build_targets(raw: Any, label: str) -> list[Target]:
    targets: list[Target] = []
    for target, where in _build_named(raw, label, "targets", Target, "target",
                                      {"name": None, "kind": ", ".join(TARGET_KINDS)}):
        _check_target(target, label, where)
        targets.append(target)
    return targets


def _build_remotes(raw: Any, label: str) -> list[RemoteSettings]:
    remotes: list[RemoteSettings] = []
    for remote, where in _build_named(raw, label, "remotes", RemoteSettings, "remote",
                                      {"name": None, "url": None}):
        if not is_http_url(remote.url):
            raise ConfigError(f"{remote.url!r} is not an http(s) URL with a host", path=label,
                              field=f"{where}.url", allowed="http://host[:port], https://...")
        parts = urlsplit(remote.url)
        if parts.username or parts.password or re.search(
                r"(^|[?&])(token|access_token|apikey|api_key)=", parts.query, re.IGNORECASE):
            raise ConfigError(
                "credentials never go in the URL. Put the bearer token in the OS keyring "
                "(keyring set netmon remote-token) and name the entry: token_keyring = "
                "\"netmon/remote-token\" (or token_env = \"NETMON_REMOTE_TOKEN\")",
                path=label, field=f"{where}.url")
        remotes.append(remote)
    return remotes


def is_http_url(url: str) -> bool:
    """True for an ``http://`` or ``https://`` URL with a host."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _check_target(t: Target, label: str, where: str) -> None:
    for need in _REQUIRED_BY_KIND[t.kind]:
        options = need.split("|")
        if not any(getattr(t, o) for o in options):
            raise ConfigError(f"is required for kind {t.kind!r}", path=label,
                              field=f"{where}.{' or '.join(options)}")
    if t.url:
        if not is_http_url(t.url):
            raise ConfigError(f"{t.url!r} is not an http(s) URL with a host", path=label,
                              field=f"{where}.url", allowed="http://host[:port]/path, https://...")
        parts = urlsplit(t.url)
        if parts.password:
            raise _literal_secret(label, f"{where}.url", "password")
    if t.dsn:
        parts = urlsplit(t.dsn)
        if parts.scheme not in ("postgres", "postgresql"):
            raise ConfigError(f"{t.dsn!r} is not a PostgreSQL URL", path=label,
                              field=f"{where}.dsn", allowed="postgresql://user@host:5432/db")
        if parts.password or re.search(r"(^|[?&])password=", parts.query):
            raise _literal_secret(label, f"{where}.dsn", "password")
    for ns in t.nameservers:
        if not _valid_nameserver(ns):
            raise ConfigError(f"{ns!r} is not a nameserver address", path=label,
                              field=f"{where}.nameservers",
                              allowed="IPv4 or IPv6 address, optionally IPv4:port or [IPv6]:port")
    if t.kind == "dns" and t.resolver == "direct" and not (t.nameservers
                                                          or t.system_nameservers):
        raise ConfigError("asks no nameserver directly", path=label, field=f"{where}.resolver",
                          allowed='list nameservers, set system_nameservers = true, or use '
                                  'resolver = "os" or "both"')
    for code in t.expect_status:
        if not 100 <= code <= 599:
            raise ConfigError(f"{code} is not an HTTP status", path=label,
                              field=f"{where}.expect_status", allowed="100..599")
    for rtype in t.record_types:
        if rtype not in ("A", "AAAA"):
            raise ConfigError(f"{rtype!r} is not supported", path=label,
                              field=f"{where}.record_types", allowed="A, AAAA")


def _valid_nameserver(text: str) -> bool:
    import ipaddress

    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        if rest and port is None:
            return False
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return port is None or (port.isdigit() and 0 < int(port) < 65536)


# --- the small type-driven validator ---------------------------------------------------
def _reject_unknown(table: dict[str, Any], known: list[str], label: str, where: str) -> None:
    for key in table:
        if key in known:
            continue
        name = f"{where}.{key}" if where else key
        if _SECRET_KEYS.match(key):
            raise _literal_secret(label, name, key, known)
        close = difflib.get_close_matches(key, known, n=1)
        fix = f"did you mean {close[0]!r}?" if close else "remove it"
        raise ConfigError(f"unknown setting; {fix}", path=label, field=name,
                          allowed=", ".join(known))


_SECRET_BASES: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"password", "passwd", "pwd"}), "password"),
    (frozenset({"token", "bearer", "access_token", "refresh_token"}), "token"),
    (frozenset({"secret", "jwt_secret"}), "jwt_secret"),
)


def _literal_secret(label: str, name: str, key: str, known: Sequence[str] = ()) -> ConfigError:
    """The error for a secret written into the file, naming the reference field to use."""
    want = next((base for keys, base in _SECRET_BASES if key.lower() in keys), "apikey")
    refs = [k.removesuffix("_keyring") for k in known if k.endswith("_keyring")]
    base = want if want in refs or not refs else refs[0]
    return ConfigError(
        "secrets are never stored in the config file. Put it in the OS keyring "
        f"(keyring set netmon {base}) and name the entry: {base}_keyring = \"netmon/{base}\" "
        f"(or {base}_env = \"NETMON_{base.upper()}\" on a headless server)",
        path=label, field=name,
    )


def _build(cls: Any, table: dict[str, Any], label: str, where: str) -> Any:
    fields = [f for f in dataclasses.fields(cls)]
    _reject_unknown(table, [f.name for f in fields], label, where)
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields:
        if f.name not in table:
            continue
        values[f.name] = _coerce(table[f.name], hints[f.name], f.metadata, label,
                                 f"{where}.{f.name}")
    return cls(**values)


def _coerce(value: Any, hint: Any, meta: Any, label: str, name: str) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(hint) if a is not type(None)]
        return _coerce(value, inner[0], meta, label, name)
    if origin is list:
        (item,) = get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"must be a list of {item.__name__}", path=label, field=name)
        return [_coerce(v, item, {}, label, name) for v in value]
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError("must be true or false", path=label, field=name)
        return value
    if hint in (int, float):
        ok = isinstance(value, int) or (hint is float and isinstance(value, float))
        if isinstance(value, bool) or not ok:
            kind = "a whole number" if hint is int else "a number"
            raise ConfigError(f"must be {kind}, got {value!r}", path=label, field=name,
                              allowed=_range(meta))
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"must be finite, got {value!r}", path=label, field=name,
                              allowed=_range(meta))
        low, high = meta.get("min"), meta.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(f"{value!r} is out of range", path=label, field=name,
                              allowed=_range(meta))
        return hint(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"must be a string, got {value!r}", path=label, field=name)
        if "\x00" in value:
            raise ConfigError("must not contain NUL characters", path=label, field=name)
        choices = meta.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{value!r} is not allowed", path=label, field=name,
                              allowed=", ".join(choices))
        return value
    raise AssertionError(f"unsupported config type {hint!r}")  # pragma: no cover


def _range(meta: Any) -> str | None:
    low, high = meta.get("min"), meta.get("max")
    if low is None and high is None:
        return None
    return f"{low:g}..{high:g}"


# --- saving ----------------------------------------------------------------------------
def save_config(config: Config, path: str | os.PathLike[str]) -> Path:
    """Write ``config`` atomically (temp file + replace), keeping comments already there."""
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
