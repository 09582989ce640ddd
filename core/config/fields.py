"""The small type-driven validator: a TOML table in, one config dataclass out.

Each dataclass is inspected once (``typing.get_type_hints`` is slow: once per target was
93 % of loading 10,000 targets) into a plan of per-field checkers. Errors name the field and
describe a wrong value by type and a masked preview (``describe_value``), never verbatim: a
secret pasted into the wrong field must not be printed.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
import types
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from typing import Any, Union, get_args, get_origin, get_type_hints

from ..errors import ConfigError
from ..secrets import is_secret_name

__all__ = ["build", "check_each", "describe_value", "literal_secret", "reject_unknown"]

# A checker gets (value, label, field name maker) and returns the value to store.
_Name = Callable[[], str]
_Check = Callable[[Any, str, _Name], Any]

_NUMBER_LIKE = re.compile(r"[+-]?[0-9][0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9]+)?")

# Which reference field replaces a literal secret, and the entry / variable to suggest.
_SECRET_BASES: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"password", "passwd", "pwd", "sslpassword"}), "password"),
    (frozenset({"token", "bearer", "access_token", "refresh_token", "id_token"}), "token"),
    (frozenset({"secret", "jwt_secret", "client_secret"}), "jwt_secret"),
)
_ENTRIES = {
    "password": ("db", "NETMON_DB_PASSWORD"),
    "token": ("remote-token", "NETMON_REMOTE_TOKEN"),
    "jwt_secret": ("jwt-secret", "NETMON_JWT_SECRET"),
    "apikey": ("apikey", "NETMON_APIKEY"),
}


def describe_value(value: Any) -> str:
    """``value``'s type and a masked preview: enough to spot a typo, too little to leak.

    Strings of up to 4 characters, and number-like strings of up to 6, are shown whole
    (``'8O80'``, ``'5432'``); longer ones by length and their first two characters.
    """
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        digits = str(abs(value))
        return f"an integer ({value})" if len(digits) <= 6 else (
            f"an integer of {len(digits)} digits")
    if isinstance(value, float):
        return f"a number ({value:g})" if len(f"{value:g}") <= 8 else "a number"
    if isinstance(value, str):
        if not value:
            return "an empty string"
        size = len(value)
        chars = f"{size} character{'s' if size != 1 else ''}"
        if size <= 4 or (size <= 6 and _NUMBER_LIKE.fullmatch(value)):
            return f"a string of {chars} ({value!r})".encode("ascii", "backslashreplace").decode()
        preview = repr(value[:2] + "...").encode("ascii", "backslashreplace").decode()
        return f"a string of {chars} ({preview})"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return "a date or time"
    return f"a {type(value).__name__}"  # pragma: no cover - TOML has no other types


def literal_secret(label: str, name: str, key: str, known: Sequence[str] = (),
                   *, what: str = "secrets are never stored in the config file") -> ConfigError:
    """The error for a secret written into the file, naming the reference field to use
    (``key``: the secret's name, e.g. ``password``; ``known``: the section's fields)."""
    want = next((base for keys, base in _SECRET_BASES if key.lower() in keys), "apikey")
    refs = [k.removesuffix("_keyring") for k in known if k.endswith("_keyring")]
    base = want if want in refs or not refs else refs[0]
    entry, env = _ENTRIES.get(base, (base, f"NETMON_{base.upper()}"))
    return ConfigError(
        f"{what}. Put it in the OS keyring (keyring set netmon {entry}) and name the entry: "
        f"{base}_keyring = \"netmon/{entry}\" (or {base}_env = \"{env}\" on a headless server)",
        path=label, field=name,
    )


def reject_unknown(table: Mapping[str, Any], known: Sequence[str] | frozenset[str],
                   label: str, where: str, order: Sequence[str] = ()) -> None:
    """``ConfigError`` for the first key of ``table`` that is not in ``known``."""
    for key in table:
        if key in known:
            continue
        listed = list(order or known)
        name = f"{where}.{key}" if where else key
        if is_secret_name(key):
            raise literal_secret(label, name, key, listed)
        close = difflib.get_close_matches(key, listed, n=1)
        fix = f"did you mean {close[0]!r}?" if close else "remove it"
        raise ConfigError(f"unknown setting; {fix}", path=label, field=name,
                          allowed=", ".join(listed))


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    fields: tuple[tuple[str, _Check], ...]
    known: frozenset[str]
    order: tuple[str, ...]


@functools.cache
def _plan(cls: type) -> _Plan:
    hints = get_type_hints(cls)
    fields = tuple((f.name, _checker(hints[f.name], f.metadata))
                   for f in dataclasses.fields(cls) if f.init)
    order = tuple(name for name, _ in fields)
    return _Plan(fields, frozenset(order), order)


def build(cls: type, table: Mapping[str, Any], label: str, where: str) -> Any:
    """An instance of dataclass ``cls`` from ``table``; ``ConfigError`` naming ``where``."""
    plan = _plan(cls)
    reject_unknown(table, plan.known, label, where, plan.order)
    values: dict[str, Any] = {}
    for name, check in plan.fields:
        if name in table:
            values[name] = check(table[name], label, lambda n=name: f"{where}.{n}")  # type: ignore[misc]
    return cls(**values)


def check_each(cls: type, table: Mapping[str, Any], label: str,
               where: str) -> dict[str, ConfigError]:
    """Every field of ``table`` checked as ``build`` would, all problems at once: key ->
    error (unknown keys included), for forms that show each field's problem beside it."""
    plan = _plan(cls)
    checks = dict(plan.fields)
    errors: dict[str, ConfigError] = {}
    for key, value in table.items():
        try:
            if key not in checks:
                reject_unknown({key: value}, plan.known, label, where, plan.order)
            else:
                checks[key](value, label, lambda k=key: f"{where}.{k}")  # type: ignore[misc]
        except ConfigError as exc:
            errors[key] = exc
    return errors


