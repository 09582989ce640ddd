"""Loading: read the file, parse TOML, validate every section, target and remote.

Every problem raises ``ConfigError`` naming the file, the field and the fix, on one line,
and never repeats a value that could be a secret (see ``fields.describe_value``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .dsn import DsnError, parse_dsn
from .fields import build, check_each, describe_value, literal_secret, reject_unknown
from .location import config_path, default_config_text
from .model import (
    FORWARD_NAME,
    TARGET_KINDS,
    Config,
    HistorySettings,
    NotificationSettings,
    RemoteSettings,
    Target,
    forward_entry,
    forward_env,
)
from .urls import is_http_url, url_has_credentials

__all__ = ["load_config", "parse_config", "validate_section", "validate_target"]

_SECTIONS = tuple(f.name for f in dataclasses.fields(Config)
                  if f.name not in ("targets", "remotes", "source"))
_SECTION_TYPES = {f.name: f.default_factory for f in dataclasses.fields(Config)
                  if f.name in _SECTIONS}
_TOP_LEVEL = frozenset((*_SECTIONS, "targets", "remotes"))

_REQUIRED_BY_KIND: dict[str, tuple[str, ...]] = {
    "dns": ("host",),
    "tcp": ("host", "port"),
    "http": ("url",),
    "postgres": ("dsn|host",),
    "supabase": ("url",),
    "icmp": ("host",),
    "gateway": (),
}
_CREDENTIALS_IN_URL = "credentials never go in the URL; secrets are never stored in the config file"


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
    except RecursionError:
        raise ConfigError("not usable TOML: arrays or inline tables nested too deeply; "
                          "flatten them", path=label) from None
    reject_unknown(data, _TOP_LEVEL, label, "", (*_SECTIONS, "targets", "remotes"))
    sections: dict[str, Any] = {}
    for name in _SECTIONS:
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"must be a table [{name}], got {describe_value(table)}",
                              path=label, field=name)
        sections[name] = build(_SECTION_TYPES[name], table, label, name)  # type: ignore[arg-type]
    targets = _build_targets(data.get("targets", []), label)
    remotes = _build_remotes(data.get("remotes", []), label)
    _check_sections(sections, targets, label)
    return Config(**sections, targets=targets, remotes=remotes, source=source)


def _check_history(history: HistorySettings, label: str) -> None:
    """Each tier kept at least as long as the finer one it is rolled up from."""
    if history.minute_days * 24 < history.raw_hours:
        raise ConfigError(f"{history.minute_days:g} days is shorter than raw_hours "
                          f"({history.raw_hours:g} h); keep 1-minute rollups at least as "
                          "long as raw results", path=label, field="history.minute_days")
    if history.hour_days < history.minute_days:
        raise ConfigError(f"{history.hour_days:g} days is shorter than minute_days "
                          f"({history.minute_days:g}); keep 1-hour rollups at least as long "
                          "as 1-minute rollups", path=label, field="history.hour_days")


def _check_notifications(notifications: NotificationSettings, label: str) -> None:
    """``forward`` names keyring entries, never URLs: an apprise URL may carry a token in
    its host or path (``tgram://bottoken/chat``), which no check can tell from a host."""
    field = "notifications.forward"
    envs: dict[str, str] = {}  # environment variable -> the destination it serves
    for name in notifications.forward:
        if "://" in name or ":" in name or "@" in name:
            what = ("credentials never go in the config file" if url_has_credentials(name)
                    else "a destination URL may carry a token in its host or path "
                         "(tgram://bottoken/chat), so URLs are kept out of the config file")
            raise ConfigError(
                f"{describe_value(name)} is a URL: {what}. Store the URL in the OS keyring "
                "under a name (Settings > Notifications > Add, or: keyring set "
                f"{forward_entry('')[:-1]} NAME; without a keyring, in the environment "
                "variable NETMON_FORWARD_NAME) and list the name: forward = [\"NAME\"]",
                path=label, field=field)
        if not FORWARD_NAME.fullmatch(name):
            raise ConfigError(f"{describe_value(name)} is not a destination name", path=label,
                              field=field, allowed="letters, digits, '.', '_' or '-' (up to "
                                                   "64), starting with a letter or digit")
        env = forward_env(name)
        if envs.get(env) == name:
            raise ConfigError(f"{name!r} is listed twice; list each destination once",
                              path=label, field=field)
        if env in envs:
            raise ConfigError(f"{envs[env]!r} and {name!r} would share the environment "
                              f"variable {env}; rename one", path=label, field=field)
        envs[env] = name


#: Checks across the fields of one section, shared by ``parse_config`` and
#: ``validate_section``.
_SECTION_CHECKS: dict[str, Any] = {"history": _check_history,
                                   "notifications": _check_notifications}


def _check_sections(sections: Mapping[str, Any], targets: list[Target], label: str) -> None:
    for name, check in _SECTION_CHECKS.items():
        check(sections[name], label)
    auth, database = sections["auth"], sections["database"]
    if auth.supabase_url:
        _check_url(auth.supabase_url, label, "auth.supabase_url", dataclasses.fields(auth))
    if database.pool_min > database.pool_max:
        raise ConfigError(f"{database.pool_min} is more than pool_max ({database.pool_max}); "
                          "make pool_min <= pool_max", path=label, field="database.pool_min")
    if database.target and not any(
            t.name == database.target and t.kind == "postgres" for t in targets):
        names = [t.name for t in targets if t.kind == "postgres"]
        raise ConfigError(f"{describe_value(database.target)} is not a postgres target",
                          path=label, field="database.target",
                          allowed=", ".join(names) or "none defined")


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
        item = build(cls, table, label, where)
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


_REMOTE_FIELDS = dataclasses.fields(RemoteSettings)
_TARGET_FIELDS = dataclasses.fields(Target)


def _build_remotes(raw: Any, label: str) -> list[RemoteSettings]:
    remotes: list[RemoteSettings] = []
    for remote, where in _build_named(raw, label, "remotes", RemoteSettings, "remote",
                                      {"name": None, "url": None}):
        _check_url(remote.url, label, f"{where}.url", _REMOTE_FIELDS)
        remotes.append(remote)
    return remotes


def _check_url(url: str, label: str, name: str, fields: Any) -> None:
    """The one check for every URL field: http(s) with a host, and no credentials in it
    (the fix names the section's own ``*_keyring`` field)."""
    if url_has_credentials(url):
        known = [f.name for f in fields]
        secret = "token" if "token_keyring" in known else "apikey"
        raise literal_secret(label, name, secret, known, what=_CREDENTIALS_IN_URL)
    if not is_http_url(url):
        raise ConfigError(f"{describe_value(url)} is not an http(s) URL with a host",
                          path=label, field=name, allowed="http://host[:port]/path, https://...")


def _check_target(t: Target, label: str, where: str) -> None:
    for need in _REQUIRED_BY_KIND[t.kind]:
        options = need.split("|")
        if not any(getattr(t, o) for o in options):
            raise ConfigError(f"is required for kind {t.kind!r}", path=label,
                              field=f"{where}.{' or '.join(options)}")
    if t.url:
        _check_url(t.url, label, f"{where}.url", _TARGET_FIELDS)
    if t.dsn:
        try:
            parse_dsn(t.dsn)
        except DsnError as exc:
            raise ConfigError(str(exc), path=label, field=f"{where}.dsn") from None
    for ns in t.nameservers:
        if not _valid_nameserver(ns):
            raise ConfigError(f"{describe_value(ns)} is not a nameserver address", path=label,
                              field=f"{where}.nameservers",
                              allowed="IPv4 or IPv6 address, optionally IPv4:port or [IPv6]:port")
    for address in t.expect_addresses:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ConfigError(f"{address!r} is not an IP address", path=label,
                              field=f"{where}.expect_addresses",
                              allowed='IPv4 or IPv6 addresses, e.g. ["131.107.255.255"]'
                              ) from None
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
            raise ConfigError(f"{describe_value(rtype)} is not supported", path=label,
                              field=f"{where}.record_types", allowed="A, AAAA")


def validate_target(table: Mapping[str, Any], *, taken: Iterable[str] = ()) -> dict[str, str]:
    """The problems of one ``[[targets]]`` table as field -> message, by the rules and in
    the words ``load_config`` uses (empty when the target is valid). ``taken``: the other
    targets' names. For editors that show each problem beside its field (no Qt here)."""
    errors = {key: _message(exc) for key, exc in check_each(Target, table, "", "target").items()}
    for key, allowed in (("name", None), ("kind", ", ".join(TARGET_KINDS))):
        if key not in table and key not in errors:
            errors[key] = _message(ConfigError("is required", field=key, allowed=allowed))
    if errors:
        return errors
    target = build(Target, table, "", "target")
    if not target.name.strip():
        return {"name": "must not be empty"}
    if target.name in set(taken):
        return {"name": f"duplicate target name {target.name!r}; names must be unique"}
    try:
        _check_target(target, "", "target")
    except ConfigError as exc:
        field = (exc.field or "target.name").removeprefix("target.")
        return {field.split(" or ")[0]: _message(exc)}
    return {}


def validate_section(section: str, table: Mapping[str, Any]) -> dict[str, str]:
    """The problems of one settings table (``monitor``, ``breaker``...) as field -> message,
    in the words ``load_config`` uses (empty when valid)."""
    kind: Any = _SECTION_TYPES[section]
    errors = {key: _message(exc) for key, exc in check_each(kind, table, "", section).items()}
    check = _SECTION_CHECKS.get(section)
    if errors or check is None:
        return errors
    try:
        check(build(kind, table, "", section), "")
    except ConfigError as exc:
        return {(exc.field or section).removeprefix(f"{section}."): _message(exc)}
    return {}


def _message(exc: ConfigError) -> str:
    """The error's text without its file and field (the form shows where it is)."""
    return str(exc).removeprefix(f"{exc.field}: ") if exc.field else str(exc)


def _valid_nameserver(text: str) -> bool:
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
