"""netmon core: the asyncio resilience engine (no Qt here, ever).

Public names are re-exported lazily (a module ``__getattr__``, PEP 562): ``import core``
loads no submodule, and the first use of a name imports the module that defines it, so a
command or a panel pays only for what it uses. A test keeps ``__all__``, the table below
and the modules in step.
"""

from __future__ import annotations

import importlib

#: ``typing`` costs ~5 ms of imports that ``netmon --version`` need not pay; type checkers
#: treat any name ``TYPE_CHECKING`` as true.
TYPE_CHECKING = False
if TYPE_CHECKING:  # what type checkers and editors see; at run time, _WHERE below
    from typing import Any

    from .auth import AuthResult, AuthSource, ResilientAuthService
    from .backoff import Backoff, Jitter
    from .breaker import (
        BreakerState,
        BreakerStats,
        BreakerTransition,
        CircuitBreaker,
        counts_as_network_failure,
    )
    from .clock import Clock, SystemClock
    from .config import (
        AuthSettings,
        BreakerSettings,
        Config,
        DatabaseSettings,
        HistorySettings,
        LoggingSettings,
        MonitorSettings,
        RemoteSettings,
        RetrySettings,
        Target,
        config_path,
        load_config,
        parse_config,
        save_config,
    )
    from .db import DatabaseResilience, DatabaseUnavailableError
    from .diagnose import Diagnosis, diagnose
    from .errors import (
        NETWORK_KINDS,
        CircuitOpenError,
        ConfigError,
        ErrorKind,
        KindInfo,
        NetmonError,
        classify,
        http_status_for,
        is_network,
        kind_info,
    )
    from .events import Event
    from .history import AggregateRow, HistoryRow, HistoryStore, MemoryHistory
    from .log import redact, setup_logging
    from .monitor import Condition, HealthMonitor, StatusChange, TargetState, TargetStatus
    from .probes import ProbeContext, ProbeResult, make_probe
    from .recovery import ACTIONS, AuditEntry, Origin, RecoveryActions, suggest
    from .remote import RemoteBackend, RemoteResult, normalize_snapshot, resolve_remote
    from .retry import (
        STRATEGIES,
        Retrier,
        RetryAttempt,
        RetryPolicy,
        is_retryable,
        resilient,
        strategy,
    )
    from .runtime import NetmonCore
    from .secrets import SecretError, SecretRef
    from .status import Overall
    from .status import build as build_status
    from .tokens import AuthError, AuthReason, fingerprint

# public name -> "module" (or "module:name" when re-exported under another name)
_WHERE: dict[str, str] = {
    "AuthResult": "auth", "AuthSource": "auth", "ResilientAuthService": "auth",
    "Backoff": "backoff", "Jitter": "backoff",
    "BreakerState": "breaker", "BreakerStats": "breaker", "BreakerTransition": "breaker",
    "CircuitBreaker": "breaker", "counts_as_network_failure": "breaker",
    "Clock": "clock", "SystemClock": "clock",
    "AuthSettings": "config", "BreakerSettings": "config", "Config": "config",
    "DatabaseSettings": "config", "HistorySettings": "config", "LoggingSettings": "config",
    "MonitorSettings": "config", "RemoteSettings": "config", "RetrySettings": "config",
    "Target": "config", "config_path": "config", "load_config": "config", "parse_config": "config",
    "save_config": "config",
    "DatabaseResilience": "db", "DatabaseUnavailableError": "db",
    "Diagnosis": "diagnose", "diagnose": "diagnose",
    "CircuitOpenError": "errors", "ConfigError": "errors", "ErrorKind": "errors",
    "KindInfo": "errors", "NETWORK_KINDS": "errors", "NetmonError": "errors", "classify": "errors",
    "http_status_for": "errors", "is_network": "errors", "kind_info": "errors",
    "Event": "events",
    "AggregateRow": "history", "HistoryRow": "history", "HistoryStore": "history",
    "MemoryHistory": "history",
    "redact": "log", "setup_logging": "log",
    "Condition": "monitor", "HealthMonitor": "monitor", "StatusChange": "monitor",
    "TargetState": "monitor", "TargetStatus": "monitor",
    "ProbeContext": "probes", "ProbeResult": "probes", "make_probe": "probes",
    "ACTIONS": "recovery", "AuditEntry": "recovery", "Origin": "recovery",
    "RecoveryActions": "recovery", "suggest": "recovery",
    "RemoteBackend": "remote", "RemoteResult": "remote", "normalize_snapshot": "remote",
    "resolve_remote": "remote",
    "Retrier": "retry", "RetryAttempt": "retry", "RetryPolicy": "retry", "STRATEGIES": "retry",
    "is_retryable": "retry", "resilient": "retry", "strategy": "retry",
    "NetmonCore": "runtime",
    "SecretError": "secrets", "SecretRef": "secrets",
    "Overall": "status",
    "build_status": "status:build",
    "AuthError": "tokens", "AuthReason": "tokens", "fingerprint": "tokens",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attr = where.partition(":")
    value = getattr(importlib.import_module(f".{module}", __name__), attr or name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "ACTIONS",
    "NETWORK_KINDS",
    "STRATEGIES",
    "AggregateRow",
    "AuditEntry",
    "AuthError",
    "AuthReason",
    "AuthResult",
    "AuthSettings",
    "AuthSource",
    "Backoff",
    "BreakerSettings",
    "BreakerState",
    "BreakerStats",
    "BreakerTransition",
    "CircuitBreaker",
    "CircuitOpenError",
    "Clock",
    "Condition",
    "Config",
    "ConfigError",
    "DatabaseResilience",
    "DatabaseSettings",
    "DatabaseUnavailableError",
    "Diagnosis",
    "ErrorKind",
    "Event",
    "HealthMonitor",
    "HistoryRow",
    "HistorySettings",
    "HistoryStore",
    "Jitter",
    "KindInfo",
    "LoggingSettings",
    "MemoryHistory",
    "MonitorSettings",
    "NetmonCore",
    "NetmonError",
    "Origin",
    "Overall",
    "ProbeContext",
    "ProbeResult",
    "RecoveryActions",
    "RemoteBackend",
    "RemoteResult",
    "RemoteSettings",
    "ResilientAuthService",
    "Retrier",
    "RetryAttempt",
    "RetryPolicy",
    "RetrySettings",
    "SecretError",
    "SecretRef",
    "StatusChange",
    "SystemClock",
    "Target",
    "TargetState",
    "TargetStatus",
    "build_status",
    "classify",
    "config_path",
    "counts_as_network_failure",
    "diagnose",
    "fingerprint",
    "http_status_for",
    "is_network",
    "is_retryable",
    "kind_info",
    "load_config",
    "make_probe",
    "normalize_snapshot",
    "parse_config",
    "redact",
    "resilient",
    "resolve_remote",
    "save_config",
    "setup_logging",
    "strategy",
    "suggest",
]