def _checker(hint: Any, meta: Mapping[str, Any]) -> _Check:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        (inner,) = [a for a in get_args(hint) if a is not type(None)]
        return _checker(inner, meta)
    if origin is list:
        (item,) = get_args(hint)
        return _list_checker(item, _checker(item, {}))
    if hint is bool:
        return _check_bool
    if hint in (int, float):
        return _number_checker(hint, meta.get("min"), meta.get("max"))
    if hint is str:
        return _str_checker(meta.get("choices"))
    raise AssertionError(f"unsupported config type {hint!r}")  # pragma: no cover


def _list_checker(item: type, check: _Check) -> _Check:
    def check_list(value: Any, label: str, name: _Name) -> Any:
        if not isinstance(value, list):
            raise ConfigError(f"must be a list of {item.__name__}, got {describe_value(value)}",
                              path=label, field=name())
        return [check(v, label, name) for v in value]
    return check_list


def _check_bool(value: Any, label: str, name: _Name) -> Any:
    if isinstance(value, bool):
        return value
    hint = ("; write true or false without quotes"
            if isinstance(value, str) and value.lower() in ("true", "false") else "")
    raise ConfigError(f"must be true or false, got {describe_value(value)}{hint}",
                      path=label, field=name())


def _number_checker(hint: type, low: float | None, high: float | None) -> _Check:
    kind = "a whole number" if hint is int else "a number"
    allowed = None if low is None and high is None else f"{low:g}..{high:g}"

    def check_number(value: Any, label: str, name: _Name) -> Any:
        if isinstance(value, bool) or not (
                isinstance(value, int) or (hint is float and isinstance(value, float))):
            quoted = isinstance(value, str) and _NUMBER_LIKE.fullmatch(value.strip())
            fix = "; write it without quotes" if quoted else ""
            raise ConfigError(f"must be {kind}, got {describe_value(value)}{fix}",
                              path=label, field=name(), allowed=allowed)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"must be finite, got {value!r}", path=label, field=name(),
                              allowed=allowed)
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(f"{value!r} is out of range", path=label, field=name(),
                              allowed=allowed)
        return hint(value)
    return check_number


def _str_checker(choices: tuple[str, ...] | None) -> _Check:
    def check_str(value: Any, label: str, name: _Name) -> Any:
        if not isinstance(value, str):
            raise ConfigError(f"must be a string, got {describe_value(value)}", path=label,
                              field=name())
        if "\x00" in value:
            raise ConfigError("must not contain NUL characters", path=label, field=name())
        if choices and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            fix = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{describe_value(value)} is not allowed{fix}", path=label,
                              field=name(), allowed=", ".join(choices))
        return value
    return check_str
