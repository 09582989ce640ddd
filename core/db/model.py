"""The database layer's vocabulary: mode, status, the "no pool" error and pool settings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..errors import ErrorKind, NetmonError

__all__ = ["DatabaseUnavailableError", "DbMode", "DbStatus", "PoolSettings"]


class DbMode(StrEnum):
    """How the layer runs: full pool, or the reduced emergency setup."""

    NORMAL = "normal"
    EMERGENCY = "emergency"


class DbStatus(StrEnum):
    """The database status reported in ``health()``."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"


class DatabaseUnavailableError(NetmonError):
    """No pool to run an operation on (emergency mode with nothing reachable, or closed)."""

    def __init__(self, message: str, *, kind: ErrorKind, target: str | None = None) -> None:
        super().__init__(message, target=target)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """One pool shape: sizes and the timeouts its connections use (seconds)."""

    min_size: int
    max_size: int
    connect_timeout: float  # one connection attempt
    acquire_timeout: float  # one wait for a connection (connecting included)
    command_timeout: float  # default budget of a whole operation
