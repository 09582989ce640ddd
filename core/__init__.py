"""netmon core: the asyncio resilience engine (no Qt here, ever).

Public names are re-exported below; a test keeps ``__all__`` and the modules in step.
"""

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
from .retry import STRATEGIES, Retrier, RetryAttempt, RetryPolicy, is_retryable, resilient, strategy
from .runtime import NetmonCore
from .secrets import SecretError, SecretRef
from .status import Overall
from .status import build as build_status
from .tokens import AuthError, AuthReason, fingerprint

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
