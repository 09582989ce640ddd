"""Secrets by reference: a keyring entry (``"netmon/db"``) or an environment variable.

Config files name where a secret lives, never the secret. A keyring entry
``"service/user"`` is looked up as ``keyring.get_password("service", "user")``; an entry
without a slash is a user of the ``netmon`` service. ``keyring`` (with its plug-in scan, tens
of milliseconds) is imported on the first lookup, not with this module.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from .errors import NetmonError

__all__ = [
    "SECRET_NAMES",
    "SecretError",
    "SecretRef",
    "is_secret_name",
    "keyring_address",
    "store_secret",
]

DEFAULT_SERVICE = "netmon"

#: Names under which a secret's value is written: config keys, URL query parameters,
#: DSN keywords, JSON fields. Config refuses them; ``core.log.redact`` masks their values.
SECRET_NAMES = (
    "password", "passwd", "pwd", "sslpassword", "secret", "client_secret", "jwt_secret",
    "token", "bearer", "access_token", "refresh_token", "id_token", "apikey", "api_key",
    "api-key", "key", "service_role_key", "anon_key",
)
_SECRET_NAME = re.compile("|".join(re.escape(n) for n in SECRET_NAMES), re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """True when ``name`` (any case) is one of ``SECRET_NAMES``."""
    return _SECRET_NAME.fullmatch(name) is not None


class SecretError(NetmonError):
    """A referenced secret could not be read; the message says where to put it."""


def keyring_address(entry: str) -> tuple[str, str]:
    """``"netmon/db"`` -> ``("netmon", "db")``; ``"db"`` -> ``("netmon", "db")``."""
    service, sep, user = entry.rpartition("/")
    if not sep:
        return DEFAULT_SERVICE, entry
    return service or DEFAULT_SERVICE, user


def store_secret(entry: str, value: str) -> None:
    """Save ``value`` in the OS keyring under ``entry``."""
    import keyring

    service, user = keyring_address(entry)
    keyring.set_password(service, user, value)


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where one secret lives: a keyring entry, an environment variable, or both."""

    keyring: str | None = None
    env: str | None = None

    def __bool__(self) -> bool:
        return bool(self.keyring or self.env)

    def describe(self) -> str:
        """Where the secret is looked for, for messages (never the value)."""
        parts = []
        if self.keyring:
            parts.append(f"keyring entry '{self.keyring}'")
        if self.env:
            parts.append(f"environment variable {self.env}")
        return " or ".join(parts) or "nowhere (no *_keyring or *_env set)"

    def get(self) -> str | None:
        """The secret, or None when neither place holds it (the keyring is tried first)."""
        found = self.find()
        return found[0] if found is not None else None

    def find(self) -> tuple[str, str] | None:
        """The secret and where it was found (``"keyring entry 'netmon/db'"`` or
        ``"environment variable NETMON_DB_PASSWORD"``), or None. The keyring is tried first;
        the environment variable serves when it holds nothing or no keyring backend exists
        (a service account on a headless server)."""
        if self.keyring:
            import keyring
            from keyring.errors import KeyringError

            service, user = keyring_address(self.keyring)
            try:
                value = keyring.get_password(service, user)
            except KeyringError:
                value = None
            if value:
                return value, f"keyring entry '{self.keyring}'"
        if self.env and (value := os.environ.get(self.env)):
            return value, f"environment variable {self.env}"
        return None

    def require(self) -> str:
        """The secret, or ``SecretError`` saying how to store it."""
        value = self.get()
        if value is None:
            hint = (
                f"store it with: keyring set {' '.join(keyring_address(self.keyring))}"
                if self.keyring else "set the environment variable"
            )
            raise SecretError(f"secret not found in {self.describe()}; {hint}")
        return value
